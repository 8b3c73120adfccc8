package verify_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/verify"
)

// TestUsageWritesOnTheTick: a use is written to the store once the clock passes the interval,
// not before, at minute precision.
func TestUsageWritesOnTheTick(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			clock := keyhaven.NewManualClock(time.Now())
			svc := keyhaven.NewService(db, slog.New(slog.DiscardHandler))
			svc.Clock = clock
			created, err := svc.CreateTenant(ctx, "acme", "admin@acme.test")
			if err != nil {
				t.Fatal(err)
			}
			lastUsed := func() time.Time {
				t.Helper()
				r, err := db.ResolveCredential(ctx, secret.Hash(created.APIKey))
				if err != nil {
					t.Fatal(err)
				}
				return r.Credential.LastUsedAt
			}
			parked := func() {
				t.Helper()
				ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if err := clock.BlockUntilContext(ctx, 1); err != nil {
					t.Fatalf("the recorder does not wait on the clock: %v", err)
				}
			}

			const interval = 30 * time.Second
			u := verify.NewUsage(db, clock, slog.New(slog.DiscardHandler))
			runCtx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { u.Run(runCtx, interval) })
			defer wg.Wait()
			defer stop()
			parked()

			r, err := db.ResolveCredential(ctx, secret.Hash(created.APIKey))
			if err != nil {
				t.Fatal(err)
			}
			used := clock.Now()
			u.Used(r.Credential, used)
			clock.Advance(interval - time.Nanosecond)
			if got := lastUsed(); !got.IsZero() {
				t.Fatalf("last use written before the interval passed: %v", got)
			}
			clock.Advance(time.Nanosecond)
			parked()
			if got, want := lastUsed(), used.Truncate(time.Minute); !got.Equal(want) {
				t.Fatalf("last use %v once the interval passed, want %v", got, want)
			}
		})
	}
}
