package ratelimit

import (
	"context"
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
	mu sync.Mutex // held while leasing: one lease in flight per key and process
	leaseWindow
}

// leaseWindow is a lease's state in one window: it starts afresh with every window.
type leaseWindow struct {
	period time.Duration
	start  time.Time
	have   int64 // leased and not used yet
	// prev and cur are the window's counts as last seen in the store, with every lease.
	prev, cur int64
	// refusedUntil, after a lease of refusedNeed was refused, is the instant before which no
	// lease of as much can succeed: counts in the store only grow within a window.
	refusedUntil time.Time
	refusedNeed  int64
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
	start, elapsed := window(lim, now)
	ls := l.lease(key, now)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	switch {
	case ls.period == lim.Period && start.Before(ls.start):
		// The use read the clock before another moved the lease to a later window: it is
		// judged at that window's start, where the last window weighs most. Leasing from
		// the earlier window would add to counts the later window's leases were checked
		// against.
		start, elapsed, now = ls.start, 0, ls.start
	case ls.period != lim.Period || !ls.start.Equal(start):
		// A new window: what was leased of the last one counted there, and is gone.
		ls.leaseWindow = leaseWindow{period: lim.Period, start: start}
	}
	if ls.have >= cost {
		ls.have -= cost
		return Decision{OK: true, Limit: lim.Limit, Remaining: ls.have + available(lim, ls.prev, ls.cur, elapsed), ResetAt: start.Add(lim.Period)}, nil
	}
	need := cost - ls.have
	if now.Before(ls.refusedUntil) && need >= ls.refusedNeed {
		return Decision{Limit: lim.Limit, Remaining: ls.have + available(lim, ls.prev, ls.cur, elapsed), ResetAt: ls.refusedUntil}, nil
	}
	var taken int64
	prev, cur, err := l.store.TakeRateWindow(ctx, key, start, start.Add(-lim.Period), func(prev, cur int64) int64 {
		taken = 0
		avail := available(lim, prev, cur, elapsed)
		if avail < need {
			return 0
		}
		taken = min(avail, max(need, (avail+LeaseShare-1)/LeaseShare))
		return taken
	})
	if err != nil {
		return Decision{}, err
	}
	ls.prev, ls.cur = prev, cur+taken
	if taken == 0 {
		// What this process holds counts in this window only: in a later one the use needs
		// its whole cost.
		ls.refusedUntil, ls.refusedNeed = resetAt(lim, start, prev, cur, need, cost), need
		return Decision{Limit: lim.Limit, Remaining: ls.have + available(lim, prev, cur, elapsed), ResetAt: ls.refusedUntil}, nil
	}
	ls.have += taken - cost
	return Decision{OK: true, Limit: lim.Limit, Remaining: ls.have + available(lim, ls.prev, ls.cur, elapsed), ResetAt: start.Add(lim.Period)}, nil
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
