package verify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"keyhaven.dev/keyhaven"
)

// Usage records when credentials were last used without a database write per verification:
// uses are kept in memory at minute precision and written in one batch per interval.
type Usage struct {
	store UsageStore
	clock keyhaven.Clock
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]time.Time // credential id → last use, to write
	written map[string]time.Time // credential id → last minute written
}

// UsageStore writes last-use times.
type UsageStore interface {
	// RecordCredentialUse sets each credential's last use to the given time unless it holds
	// a later one.
	RecordCredentialUse(ctx context.Context, uses map[string]time.Time) error
}

// NewUsage returns a recorder writing to store on clock's time.
func NewUsage(store UsageStore, clock keyhaven.Clock, log *slog.Logger) *Usage {
	return &Usage{store: store, clock: clock, log: log, pending: map[string]time.Time{}, written: map[string]time.Time{}}
}

// Used records a use of c at at. Only the first use in each minute costs more than a map
// lookup.
func (u *Usage) Used(c *keyhaven.Credential, at time.Time) {
	minute := at.Truncate(time.Minute)
	if !c.LastUsedAt.Before(minute) {
		return
	}
	u.mu.Lock()
	if w, ok := u.written[c.ID]; !ok || w.Before(minute) {
		u.pending[c.ID] = minute
		u.written[c.ID] = minute
	}
	u.mu.Unlock()
}

// Flush writes the pending uses.
func (u *Usage) Flush(ctx context.Context) error {
	u.mu.Lock()
	if len(u.pending) == 0 {
		u.mu.Unlock()
		return nil
	}
	batch := u.pending
	u.pending = map[string]time.Time{}
	if len(u.written) > 1_000_000 {
		u.written = map[string]time.Time{}
	}
	u.mu.Unlock()
	return u.store.RecordCredentialUse(ctx, batch)
}

// Run flushes on the recorder's clock, interval after the previous flush ended, until ctx
// ends, then once more.
func (u *Usage) Run(ctx context.Context, interval time.Duration) {
	t := u.clock.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := u.Flush(context.WithoutCancel(ctx)); err != nil {
				u.log.Error("record last use", "err", err)
			}
			return
		case <-t.Chan():
			if err := u.Flush(ctx); err != nil {
				u.log.ErrorContext(ctx, "record last use", "err", err)
			}
			t.Reset(interval)
		}
	}
}
