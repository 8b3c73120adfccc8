package keyhaven

import (
	"context"
	"strings"
	"time"
)

// Principal is an authenticated caller: a credential acting for its owner user, with its
// effective permissions (its own intersected with its owner's current ones, implications
// applied).
type Principal struct {
	TenantID       string
	TenantName     string
	Kind           CredentialKind
	CredentialID   string
	CredentialName string
	UserID         string
	UserEmail      string
	Permissions    PermissionSet
	ExpiresAt      time.Time
}

// Require returns EFORBIDDEN unless p holds perm.
func (p *Principal) Require(perm Permission) error {
	if p.Permissions.Has(perm) {
		return nil
	}
	return Reasonf(EFORBIDDEN, "missing_permission", "this needs the %s permission", perm)
}

// CheckGrant returns EFORBIDDEN unless p holds every permission of s: nobody grants more than
// they hold.
func (p *Principal) CheckGrant(s PermissionSet) error {
	if missing := s.Missing(p.Permissions); missing != 0 {
		return Reasonf(EFORBIDDEN, "permission_escalation",
			"cannot grant permissions you do not hold: %s", strings.Join(missing.Strings(), ", "))
	}
	return nil
}

// RequestInfo describes the request a call serves, for the audit log.
type RequestInfo struct {
	RemoteAddr string
	RequestID  string
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying info.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the RequestInfo carried by ctx, if any.
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// MaySeeExpiringKeys reports whether ExpiringKeys shows p any key: API keys with
// KEY_MANAGEMENT, access keys with VIEW_ACCESS_KEYS_ANY or VIEW_ACCESS_KEYS_OWN (those of
// the applications p created).
func (p *Principal) MaySeeExpiringKeys() bool {
	return p.Permissions.Has(KEY_MANAGEMENT) || p.Permissions.Has(VIEW_ACCESS_KEYS_ANY) || p.Permissions.Has(VIEW_ACCESS_KEYS_OWN)
}
