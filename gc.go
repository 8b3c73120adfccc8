package keyhaven

import (
	"context"
	"time"
)

// RunGarbageCollection calls CollectGarbage on the service's clock, interval after the
// previous run ended, until ctx ends.
func (s *Service) RunGarbageCollection(ctx context.Context, interval time.Duration) {
	t := s.Clock.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
			if n, err := s.CollectGarbage(ctx); err != nil {
				s.Log.ErrorContext(ctx, "garbage collection failed", "err", err)
			} else if n > 0 {
				s.Log.InfoContext(ctx, "garbage collection", "deleted", n)
			}
			t.Reset(interval)
		}
	}
}

// CollectGarbage deletes expired sessions and API keys, purges the passwords of batches past
// their retention window and forgets old idempotency keys, rotated secrets past their
// retention, rate windows no limit counts any more, signing keys no token needs any more,
// revoked tokens past their expiry, webhook deliveries past WebhookHistory and usage counts
// past their retention (UsageRetention, MinuteUsageRetention), announces the keys that are
// about to expire (NoteExpiringKeys), and rotates signing keys older than SigningKeyMaxAge,
// once. It returns how many credentials it deleted.
//
// Returns EUNAVAILABLE if the database cannot be reached.
func (s *Service) CollectGarbage(ctx context.Context) (int, error) {
	n, err := s.store.DeleteExpiredCredentials(ctx, s.now())
	if err != nil {
		return n, err
	}
	if _, err := s.PurgeBatchPasswords(ctx); err != nil {
		return n, err
	}
	now := s.now()
	if _, err := s.store.DeleteIdempotencyKeys(ctx, now.Add(-IdempotencyTTL)); err != nil {
		return n, err
	}
	if _, err := s.store.DeleteRetiredSecrets(ctx, now.Add(-RetiredSecretRetention)); err != nil {
		return n, err
	}
	// A window counts while it is current and for one period after; periods are at most a day.
	if _, err = s.store.DeleteRateWindows(ctx, now.Add(-2*MaxRatePeriod)); err != nil {
		return n, err
	}
	// A retired signing key is listed until every token it signed has expired.
	if _, err := s.store.DeleteRetiredSigningKeys(ctx, now.Add(-MaxTokenLifetime)); err != nil {
		return n, err
	}
	if _, err := s.store.DeleteRevokedTokens(ctx, now); err != nil {
		return n, err
	}
	if _, err := s.NoteExpiringKeys(ctx); err != nil {
		return n, err
	}
	if _, err := s.store.DeleteWebhookHistory(ctx, now.Add(-WebhookHistory)); err != nil {
		return n, err
	}
	if err := s.pruneUsage(ctx, now); err != nil {
		return n, err
	}
	_, err = s.RotateDueSigningKeys(ctx)
	return n, err
}
