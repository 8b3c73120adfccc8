package sdk

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Codes of a Verdict. Those of POST /api/verify are keyhaven's own; CodeInvalidToken is the
// SDK's answer for an access token that fails offline verification for any reason but expiry.
const (
	CodeValid                   = "VALID"
	CodeNotFound                = "NOT_FOUND"
	CodeExpired                 = "EXPIRED"
	CodeRevoked                 = "REVOKED"
	CodeDisabled                = "DISABLED"
	CodeInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	CodeRateLimited             = "RATE_LIMITED"
	CodeUsageExceeded           = "USAGE_EXCEEDED"
	CodeIPNotAllowed            = "IP_NOT_ALLOWED"
	CodeInvalidToken            = "INVALID_TOKEN"
)

// Verdict is what keyhaven, or the tenant's signature on an access token, says of a credential.
type Verdict struct {
	Valid bool `json:"valid"`
	// Code is CodeValid when Valid, else why the credential was refused.
	Code string `json:"code"`
	// Tenant, Kind, ID, Name and Owner say who the credential is (Name is empty for an access
	// token, which does not carry it; ID is the credential's id, an access token's sub).
	Tenant string `json:"tenant,omitempty"`
	Kind   string `json:"kind,omitempty"`
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	Owner  string `json:"owner,omitempty"`
	// Permissions are the credential's effective permissions (an access token's scope).
	Permissions []string `json:"permissions"`
	// ExpiresAt is when the credential (or the access token) expires; zero when it does not.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Meta is the key's metadata object for the service, {} when it has none.
	Meta json.RawMessage `json:"meta,omitempty"`
	// RateLimit and Credits are the key's as this use left them, when it has them.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	Credits   *Credits   `json:"credits,omitempty"`
}

// RateLimit is a key's rate limit as a verification left it.
type RateLimit struct {
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
	ResetAt   time.Time `json:"resetAt"`
}

// Credits are a key's credits as a verification left them.
type Credits struct {
	Remaining int64 `json:"remaining"`
}

// Has reports whether the verdict is valid and carries every one of perms.
func (v *Verdict) Has(perms ...string) bool {
	if v == nil || !v.Valid {
		return false
	}
	for _, p := range perms {
		if !slices.Contains(v.Permissions, p) {
			return false
		}
	}
	return true
}

// clone returns a copy of v sharing no slice with it.
func (v *Verdict) clone() *Verdict {
	c := *v
	c.Permissions = slices.Clone(v.Permissions)
	c.Meta = slices.Clone(v.Meta)
	if v.RateLimit != nil {
		rl := *v.RateLimit
		c.RateLimit = &rl
	}
	if v.Credits != nil {
		cr := *v.Credits
		c.Credits = &cr
	}
	return &c
}

type verdictKey struct{}

// WithVerdict returns a copy of ctx carrying v.
func WithVerdict(ctx context.Context, v *Verdict) context.Context {
	return context.WithValue(ctx, verdictKey{}, v)
}

// VerdictFrom returns the verdict the Middleware put in ctx, and whether there is one.
func VerdictFrom(ctx context.Context) (*Verdict, bool) {
	v, ok := ctx.Value(verdictKey{}).(*Verdict)
	return v, ok && v != nil
}
