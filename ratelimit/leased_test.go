package ratelimit_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/ratelimit"
)

// The tests of Leased run over the real stores: ratelimit stays a leaf, so they live in this
// external package.

var ctx = context.Background()

var w0 = time.Date(2030, 5, 17, 10, 30, 0, 0, time.UTC)

// nodes returns two limiters sharing one new store of each engine, as two processes over
// one database.
func forEachEngine(t *testing.T, run func(t *testing.T, a, b *ratelimit.Leased)) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			run(t, ratelimit.NewLeased(store), ratelimit.NewLeased(store))
		})
	}
}

func mustTake(t *testing.T, l ratelimit.Limiter, key string, lim ratelimit.Limit, cost int64, now time.Time) ratelimit.Decision {
	t.Helper()
	d, err := l.Take(ctx, key, lim, cost, now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// lease is the most one lease takes of a limit: a share of all of it.
func lease(lim ratelimit.Limit) int64 {
	return int64(math.Ceil(float64(lim.Limit) / ratelimit.LeaseShare))
}

// TestLeasedSharedWindow: two limiters over one store, raced within one window, admit
// together no more than the limit, and no less than the limit minus what the one that was
// sent few uses leased and did not use.
func TestLeasedSharedWindow(t *testing.T) {
	lim := ratelimit.Limit{Limit: 200, Period: time.Minute}
	for _, split := range []struct{ a, b int }{{400, 400}, {600, 3}} {
		t.Run(fmt.Sprintf("%d-%d", split.a, split.b), func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, a, b *ratelimit.Leased) {
				var mu sync.Mutex
				admitted := map[*ratelimit.Leased]int64{}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for _, l := range []struct {
					l    *ratelimit.Leased
					uses int
				}{{a, split.a}, {b, split.b}} {
					for g := range 8 {
						wg.Go(func() {
							<-start
							for i := g; i < l.uses; i += 8 {
								d, err := l.l.Take(ctx, "k", lim, 1, w0.Add(time.Duration(i)*time.Millisecond))
								if err != nil {
									t.Error(err)
									return
								}
								if d.OK {
									mu.Lock()
									admitted[l.l]++
									mu.Unlock()
								}
							}
						})
					}
				}
				close(start)
				wg.Wait()
				total := admitted[a] + admitted[b]
				if total > lim.Limit {
					t.Fatalf("admitted %d + %d = %d, over the limit of %d", admitted[a], admitted[b], total, lim.Limit)
				}
				// Each was sent at least a lease's worth, or all it was sent was admitted.
				stranded := int64(0)
				if admitted[b] == int64(split.b) {
					stranded = lease(lim) // b may hold the rest of its one lease
				}
				if total < lim.Limit-stranded {
					t.Fatalf("admitted %d + %d = %d, under the limit of %d by more than %d stranded", admitted[a], admitted[b], total, lim.Limit, stranded)
				}
				t.Logf("admitted %d + %d", admitted[a], admitted[b])
			})
		})
	}
}

