package keyhaven_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// parked waits until n tickers or timers wait on clock: a loop that waits on a timer again
// has finished the run the last Advance started.
func parked(t *testing.T, clock *keyhaven.ManualClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("no loop waits on the clock: %v", err)
	}
}

// TestGarbageCollectionFollowsTheClock: the collector deletes a session that expired once the
// clock passes its interval, not before, and keeps the sessions that have not expired.
func TestGarbageCollectionFollowsTheClock(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			svc := keyhaven.NewService(db, slog.New(slog.DiscardHandler))
			clock := keyhaven.NewManualClock(time.Now())
			svc.Clock = clock
			svc.PasswordParams = secret.Argon2Params{Memory: 1024, Time: 1, Threads: 1}
			svc.SessionTTL = 20 * time.Minute
			created, err := svc.CreateTenant(ctx, "acme", "admin@acme.test")
			if err != nil {
				t.Fatal(err)
			}
			login := func() string {
				s, err := svc.Login(ctx, "acme", "admin@acme.test", created.AdminPassword)
				if err != nil {
					t.Fatal(err)
				}
				return s.Token
			}
			stored := func(token string) bool {
				t.Helper()
				_, err := db.ResolveCredential(ctx, secret.Hash(token))
				if err != nil && keyhaven.ErrorCode(err) != keyhaven.ENOTFOUND {
					t.Fatal(err)
				}
				return err == nil
			}

			const interval = time.Hour
			runCtx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { svc.RunGarbageCollection(runCtx, interval) })
			defer wg.Wait()
			defer stop()
			parked(t, clock, 1)

			expired := login() // expires at 0:20
			clock.Advance(50 * time.Minute)
			live := login() // expires at 1:10
			clock.Advance(10*time.Minute - time.Nanosecond)
			if !stored(expired) {
				t.Fatal("the expired session was deleted before the collector's interval passed")
			}
			clock.Advance(time.Nanosecond)
			parked(t, clock, 1)
			if stored(expired) {
				t.Fatal("the expired session is still stored once the clock passed the collector's interval")
			}
			if !stored(live) {
				t.Fatal("the collector deleted a session that has not expired")
			}
		})
	}
}
