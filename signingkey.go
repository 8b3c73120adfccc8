package keyhaven

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// SealedSigningKey is the kind of a signing key's private half, sealed and bound to its
// tenant and key id.
const SealedSigningKey = "signing_key"

// Signing key algorithms: ES256 (P-256) by default, EdDSA (Ed25519) allowed.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// SigningKey is one of a tenant's keys for signing access tokens. The tenant's active key
// (RetiredAt zero) signs; a retired key stays in the JWK Set until every token it signed has
// expired (RetiredAt + MaxTokenLifetime).
type SigningKey struct {
	ID       string // the kid
	TenantID string
	Alg      string
	// PublicJWK is the public half as a JWK (kid, alg, use "sig"), kept in clear.
	PublicJWK string
	// PrivateSealed is the private half as a JWK, sealed with the service's Sealer and bound
	// to the tenant and key id.
	PrivateSealed string
	CreatedAt     time.Time
	RetiredAt     time.Time // zero while the key signs
}

// SigningKeyStore keeps the tenants' signing keys.
type SigningKeyStore interface {
	// SigningKeys returns the tenant's keys not retired before retiredAfter (the active one
	// included), newest first.
	SigningKeys(ctx context.Context, tenantID string, retiredAfter time.Time) ([]*SigningKey, error)
	// RotateSigningKey makes k its tenant's active key when the tenant has no active key or
	// its active key was created at or before due, retiring that one at k.CreatedAt, in one
	// transaction that holds the tenant against other rotations: however many processes
	// rotate at once, the tenant ends with exactly one active key. It returns the active key
	// after the call and whether it is k. e, when set, is appended when k becomes active.
	RotateSigningKey(ctx context.Context, k *SigningKey, due time.Time, e *AuditEvent) (*SigningKey, bool, error)
	// TenantsWithSigningKeysDue returns the ids of the tenants whose active key was created
	// before cutoff.
	TenantsWithSigningKeysDue(ctx context.Context, cutoff time.Time) ([]string, error)
	// DeleteRetiredSigningKeys deletes keys retired before cutoff and returns how many.
	DeleteRetiredSigningKeys(ctx context.Context, cutoff time.Time) (int, error)

	// RevokeToken remembers that the token jti of the tenant is revoked until expiresAt.
	// Revoking it again changes nothing.
	RevokeToken(ctx context.Context, tenantID, jti string, expiresAt time.Time, e *AuditEvent) error
	// TokenRevoked reports whether the token jti of the tenant is revoked.
	TokenRevoked(ctx context.Context, tenantID, jti string) (bool, error)
	// DeleteRevokedTokens forgets revoked tokens that expired before cutoff.
	DeleteRevokedTokens(ctx context.Context, cutoff time.Time) (int, error)

	// CredentialByID returns an API key or access key of the tenant by id, with its tenant
	// and owner, read from the database; ENOTFOUND if there is none.
	CredentialByID(ctx context.Context, tenantID, id string) (*Resolution, error)
}

// MaxTokenLifetime is the longest lifetime of an access token, and so how long a retired
// signing key stays in the JWK Set.
const MaxTokenLifetime = 3600 * time.Second

// DefaultTokenLifetime is a new tenant's access token lifetime.
const DefaultTokenLifetime = 300

// DefaultSigningKeyMaxAge is how old an active signing key gets before it is rotated.
const DefaultSigningKeyMaxAge = 30 * 24 * time.Hour

// KeySetMaxAge bounds how long a node signs and verifies with a tenant's key set read
// earlier: a key rotated by another process is picked up at most this late, sooner when
// the rotation's invalidation arrives.
const KeySetMaxAge = 3 * time.Second

