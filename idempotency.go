package keyhaven

import (
	"context"
	"encoding/json"
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

// IdempotentAnswer is the remembered answer to a creating request sent with an
// Idempotency-Key.
type IdempotentAnswer struct {
	Status      int    `json:"s"`
	ContentType string `json:"t"`
	Body        []byte `json:"b"`
}

// BeginIdempotent claims key for the request of p whose method, path and body hash to
// requestHash. It returns nil when the request is the first with this key: the caller runs it
// and then calls FinishIdempotent. It returns the first answer when the same request by the
// same credential was answered before, if the credential still holds what it held then.
//
// Returns EINVALID (idempotency_key_reused) if the key was used for another request,
// ECONFLICT if the first request with the key is still running, EFORBIDDEN if the credential
// lost permissions since, and EUNAVAILABLE if the database cannot be reached or the answer
// cannot be opened.
func (s *Service) BeginIdempotent(ctx context.Context, p *Principal, key, requestHash string) (*IdempotentAnswer, error) {
	rec := &IdempotencyRecord{TenantID: p.TenantID, CredentialID: p.CredentialID, Key: key,
		Permissions: p.Permissions, RequestHash: requestHash, CreatedAt: s.now()}
	stored, fresh, err := s.store.PutIdempotencyKey(ctx, rec)
	switch {
	case err != nil:
		return nil, err
	case fresh:
		return nil, nil
	case stored.RequestHash != rec.RequestHash:
		return nil, Reasonf(EINVALID, "idempotency_key_reused", "this Idempotency-Key was used for another request")
	case stored.Status == 0:
		return nil, Reasonf(ECONFLICT, "idempotency_key_in_progress", "the first request with this Idempotency-Key is still running")
	}
	if err := CheckReplay(p, stored); err != nil {
		return nil, err
	}
	raw, err := s.Sealer.Open(stored.Response, SealedFor(p.TenantID, p.CredentialID, key))
	var a IdempotentAnswer
	if err == nil {
		err = json.Unmarshal(raw, &a)
	}
	if err != nil {
		s.Log.ErrorContext(ctx, "idempotency replay", "err", err)
		return nil, Errorf(EUNAVAILABLE, "the remembered answer cannot be read; try again")
	}
	return &a, nil
}

// FinishIdempotent remembers a, sealed, as the answer to the request that BeginIdempotent let
// run. An answer of 5xx is not remembered: the key is forgotten, so that the request can be
// tried again.
//
// Returns EUNAVAILABLE if the database cannot be reached.
func (s *Service) FinishIdempotent(ctx context.Context, p *Principal, key string, a *IdempotentAnswer) error {
	if a.Status >= 500 {
		return s.store.DeleteIdempotencyKey(ctx, p.TenantID, p.CredentialID, key)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	rec := &IdempotencyRecord{TenantID: p.TenantID, CredentialID: p.CredentialID, Key: key, Status: a.Status,
		Response: s.Sealer.Seal(raw, SealedFor(p.TenantID, p.CredentialID, key))}
	return s.store.CompleteIdempotencyKey(ctx, rec)
}

// Ping returns EUNAVAILABLE if the database cannot be reached.
func (s *Service) Ping(ctx context.Context) error {
	return s.store.Ping(ctx)
}
