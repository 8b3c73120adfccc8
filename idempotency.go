package keyhaven

import (
	"context"
	"time"
)

// IdempotencyRecord remembers a creating request sent with an Idempotency-Key and, once it
// has one, its answer, so that a retry gets the first answer and creates nothing new.
type IdempotencyRecord struct {
	TenantID     string
	CredentialID string // the calling credential: keys are scoped to it
	// Permissions are the credential's effective permissions when the first request was
	// made: a replay is answered only while it still holds them all.
	Permissions PermissionSet
	Key         string
	RequestHash string // a retry must be the same request
	Status      int    // 0 while the first request is still running
	Response    string // sealed: it may hold a password or key
	CreatedAt   time.Time
}

// CheckReplay returns EFORBIDDEN unless p may be given the remembered answer r: a replay is
// authorized like a new request, so the credential must still hold every permission it held
// when the request was first made (it is the same credential: records are keyed by it).
func CheckReplay(p *Principal, r *IdempotencyRecord) error {
	if missing := r.Permissions.Missing(p.Permissions); missing != 0 {
		return Reasonf(EFORBIDDEN, "idempotency_permissions_changed",
			"the credential no longer holds what it held when this Idempotency-Key was first used; send a new key")
	}
	return nil
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
