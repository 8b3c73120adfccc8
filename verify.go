package keyhaven

import (
	"context"

	"keyhaven/secret"
)

// Verification is the outcome of verifying a secret for a downstream service.
type Verification struct {
	Code string
	// Set when the credential was found: its record, tenant and owner.
	Credential *Credential
	Tenant     *Tenant
	Owner      *User
	// Set when the credential is good (VALID or INSUFFICIENT_PERMISSIONS).
	Principal *Principal
}

// Verify judges a secret at this instant for a downstream service. A malformed or
// checksum-broken secret is refused before any read. When tenantID is set (the caller is a
// credential of that tenant), another tenant's secret is NOT_FOUND, exactly like an unknown
// one. When required is set and the credential lacks any of it, the code is
// INSUFFICIENT_PERMISSIONS.
func (s *Service) Verify(ctx context.Context, tenantID, bearer string, required PermissionSet) (*Verification, error) {
	notFound := &Verification{Code: CodeNotFound}
	if _, err := secret.Parse(bearer); err != nil {
		return notFound, nil
	}
	r, err := s.resolver().ResolveCredential(ctx, secret.Hash(bearer))
	if ErrorCode(err) == ENOTFOUND {
		return notFound, nil
	}
	if err != nil {
		return nil, err
	}
	if tenantID != "" && r.Tenant.ID != tenantID {
		return notFound, nil
	}
	now := s.now()
	p, code := Judge(r, now)
	v := &Verification{Code: code, Credential: r.Credential, Tenant: r.Tenant, Owner: r.Owner, Principal: p}
	if code != CodeValid {
		return v, nil
	}
	if s.Used != nil {
		s.Used(r.Credential, now)
	}
	if required&^p.Permissions != 0 {
		v.Code = CodeInsufficientPermissions
	}
	return v, nil
}