// newSigningKey generates a key pair for tenantID.
func (s *Service) newSigningKey(tenantID, alg string, now time.Time) (*SigningKey, error) {
	var priv any
	switch alg {
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, Internal(err)
		}
		priv = k
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, Internal(err)
		}
		priv = k
	default:
		return nil, Invalid(FieldError{Field: "alg", Message: "must be ES256 or EdDSA"})
	}
	if s.Sealer == nil {
		return nil, Internal(errors.New("no sealer to keep signing keys at rest"))
	}
	k := &SigningKey{ID: NewID("kid"), TenantID: tenantID, Alg: alg, CreatedAt: now}
	jwk := jose.JSONWebKey{Key: priv, KeyID: k.ID, Algorithm: alg, Use: "sig"}
	privJSON, err := jwk.MarshalJSON()
	if err != nil {
		return nil, Internal(err)
	}
	pubJSON, err := jwk.Public().MarshalJSON()
	if err != nil {
		return nil, Internal(err)
	}
	k.PublicJWK = string(pubJSON)
	k.PrivateSealed = s.Sealer.Seal(privJSON, SealedFor(SealedSigningKey, tenantID, k.ID))
	return k, nil
}

// RotateSigningKey makes a new key (alg ES256 when empty) the active signing key of the
// tenant named name and retires the previous one, which verifies the tokens it signed until
// they expire. Nodes pick up the new key within KeySetMaxAge.
//
// Returns EINVALID for an unknown alg, ENOTFOUND if there is no such tenant, and
// EUNAVAILABLE if the database cannot be reached.
func (s *Service) RotateSigningKey(ctx context.Context, name, alg string) (*SigningKey, error) {
	if alg == "" {
		alg = AlgES256
	}
	t, err := s.store.TenantByName(ctx, name)
	if err != nil {
		return nil, err
	}
	now := s.now()
	k, err := s.newSigningKey(t.ID, alg, now)
	if err != nil {
		return nil, err
	}
	e := s.event(ctx, t.ID, nil, "signing_key.rotate", "signing_key", k.ID, map[string]any{"alg": alg})
	active, _, err := s.store.RotateSigningKey(ctx, k, now, e)
	if err != nil {
		return nil, err
	}
	s.keysChanged(ctx, t.ID)
	return active, nil
}

// RotateDueSigningKeys rotates every tenant's active key older than SigningKeyMaxAge and
// returns how many it rotated. Nodes may run it at once: a key rotates once.
func (s *Service) RotateDueSigningKeys(ctx context.Context) (int, error) {
	now := s.now()
	due := now.Add(-s.signingKeyMaxAge())
	ids, err := s.store.TenantsWithSigningKeysDue(ctx, due)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		k, err := s.newSigningKey(id, AlgES256, now)
		if err != nil {
			return n, err
		}
		e := s.event(ctx, id, nil, "signing_key.rotate", "signing_key", k.ID, map[string]any{"alg": k.Alg, "automatic": true})
		_, rotated, err := s.store.RotateSigningKey(ctx, k, due, e)
		if err != nil {
			return n, err
		}
		if rotated {
			n++
			s.keysChanged(ctx, id)
		}
	}
	return n, nil
}

func (s *Service) signingKeyMaxAge() time.Duration {
	if s.SigningKeyMaxAge > 0 {
		return s.SigningKeyMaxAge
	}
	return DefaultSigningKeyMaxAge
}

// keysChanged forgets this node's key set of the tenant and tells the other nodes.
func (s *Service) keysChanged(ctx context.Context, tenantID string) {
	s.keySets.forget(tenantID)
	s.invalidate(ctx, tenantID)
}

// ForgetKeySets drops what this node holds of the key sets of the tenants among ids (all of
// them when ids is empty), so that the next token signed or verified reads them again.
func (s *Service) ForgetKeySets(ids ...string) {
	if len(ids) == 0 {
		s.keySets.flush()
		return
	}
	s.keySets.forget(ids...)
}

// keySet is a tenant's signing keys as read at one instant, parsed.
type keySet struct {
	readAt time.Time
	signer jose.Signer
	kid    string
	alg    string
	public map[string]*jose.JSONWebKey // by kid: the active key and retired ones still listed
	list   []jose.JSONWebKey           // newest first, for the JWK Set
}

type keySetCache struct {
	mu    sync.Mutex
	sets  map[string]*keySet // by tenant id
	names map[string]string  // tenant ids by name
}

