package keyhaven

import (
	"time"

	"keyhaven/secret"
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
}

// Verification codes: the outcome of judging a secret.
const (
	CodeValid                   = "VALID"
	CodeNotFound                = "NOT_FOUND"
	CodeExpired                 = "EXPIRED"
	CodeRevoked                 = "REVOKED"
	CodeDisabled                = "DISABLED"
	CodeInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	CodeRateLimited             = "RATE_LIMITED"
)

// Judge decides whether a resolved credential is good at now and returns a verification code
// and, when VALID, the principal it stands for. Status is computed here, at use time, so an
// expiring credential fails the instant it expires.
func Judge(r *Resolution, now time.Time) (*Principal, string) {
	c, owner := r.Credential, r.Owner
	switch {
	case owner.Deleted():
		return nil, CodeRevoked
	case !c.RevokedAt.IsZero():
		return nil, CodeRevoked
	case c.Expired(now):
		return nil, CodeExpired
	case !c.Active:
		return nil, CodeDisabled
	}
	return &Principal{
		TenantID:       r.Tenant.ID,
		TenantName:     r.Tenant.Name,
		Kind:           c.Kind,
		CredentialID:   c.ID,
		CredentialName: c.Name,
		UserID:         owner.ID,
		UserEmail:      owner.Email,
		Permissions:    c.Permissions.Intersect(owner.Permissions),
		ExpiresAt:      c.ExpiresAt,
	}, CodeValid
}
