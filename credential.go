package keyhaven

import (
	"context"
	"time"

	"keyhaven.dev/keyhaven/secret"
)

// CredentialKind names a kind of credential.
type CredentialKind string

const (
	KindAPIKey    CredentialKind = "api_key"
	KindAccessKey CredentialKind = "access_key"
	KindSession   CredentialKind = "session"
)

// KindOf returns the credential kind of a secret kind.
func KindOf(k secret.Kind) CredentialKind { return CredentialKind(k.String()) }

// Credential is a bearer secret's stored record: never the secret itself, only its hash and
// a non-secret display prefix. API keys, access keys and sessions share it, so that resolving
// any secret is one indexed lookup by hash.
type Credential struct {
	ID            string
	TenantID      string
	Kind          CredentialKind
	OwnerID       string // the user it acts for
	Name          string
	Description   string
	ApplicationID string // access keys only
	Hash          string
	Display       string
	Permissions   PermissionSet // its own; sessions hold every permission and get their owner's
	Active        bool
	ExpiresAt     time.Time // zero: never
	RevokedAt     time.Time // zero: not revoked
	CreatedAt     time.Time
	LastUsedAt    time.Time // zero: never used
	// ExpiryNotice is which expiry notices the key has had (see NoteExpiringKeys).
	ExpiryNotice int
	// Policy governs API keys and access keys; sessions have none.
	Policy
}

// Expired reports whether c has expired at now.
func (c *Credential) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)
}

// Resolution is a credential found by its hash, with the tenant and owner it needs to be
// judged.
type Resolution struct {
	Credential *Credential
	Tenant     *Tenant
	Owner      *User
	// SecretExpiresAt, when set, says the secret was the credential's before a rotation: it
	// works until then, and is EXPIRED after.
	SecretExpiresAt time.Time
}

// CredentialResolver finds a credential by the hash of its secret.
type CredentialResolver interface {
	// ResolveCredential returns the credential, its tenant and owner, or ENOTFOUND.
	ResolveCredential(ctx context.Context, hash string) (*Resolution, error)
}

func (s *Service) resolver() CredentialResolver {
	if s.Credentials != nil {
		return s.Credentials
	}
	return s.store
}
