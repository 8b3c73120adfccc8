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
	"math/bits"
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

// window locates now in l's fixed windows: the current window's start and how far into it
// now is.
func window(l Limit, now time.Time) (start time.Time, elapsed time.Duration) {
	p := int64(l.Period)
	n := now.UnixNano()
	s := n - n%p
	return time.Unix(0, s).UTC(), time.Duration(n - s)
}

// The estimate is computed in integers, to the nanosecond: floating point would put the
// instant a refused use is admitted a rounding off the one the admission check computes.

// weighed returns ⌈prev × (period − elapsed) / period⌉: the part of the previous window's
// count still inside the period that ends elapsed into the current window.
func weighed(prev int64, period, elapsed time.Duration) int64 {
	if prev <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(prev), uint64(period-elapsed))
	lo, carry := bits.Add64(lo, uint64(period-1), 0)
	q, _ := bits.Div64(hi+carry, lo, uint64(period))
	return int64(q)
}

// available returns how much of l a use elapsed into the current window may take, given the
// previous and current windows' counts.
func available(l Limit, prev, cur int64, elapsed time.Duration) int64 {
	return max(0, l.Limit-weighed(prev, l.Period, elapsed)-cur)
}

// agedOut returns how far into a window the previous window's count prev weighs at most r:
// the least elapsed with weighed(prev, period, elapsed) ≤ r.
func agedOut(prev, r int64, period time.Duration) time.Duration {
	if prev <= r {
		return 0
	}
	// ⌈prev × (period − e) / period⌉ ≤ r  ⇔  period − e ≤ ⌊r × period / prev⌋
	hi, lo := bits.Mul64(uint64(r), uint64(period))
	q, _ := bits.Div64(hi, lo, uint64(prev))
	return period - time.Duration(q)
}

// resetAt returns the earliest instant at which a refused use is admitted if nothing else
// comes, given the counts of the window that starts at start and of the one before: the use
// needs cost in this window and later in later ones (Leased: what it holds of this window
// ends with it).
func resetAt(l Limit, start time.Time, prev, cur, cost, later int64) time.Time {
	end := start.Add(l.Period)
	switch {
	case cur+cost <= l.Limit:
		// Later in this window, once enough of the previous one has aged out.
		return start.Add(agedOut(prev, l.Limit-cur-cost, l.Period))
	case later > l.Limit:
		return end.Add(l.Period) // never fits; say when everything has aged out
	}
	// In the next window, once enough of this one has aged out.
	return end.Add(agedOut(cur, l.Limit-later, l.Period))
}