func (c *keySetCache) tenantID(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.names[name]
}

func (c *keySetCache) putTenant(name, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == nil || len(c.names) > 100_000 {
		c.names = map[string]string{}
	}
	c.names[name] = id
}

func (c *keySetCache) get(tenantID string) *keySet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sets[tenantID]
}

func (c *keySetCache) put(tenantID string, ks *keySet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = map[string]*keySet{}
	}
	c.sets[tenantID] = ks
}

func (c *keySetCache) forget(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		delete(c.sets, id)
	}
}

func (c *keySetCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sets = nil
}

// keySet returns the tenant's key set, read within KeySetMaxAge, creating the tenant's first
// key when it has none. fresh forces a read (a token names a key the set does not hold).
func (s *Service) keySet(ctx context.Context, tenantID string, fresh bool) (*keySet, error) {
	now := s.now()
	if ks := s.keySets.get(tenantID); ks != nil && now.Sub(ks.readAt) < KeySetMaxAge && !now.Before(ks.readAt) {
		if !fresh || now.Sub(ks.readAt) < time.Second {
			return ks, nil
		}
	}
	keys, err := s.store.SigningKeys(ctx, tenantID, now.Add(-MaxTokenLifetime))
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 || !keys[0].RetiredAt.IsZero() {
		// The first key is made on first use; a concurrent first use on another node wins
		// or loses in the store, and either way one key is active.
		k, err := s.newSigningKey(tenantID, AlgES256, now)
		if err != nil {
			return nil, err
		}
		e := s.event(ctx, tenantID, nil, "signing_key.create", "signing_key", k.ID, map[string]any{"alg": k.Alg})
		if _, _, err := s.store.RotateSigningKey(ctx, k, time.Time{}, e); err != nil {
			return nil, err
		}
		if keys, err = s.store.SigningKeys(ctx, tenantID, now.Add(-MaxTokenLifetime)); err != nil {
			return nil, err
		}
	}
	ks := &keySet{readAt: now, public: map[string]*jose.JSONWebKey{}}
	for _, k := range keys {
		var pub jose.JSONWebKey
		if err := json.Unmarshal([]byte(k.PublicJWK), &pub); err != nil {
			return nil, Internal(fmt.Errorf("signing key %s: %w", k.ID, err))
		}
		ks.public[k.ID] = &pub
		ks.list = append(ks.list, pub)
		if !k.RetiredAt.IsZero() || ks.signer != nil {
			continue
		}
		raw, err := s.Sealer.Open(k.PrivateSealed, SealedFor(SealedSigningKey, tenantID, k.ID))
		if err != nil {
			return nil, Internal(fmt.Errorf("signing key %s: %w", k.ID, err))
		}
		var priv jose.JSONWebKey
		if err := priv.UnmarshalJSON(raw); err != nil {
			return nil, Internal(fmt.Errorf("signing key %s: %w", k.ID, err))
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: &priv},
			(&jose.SignerOptions{}).WithType("at+jwt"))
		if err != nil {
			return nil, Internal(err)
		}
		ks.signer, ks.kid, ks.alg = signer, k.ID, k.Alg
	}
	if ks.signer == nil {
		return nil, Internal(errors.New("no active signing key"))
	}
	s.keySets.put(tenantID, ks)
	return ks, nil
}

// JWKSet returns the public keys that verify the tokens of the tenant named name: its active
// key and the retired keys whose tokens may not have expired yet, newest first.
//
// Returns ENOTFOUND if there is no such tenant, and EUNAVAILABLE if the database cannot be
// reached.
func (s *Service) JWKSet(ctx context.Context, name string) (*jose.JSONWebKeySet, error) {
	t, err := s.store.TenantByName(ctx, name)
	if err != nil {
		return nil, err
	}
	ks, err := s.keySet(ctx, t.ID, false)
	if err != nil {
		return nil, err
	}
	return &jose.JSONWebKeySet{Keys: ks.list}, nil
}
