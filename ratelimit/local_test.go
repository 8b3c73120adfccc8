package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var ctx = context.Background()

// w0 is the start of a minute window (and of every shorter whole-second one).
var w0 = time.Date(2030, 5, 17, 10, 30, 0, 0, time.UTC)

// take takes cost at now and fails unless the answer's admission and remaining are want.
func take(t *testing.T, l Limiter, key string, lim Limit, cost int64, now time.Time, wantOK bool, wantRemaining int64) Decision {
	t.Helper()
	d, err := l.Take(ctx, key, lim, cost, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.OK != wantOK || d.Remaining != wantRemaining || d.Limit != lim.Limit {
		t.Fatalf("Take(%d at +%v) = %+v; want OK %v, remaining %d of %d", cost, now.Sub(w0), d, wantOK, wantRemaining, lim.Limit)
	}
	return d
}

// TestSlidingWindow: a use counts the previous window's uses by the part of it still inside
// the period that ends at the use, so that a burst right after a window starts is not a
// fresh limit.
func TestSlidingWindow(t *testing.T) {
	lim := Limit{Limit: 10, Period: time.Minute}
	l := NewLocal()
	w1 := w0.Add(time.Minute)
	for i := range 10 {
		take(t, l, "k", lim, 1, w0.Add(59*time.Second), true, int64(9-i))
	}
	d := take(t, l, "k", lim, 1, w0.Add(59*time.Second), false, 0)
	if want := w1.Add(6 * time.Second); !d.ResetAt.Equal(want) {
		t.Fatalf("ResetAt = +%v, want +%v: a tenth of the window later, one of ten has aged out", d.ResetAt.Sub(w0), want.Sub(w0))
	}
	// Just after the boundary the previous window still counts all but a sliver: 10.
	take(t, l, "k", lim, 1, w1.Add(time.Millisecond), false, 0)
	take(t, l, "k", lim, 1, w1.Add(6*time.Second-time.Nanosecond), false, 0)
	// A tenth in, 9 of them count.
	take(t, l, "k", lim, 1, w1.Add(6*time.Second), true, 0)
	take(t, l, "k", lim, 1, w1.Add(6*time.Second), false, 0)
	// Half way, 5 of them: with the one taken, 4 more.
	take(t, l, "k", lim, 4, w1.Add(30*time.Second), true, 0)
	take(t, l, "k", lim, 1, w1.Add(30*time.Second), false, 0)
	// Another key is apart.
	take(t, l, "other", lim, 10, w1, true, 0)
	// At the next window's start, the last window's 5 uses count whole.
	take(t, l, "k", lim, 5, w1.Add(time.Minute), true, 0)
	// A window with nothing before it starts afresh.
	take(t, l, "k", lim, 10, w1.Add(3*time.Minute), true, 0)
	// A use dearer than the limit never fits: it is sent past the time everything aged out.
	d = take(t, l, "big", lim, 11, w1, false, 10)
	if want := w1.Add(2 * time.Minute); !d.ResetAt.Equal(want) {
		t.Fatalf("ResetAt of a use over the limit = +%v, want +%v", d.ResetAt.Sub(w0), want.Sub(w0))
	}
	// Costing nothing is always admitted.
	take(t, l, "k", lim, 0, w1.Add(3*time.Minute), true, 0)
}

// windowStart returns the start of the window of period that holds t.
func windowStart(t time.Time, period time.Duration) time.Time {
	return time.Unix(0, t.UnixNano()/int64(period)*int64(period)).UTC()
}

// state is a key's counts in a Local limiter, set directly.
type state struct {
	lim              Limit
	start            time.Time
	prev, cur, cost  int64
	elapsed          time.Duration
	wantResetOffsetM time.Duration // when set, ResetAt − start
}

func (s state) limiter() *Local {
	l := NewLocal()
	l.shard("k").keys["k"] = &counts{period: s.lim.Period, start: s.start, prev: s.prev, cur: s.cur}
	return l
}

// check takes s's use at its instant and, when refused, at ResetAt and a nanosecond before:
// ResetAt must be the first instant that admits it, if nothing else comes.
func (s state) check(t *testing.T) {
	t.Helper()
	now := s.start.Add(s.elapsed)
	d, err := s.limiter().Take(ctx, "k", s.lim, s.cost, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.OK {
		return
	}
	if !d.ResetAt.After(now) {
		t.Fatalf("%+v: refused at +%v with ResetAt +%v, not later", s, s.elapsed, d.ResetAt.Sub(s.start))
	}
	if s.wantResetOffsetM != 0 && d.ResetAt.Sub(s.start) != s.wantResetOffsetM {
		t.Fatalf("%+v: ResetAt = +%v, want +%v", s, d.ResetAt.Sub(s.start), s.wantResetOffsetM)
	}
	if want := time.Duration(max(1, (d.ResetAt.Sub(now)+time.Second-1)/time.Second)) * time.Second; d.RetryAfter(now) != want {
		t.Fatalf("%+v: RetryAfter = %v, want %v (ResetAt − now in whole seconds, at least 1)", s, d.RetryAfter(now), want)
	}
	if s.cost > s.lim.Limit {
		return // never admitted
	}
	before, err := s.limiter().Take(ctx, "k", s.lim, s.cost, d.ResetAt.Add(-time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	at, err := s.limiter().Take(ctx, "k", s.lim, s.cost, d.ResetAt)
	if err != nil {
		t.Fatal(err)
	}
	if before.OK || !at.OK {
		t.Fatalf("%+v: refused until +%v, but admitted a nanosecond before: %v, at it: %v",
			s, d.ResetAt.Sub(s.start), before.OK, at.OK)
	}
}

// TestResetAt: a refused use's ResetAt is the instant at which the same use is admitted if
// nothing else comes: not a nanosecond earlier, and not later either.
func TestResetAt(t *testing.T) {
	minute := Limit{Limit: 10, Period: time.Minute}
	for _, s := range []state{
		// Later in this window, once enough of the previous one aged out.
		{lim: minute, start: w0, prev: 10, cur: 0, cost: 1, elapsed: time.Second, wantResetOffsetM: 6 * time.Second},
		{lim: minute, start: w0, prev: 10, cur: 4, cost: 2, elapsed: 0, wantResetOffsetM: 36 * time.Second},
		{lim: minute, start: w0, prev: 3, cur: 9, cost: 1, elapsed: 0, wantResetOffsetM: time.Minute},
		// In the next window, once enough of this one aged out.
		{lim: minute, start: w0, prev: 0, cur: 10, cost: 1, elapsed: 30 * time.Second, wantResetOffsetM: time.Minute + 6*time.Second},
		{lim: minute, start: w0, prev: 7, cur: 10, cost: 10, elapsed: 59 * time.Second, wantResetOffsetM: 2 * time.Minute},
		// Never: sent on until everything aged out.
		{lim: minute, start: w0, prev: 0, cur: 0, cost: 11, elapsed: 0, wantResetOffsetM: 2 * time.Minute},
		// Thirds, which floating point cannot hold.
		{lim: Limit{Limit: 1, Period: time.Minute}, start: w0, prev: 3, cur: 0, cost: 1, elapsed: 0},
		{lim: Limit{Limit: 2, Period: time.Minute}, start: w0, prev: 3, cur: 0, cost: 1, elapsed: 0},
		{lim: Limit{Limit: 5, Period: 7 * time.Second}, start: windowStart(w0, 7*time.Second), prev: 3, cur: 5, cost: 2, elapsed: 0},
	} {
		t.Run(fmt.Sprintf("%d-%v-prev%d-cur%d-cost%d", s.lim.Limit, s.lim.Period, s.prev, s.cur, s.cost), s.check)
	}
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 20000 {
			limit := rng.Int64N(1000) + 1
			if rng.IntN(4) == 0 {
				limit = rng.Int64N(1_000_000_000) + 1
			}
			period := time.Duration(rng.Int64N(86400)+1) * time.Second
			lim := Limit{Limit: limit, Period: period}
			start := windowStart(w0, period)
			s := state{lim: lim, start: start, prev: rng.Int64N(limit + 1), cur: rng.Int64N(limit + 1),
				cost: rng.Int64N(limit) + 1, elapsed: time.Duration(rng.Int64N(int64(period)))}
			s.check(t)
			if t.Failed() {
				return
			}
		}
	})
}

// TestLocalConcurrent: goroutines racing on one key are admitted exactly the limit.
func TestLocalConcurrent(t *testing.T) {
	l := NewLocal()
	lim := Limit{Limit: 100, Period: time.Second}
	var admitted [3]atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 64 {
		wg.Go(func() {
			<-start
			for j := range 10 {
				key := fmt.Sprint(j % 3)
				d, err := l.Take(ctx, key, lim, 1, w0.Add(time.Duration(i)*time.Microsecond))
				if err != nil {
					t.Error(err)
					return
				}
				if d.OK {
					admitted[j%3].Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for key := range admitted {
		if n := admitted[key].Load(); n != lim.Limit {
			t.Errorf("key %d: %d admitted of a limit of %d", key, n, lim.Limit)
		}
	}
}

// TestLocalReturn: what is given back in the window it was taken in can be taken again;
// given back later, it is gone with its window.
func TestLocalReturn(t *testing.T) {
	l := NewLocal()
	lim := Limit{Limit: 3, Period: time.Minute}
	take(t, l, "k", lim, 3, w0, true, 0)
	take(t, l, "k", lim, 1, w0, false, 0)
	l.Return("k", lim, 2, w0.Add(time.Second))
	take(t, l, "k", lim, 2, w0.Add(2*time.Second), true, 0)
	l.Return("k", lim, 3, w0.Add(time.Minute)) // in the next window: nothing to give back to
	take(t, l, "k", lim, 1, w0.Add(time.Minute), false, 0)
	l.Return("unknown", lim, 1, w0) // a key never taken from is no error
}

// TestLocalStraggler: a use that read the clock before its key moved to a new window, and
// reaches the limiter after, is judged in the new window, not with the old window's
// fraction over the new window's counts.
func TestLocalStraggler(t *testing.T) {
	l := NewLocal()
	lim := Limit{Limit: 10, Period: time.Second}
	w1 := w0.Add(time.Second)
	take(t, l, "k", lim, 10, w1.Add(-10*time.Millisecond), true, 0)
	take(t, l, "k", lim, 1, w1.Add(time.Millisecond), false, 0)
	take(t, l, "k", lim, 1, w1.Add(-5*time.Millisecond), false, 0)
}
