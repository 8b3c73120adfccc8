// Package ratelimit admits uses of rate-limited keys: at most Limit units in any Period, as a
// sliding window estimates it. It knows nothing of credentials: a key is a string.
//
// The window is the one Cloudflare and Unkey use: time is cut into fixed windows of Period,
// and a use at a fraction f of the current window sees
//
//	used = previous window's count × (1 − f) + current window's count
//
// so a burst right after a window starts still counts what came just before it, without a
// log of every use. A use of cost c is admitted when used + c ≤ Limit.
//
// Local is exact on one process. Leased shares the windows of several processes through a
// Store: a process admits locally only what it has leased from the window's count in the
// database, and leases are taken in one transaction that checks the same estimate. So the
// processes together never admit more than one process would; what a process leased and did
// not use when the window ends is lost (under-admission, bounded by the lease size).
package ratelimit

import (
	"context"
	"math"
	"time"
)

// Limit is a rate limit: at most Limit units in any Period.
type Limit struct {
	Limit  int64
	Period time.Duration
}

// Decision is the answer to one use.
type Decision struct {
	// OK reports whether the use was admitted; its cost was taken.
	OK bool
	// Limit is the limit, Remaining what is left of it after this use.
	Limit, Remaining int64
	// ResetAt is, for an admitted use, the end of the current window; for a refused one, the
	// earliest instant at which a use of the same cost would be admitted if nothing else
	// came meanwhile.
	ResetAt time.Time
}

// RetryAfter returns how long a refused use waits before it tries again: at least a second,
// in whole seconds (an HTTP Retry-After).
func (d Decision) RetryAfter(now time.Time) time.Duration {
	s := math.Ceil(d.ResetAt.Sub(now).Seconds())
	return time.Duration(max(1, s)) * time.Second
}

// Limiter admits uses.
type Limiter interface {
	// Take takes cost from key's limit at now if the limit allows it. The error is not a
	// refusal: the limiter could not decide (its store failed).
	Take(ctx context.Context, key string, l Limit, cost int64, now time.Time) (Decision, error)
	// Return gives back cost that Take took at now, for a use a later check refused.
	Return(key string, l Limit, cost int64, now time.Time)
}

// window locates now in l's fixed windows: the current window's start and the fraction of it
// that has passed.
func window(l Limit, now time.Time) (start time.Time, frac float64) {
	p := int64(l.Period)
	n := now.UnixNano()
	s := n - n%p
	return time.Unix(0, s).UTC(), float64(n-s) / float64(p)
}

// available returns how much of l a use at frac of the current window may take, given the
// previous and current windows' counts.
func available(l Limit, prev, cur int64, frac float64) int64 {
	used := math.Ceil(float64(prev)*(1-frac)) + float64(cur)
	return max(0, l.Limit-int64(used))
}

// resetAt returns when a use of cost would next be admitted, given the counts at start (the
// current window's start) if nothing else comes; for an admitted use, the window's end.
func resetAt(l Limit, start time.Time, prev, cur, cost int64, ok bool) time.Time {
	end := start.Add(l.Period)
	switch {
	case ok:
		return end
	case cost > l.Limit:
		return end.Add(l.Period) // never fits; say when everything has aged out
	case cur+cost <= l.Limit && prev > 0:
		// Later in this window, once enough of the previous one has aged out.
		f := 1 - float64(l.Limit-cur-cost)/float64(prev)
		return start.Add(time.Duration(math.Ceil(f * float64(l.Period))))
	case cur > 0:
		// In the next window, once enough of this one has aged out.
		g := max(0, 1-float64(l.Limit-cost)/float64(cur))
		return end.Add(time.Duration(math.Ceil(g * float64(l.Period))))
	}
	return end
}
