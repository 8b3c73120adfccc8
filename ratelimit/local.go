package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Local counts uses in memory: exact for one process.
type Local struct {
	shards [64]localShard
}

type localShard struct {
	mu   sync.Mutex
	keys map[string]*counts
}

// counts are a key's uses in its current window and the one before it.
type counts struct {
	period    time.Duration
	start     time.Time // of the current window
	prev, cur int64
}

// roll moves c to the window that starts at start, for a limit of period.
func (c *counts) roll(period time.Duration, start time.Time) {
	switch {
	case c.period != period:
		*c = counts{period: period, start: start}
	case start.Equal(c.start):
	case start.Equal(c.start.Add(period)):
		c.start, c.prev, c.cur = start, c.cur, 0
	case start.After(c.start):
		c.start, c.prev, c.cur = start, 0, 0
	}
}

// maxLocalKeys bounds a shard's keys: past it, keys whose windows have ended are forgotten.
const maxLocalKeys = 1 << 14

var seed = maphash.MakeSeed()

// NewLocal returns an empty in-memory limiter.
func NewLocal() *Local {
	l := &Local{}
	for i := range l.shards {
		l.shards[i].keys = map[string]*counts{}
	}
	return l
}

func hashKey(key string) uint64 { return maphash.String(seed, key) }

func (l *Local) shard(key string) *localShard {
	return &l.shards[hashKey(key)%uint64(len(l.shards))]
}

// Take implements Limiter.
func (l *Local) Take(_ context.Context, key string, lim Limit, cost int64, now time.Time) (Decision, error) {
	start, elapsed := window(lim, now)
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.keys[key]
	if c == nil {
		if len(s.keys) >= maxLocalKeys {
			s.sweep(now)
		}
		c = &counts{period: lim.Period, start: start}
		s.keys[key] = c
	}
	c.roll(lim.Period, start)
	if start.Before(c.start) {
		// The use read the clock before another moved the key to a later window: it is judged
		// at that window's start, where the last window weighs most.
		start, elapsed = c.start, 0
	}
	avail := available(lim, c.prev, c.cur, elapsed)
	if cost <= avail {
		c.cur += cost
		return Decision{OK: true, Limit: lim.Limit, Remaining: avail - cost, ResetAt: start.Add(lim.Period)}, nil
	}
	return Decision{Limit: lim.Limit, Remaining: avail, ResetAt: resetAt(lim, start, c.prev, c.cur, cost, cost)}, nil
}

// Return implements Limiter.
func (l *Local) Return(key string, lim Limit, cost int64, now time.Time) {
	start, _ := window(lim, now)
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.keys[key]; c != nil && c.period == lim.Period && c.start.Equal(start) {
		c.cur = max(0, c.cur-cost)
	}
}

// sweep forgets keys whose last window ended a whole period ago: they count nothing any more.
func (s *localShard) sweep(now time.Time) {
	for k, c := range s.keys {
		if !now.Before(c.start.Add(2 * c.period)) {
			delete(s.keys, k)
		}
	}
}
