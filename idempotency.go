package keyhaven

import (
	"context"
	"time"
)

// IdempotencyRecord remembers a creating request sent with an Idempotency-Key and, once it
// has one, its answer, so that a retry gets the first answer and creates nothing new.
type IdempotencyRecord struct {
	TenantID    string
	UserID      string // the caller's owner user: keys are scoped to it
	Key         string
	RequestHash string // a retry must be the same request
	Status      int    // 0 while the first request is still running
	Response    string // sealed: it may hold a password or key
	CreatedAt   time.Time
}

// IdempotencyTTL is how long an answer is remembered.
const IdempotencyTTL = 24 * time.Hour

// CollectGarbage deletes expired sessions and API keys, purges the passwords of batches past
// their retention window and forgets old idempotency keys, once. It returns how many
// credentials it deleted.
func (s *Service) CollectGarbage(ctx context.Context) (int, error) {
	n, err := s.Store.DeleteExpiredCredentials(ctx, s.now())
	if err != nil {
		return n, err
	}
	if _, err := s.PurgeBatchPasswords(ctx); err != nil {
		return n, err
	}
	_, err = s.Store.DeleteIdempotencyKeys(ctx, s.now().Add(-IdempotencyTTL))
	return n, err
}