// TestLeasedSlidingWindow: over several windows, with uses sent to both limiters at every
// step, what they admit together never exceeds the limit by the sliding-window estimate of
// what they admitted: the previous window's admissions weighed by the part of it still
// inside the period, plus the current window's.
func TestLeasedSlidingWindow(t *testing.T) {
	lim := ratelimit.Limit{Limit: 50, Period: 10 * time.Second}
	forEachEngine(t, func(t *testing.T, a, b *ratelimit.Leased) {
		perWindow := map[time.Time]int64{}
		total := int64(0)
		for step := range 60 { // 6 windows, 10 steps each
			now := w0.Add(time.Duration(step) * time.Second).Add(time.Duration(step%3) * 300 * time.Millisecond)
			start := now.Truncate(lim.Period)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range 16 {
				l := a
				if i%2 == 1 {
					l = b
				}
				wg.Go(func() {
					d, err := l.Take(ctx, "k", lim, 1, now)
					if err != nil {
						t.Error(err)
						return
					}
					if d.OK {
						mu.Lock()
						perWindow[start]++
						total++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			frac := float64(now.Sub(start)) / float64(lim.Period)
			used := float64(perWindow[start.Add(-lim.Period)])*(1-frac) + float64(perWindow[start])
			if used > float64(lim.Limit) {
				t.Fatalf("at +%v: %d admitted in the window and %d in the one before weigh %.2f, over the limit of %d",
					now.Sub(w0), perWindow[start], perWindow[start.Add(-lim.Period)], used, lim.Limit)
			}
		}
		// Six windows' worth of 16 uses a second against 50 per 10 s: the limit was reached.
		t.Logf("admitted %d over six windows", total)
		if total < 5*lim.Limit {
			t.Fatalf("admitted %d over six windows, want at least %d", total, 5*lim.Limit)
		}
	})
}

// TestLeasedRefusalOfADearerUse: a refused use does not refuse a cheaper one the window
// still has room for.
func TestLeasedRefusalOfADearerUse(t *testing.T) {
	lim := ratelimit.Limit{Limit: 10, Period: time.Minute}
	forEachEngine(t, func(t *testing.T, a, b *ratelimit.Leased) {
		if d := mustTake(t, a, "k", lim, 7, w0); !d.OK {
			t.Fatalf("first 7: %+v", d)
		}
		if d := mustTake(t, b, "k", lim, 5, w0.Add(time.Second)); d.OK {
			t.Fatalf("5 of the 3 left were admitted: %+v", d)
		}
		for i := range 3 {
			if d := mustTake(t, b, "k", lim, 1, w0.Add(2*time.Second)); !d.OK {
				t.Fatalf("use %d of the 3 left was refused: %+v", i+1, d)
			}
		}
		if d := mustTake(t, b, "k", lim, 1, w0.Add(2*time.Second)); d.OK {
			t.Fatalf("an 11th use was admitted: %+v", d)
		}
	})
}

// TestLeasedResetAt: a refused use is admitted at its ResetAt, also when the limiter held
// part of its cost in a lease that ends with the window.
func TestLeasedResetAt(t *testing.T) {
	lim := ratelimit.Limit{Limit: 160, Period: time.Minute}
	forEachEngine(t, func(t *testing.T, a, b *ratelimit.Leased) {
		if d := mustTake(t, a, "k", lim, 1, w0); !d.OK {
			t.Fatal(d) // a now holds the rest of a lease of 10
		}
		if d := mustTake(t, b, "k", lim, 150, w0); !d.OK {
			t.Fatal(d) // the window is full
		}
		d := mustTake(t, a, "k", lim, 12, w0.Add(time.Second))
		if d.OK {
			t.Fatalf("12 admitted while 9 were held: %+v", d)
		}
		// In the next window a's lease is gone: 12 fit once 12 of the 160 aged out.
		if want := w0.Add(time.Minute + 12*time.Minute/160); !d.ResetAt.Equal(want) {
			t.Errorf("ResetAt = +%v, want +%v", d.ResetAt.Sub(w0), want.Sub(w0))
		}
		if d := mustTake(t, a, "k", lim, 12, d.ResetAt.Add(-time.Nanosecond)); d.OK {
			t.Fatalf("admitted a nanosecond before ResetAt: %+v", d)
		}
		if d := mustTake(t, a, "k", lim, 12, d.ResetAt); !d.OK {
			t.Fatalf("refused at ResetAt: %+v", d)
		}
	})
}

// TestLeasedStraggler: a use that read the clock before its key's lease moved to a new
// window, and reaches the limiter after, is judged in the new window: it cannot add to the
// old window what the new one's leases did not count.
func TestLeasedStraggler(t *testing.T) {
	lim := ratelimit.Limit{Limit: 10, Period: time.Second}
	w1 := w0.Add(time.Second)
	forEachEngine(t, func(t *testing.T, a, b *ratelimit.Leased) {
		admitted := 0
		for range 5 {
			if mustTake(t, a, "k", lim, 1, w1.Add(-10*time.Millisecond)).OK {
				admitted++
			}
		}
		for range 10 {
			if mustTake(t, a, "k", lim, 1, w1.Add(time.Millisecond)).OK {
				admitted++
			}
		}
		if admitted != 10 {
			t.Fatalf("admitted %d, want 10", admitted)
		}
		if d := mustTake(t, a, "k", lim, 1, w1.Add(-5*time.Millisecond)); d.OK {
			t.Fatalf("a straggler was admitted over the limit: %+v", d)
		}
	})
}
