package keyhaven

import (
	"context"

	"keyhaven/secret"
)

// PasswordReset is a user's new generated password, shown once.
type PasswordReset struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// ResetPassword gives the live user with email in the tenant named tenantName a new generated
// password and ends every session of the user: the operator's way back in for a user who lost
// their password, the tenant's last admin included. It is an operator's command, not an API
// call, and is audited as a system action.
//
// Returns ENOTFOUND if there is no tenant with that name or it has no live user with the
// email; EINVALID if the email is malformed; EUNAVAILABLE (busy) if too many password hashes
// are running.
func (s *Service) ResetPassword(ctx context.Context, tenantName, email string) (r *PasswordReset, err error) {
	t, err := s.store.TenantByName(ctx, tenantName)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "there is no tenant %q", tenantName)
	}
	if err != nil {
		return nil, err
	}
	e := s.event(ctx, t.ID, nil, "user.password_reset", "user", "", map[string]any{"email": email})
	defer func() { s.failed(ctx, e, err) }()
	addr, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	password := secret.RandomString(GeneratedPasswordLen)
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	u, err := s.store.UserByEmail(ctx, t.ID, addr)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "tenant %q has no user %q", tenantName, addr)
	}
	if err != nil {
		return nil, err
	}
	e.TargetID = u.ID
	now := s.now()
	if u, err = s.store.UpdateUser(ctx, t.ID, u.ID, func(u *User) error {
		u.PasswordHash, u.UpdatedAt = hash, now
		return nil
	}, &EndSessions{}, e); err != nil {
		return nil, err
	}
	s.invalidate(ctx, u.ID)
	return &PasswordReset{Tenant: t.Name, Email: u.Email, Password: password}, nil
}
