package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Store keeps the windows' counts that processes lease from.
type Store interface {
	// TakeRateWindow reads the count of key's window that starts at start and of the one at
	// prevStart, asks take how much to add to the first given both, adds it and returns the
	// counts take saw, all in one transaction that holds the window against every other
	// taker, on any process.
	TakeRateWindow(ctx context.Context, key string, start, prevStart time.Time, take func(prev, cur int64) int64) (prev, cur int64, err error)
}

// LeaseShare is the part of what is available that one lease takes (besides what the use
// itself needs): small enough that processes share a window evenly and little is stranded
// when it ends, large enough that a busy key goes to the database once every several uses.
const LeaseShare = 16

// Leased admits uses from leases on windows kept in a Store, so that every process sharing
// the store together admits no more than one process would. A process goes to the store only
// when its lease runs out: once every few uses of a busy key, and not again before the
// window can admit anything once it was refused.
type Leased struct {
	store  Store
	shards [64]leasedShard
}

type leasedShard struct {
	mu   sync.Mutex
	keys map[string]*lease
}

// lease is what one process holds of a key's current window.
type lease struct {
	mu     sync.Mutex // held while leasing: one lease in flight per key and process
	period time.Duration
	start  time.Time
	have   int64 // leased and not used yet
	// prev and cur are the window's counts as last seen in the store, with every lease.
	prev, cur int64
	// refusedUntil, after a lease was refused, is the instant before which none can succeed:
	// counts in the store only grow within a window.
	refusedUntil time.Time
}

// NewLeased returns a limiter leasing from store.
func NewLeased(store Store) *Leased {
	l := &Leased{store: store}
	for i := range l.shards {
		l.shards[i].keys = map[string]*lease{}
	}
	return l
}

func (l *Leased) lease(key string, now time.Time) *lease {
	s := &l.shards[hashKey(key)%uint64(len(l.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.keys[key]
	if ls == nil {
		if len(s.keys) >= maxLocalKeys {
			for k, old := range s.keys {
				if old.mu.TryLock() {
					if !now.Before(old.start.Add(old.period)) {
						delete(s.keys, k)
					}
					old.mu.Unlock()
				}
			}
		}
		ls = &lease{}
		s.keys[key] = ls
	}
	return ls
}

// Take implements Limiter.
func (l *Leased) Take(ctx context.Context, key string, lim Limit, cost int64, now time.Time) (Decision, error) {
	start, frac := window(lim, now)
	ls := l.lease(key, now)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.period != lim.Period || !ls.start.Equal(start) {
		// A new window: what was leased of the last one counted there, and is gone.
		ls.period, ls.start, ls.have, ls.prev, ls.cur, ls.refusedUntil = lim.Period, start, 0, 0, 0, time.Time{}
	}
	if ls.have >= cost {
		ls.have -= cost
		return Decision{OK: true, Limit: lim.Limit, Remaining: ls.have + available(lim, ls.prev, ls.cur, frac), ResetAt: start.Add(lim.Period)}, nil
	}
	if now.Before(ls.refusedUntil) {
		return Decision{Limit: lim.Limit, Remaining: ls.have, ResetAt: ls.refusedUntil}, nil
	}
	need := cost - ls.have
	var taken int64
	prev, cur, err := l.store.TakeRateWindow(ctx, key, start, start.Add(-lim.Period), func(prev, cur int64) int64 {
		avail := available(lim, prev, cur, frac)
		if avail < need {
			return 0
		}
		taken = min(avail, max(need, int64(math.Ceil(float64(avail)/LeaseShare))))
		return taken
	})
	if err != nil {
		return Decision{}, err
	}
	ls.prev, ls.cur = prev, cur+taken
	if taken == 0 {
		ls.refusedUntil = resetAt(lim, start, prev, cur, need, false)
		return Decision{Limit: lim.Limit, Remaining: ls.have + available(lim, prev, cur, frac), ResetAt: ls.refusedUntil}, nil
	}
	ls.have += taken - cost
	return Decision{OK: true, Limit: lim.Limit, Remaining: ls.have + available(lim, ls.prev, ls.cur, frac), ResetAt: start.Add(lim.Period)}, nil
}

// Return implements Limiter: the cost goes back to this process's lease.
func (l *Leased) Return(key string, lim Limit, cost int64, now time.Time) {
	start, _ := window(lim, now)
	ls := l.lease(key, now)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.period == lim.Period && ls.start.Equal(start) {
		ls.have += cost
	}
}
