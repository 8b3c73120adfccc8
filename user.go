package keyhaven

import (
	"context"
	"keyhaven.dev/keyhaven/secret"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// User is a person or service account of a tenant. Every credential acts for a user, its
// owner. A deleted user keeps its row (for the audit trail) but nothing it owns works.
type User struct {
	ID           string
	TenantID     string
	Email        string
	PasswordHash string
	Permissions  PermissionSet
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DeletedAt    time.Time // zero while the user exists
}

// Deleted reports whether the user has been deleted.
func (u *User) Deleted() bool { return !u.DeletedAt.IsZero() }

// Password rules: long enough to resist guessing without other factors, short enough that
// hashing cannot be used to burn CPU.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// NormalizeEmail validates an email address and returns its canonical, lower-case form.
func NormalizeEmail(field, email string) (string, error) {
	invalid := func(msg string) error { return Invalid(FieldError{Field: field, Message: msg}) }
	if email == "" {
		return "", invalid("is required")
	}
	if len(email) > 254 {
		return "", invalid("must be at most 254 characters")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || !strings.Contains(email, "@") {
		return "", invalid("must be a plain email address such as name@example.com")
	}
	for _, r := range email {
		if r < 0x21 || r == 0x7f {
			return "", invalid("must not contain spaces or control characters")
		}
	}
	return strings.ToLower(email), nil
}

// ValidatePassword checks a password chosen by a caller.
func ValidatePassword(field, password string) error {
	switch n := utf8.RuneCountInString(password); {
	case !utf8.ValidString(password):
		return Invalid(FieldError{Field: field, Message: "must be valid UTF-8"})
	case n < MinPasswordLen:
		return Invalid(FieldError{Field: field, Message: "must be at least 12 characters"})
	case len(password) > MaxPasswordLen:
		return Invalid(FieldError{Field: field, Message: "must be at most 256 bytes"})
	case strings.ContainsFunc(password, unicode.IsControl):
		return Invalid(FieldError{Field: field, Message: "must not contain control characters"})
	}
	return nil
}

// CreateUserInput is what a caller gives to create a user.
type CreateUserInput struct {
	Email       string
	Password    *string // generated when nil
	Permissions []string
}

// UpdateUserInput changes a user; nil fields stay as they are.
type UpdateUserInput struct {
	Permissions *[]string
	Password    *string
	// CurrentPassword proves a user changing their own password knows it.
	CurrentPassword *string
}

// checkManage returns EFORBIDDEN unless p may manage target: p needs USER_MANAGEMENT and its
// effective permissions must hold every permission target holds, so that nobody alters or
// removes a user more privileged than the calling credential. It holds for p's own user too:
// a narrow key of an admin cannot demote or re-password the admin.
func checkManage(p *Principal, target *User) error {
	if err := p.Require(USER_MANAGEMENT); err != nil {
		return err
	}
	if missing := target.Permissions.Missing(p.Permissions); missing != 0 {
		return Reasonf(EFORBIDDEN, "user_more_privileged", "cannot manage a user holding permissions the calling credential does not hold")
	}
	return nil
}

// CreateUser creates a user of p's tenant holding at most p's permissions. When no password
// is given one is generated and returned, once.
//
// Returns EFORBIDDEN (missing_permission) unless p holds USER_MANAGEMENT; EINVALID if the
// email or password is invalid or a permission is unknown; EFORBIDDEN (permission_escalation)
// if a permission is one p does not hold; ECONFLICT (duplicate) if a live user of the tenant
// has the email; EUNAVAILABLE (busy) if too many password hashes are running.
func (s *Service) CreateUser(ctx context.Context, p *Principal, in CreateUserInput) (u *User, generated string, err error) {
	e := s.event(ctx, p.TenantID, p, "user.create", "user", "", map[string]any{"email": in.Email})
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(USER_MANAGEMENT); err != nil {
		return nil, "", err
	}
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return nil, "", err
	}
	perms, err := ParsePermissions("permissions", in.Permissions)
	if err != nil {
		return nil, "", err
	}
	if err := p.CheckGrant(perms); err != nil {
		return nil, "", err
	}
	password := ""
	if in.Password != nil {
		if err := ValidatePassword("password", *in.Password); err != nil {
			return nil, "", err
		}
		password = *in.Password
	} else {
		generated = secret.RandomString(GeneratedPasswordLen)
		password = generated
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	u = &User{
		ID: NewID("usr"), TenantID: p.TenantID, Email: email, PasswordHash: hash,
		Permissions: perms, CreatedAt: now, UpdatedAt: now,
	}
	e.TargetID = u.ID
	if err := s.store.CreateUser(ctx, u, e); err != nil {
		return nil, "", err
	}
	return u, generated, nil
}

// User returns a user of p's tenant. Users may read themselves; reading others needs
// USER_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) if the user is not p's own and p does not hold
// USER_MANAGEMENT; ENOTFOUND if there is no live user with that id in p's tenant.
func (s *Service) User(ctx context.Context, p *Principal, id string) (*User, error) {
	if id != p.UserID {
		if err := p.Require(USER_MANAGEMENT); err != nil {
			return nil, err
		}
	}
	if !ValidID("usr", id) {
		return nil, Errorf(ENOTFOUND, "user not found")
	}
	return s.store.User(ctx, p.TenantID, id)
}

// ListUsers lists the live users of p's tenant; it needs USER_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds USER_MANAGEMENT.
func (s *Service) ListUsers(ctx context.Context, p *Principal, page Page) ([]*User, error) {
	if err := p.Require(USER_MANAGEMENT); err != nil {
		return nil, err
	}
	return s.store.ListUsers(ctx, p.TenantID, page)
}

// UpdateUser changes a user's permissions and/or password.
//
// A user changes their own password only through a session of their own and with the current
// password; wrong current passwords count against the user's sign-in budget (Guesses), so
// that a session cannot guess the password that signs in. Everything else (anyone else's
// password, anyone's permissions, one's own included) needs USER_MANAGEMENT over a user no more privileged than p's effective
// permissions, and new permissions within them. A password change ends every session of the
// user but the one making it.
//
// Returns EINVALID if neither permissions nor password is given, currentPassword is given
// without a password, p changes its own user's password without currentPassword, a permission
// is unknown or the password is invalid; ENOTFOUND if there is no live user with that id in
// p's tenant; EFORBIDDEN (missing_permission) if the change needs USER_MANAGEMENT and p does
// not hold it, EFORBIDDEN (session_required) if p changes its own user's password through
// anything but a session, EFORBIDDEN (permission_escalation) if a new permission is one p does
// not hold, EFORBIDDEN (user_more_privileged) if the user holds a permission p does not,
// EFORBIDDEN (wrong_current_password) if currentPassword is wrong; ERATELIMITED if the user's
// sign-in budget is used up (checking one's own current password); ECONFLICT
// (password_changed) if the password changed after currentPassword was checked; EUNAVAILABLE
// (busy) if too many password hashes are running.
func (s *Service) UpdateUser(ctx context.Context, p *Principal, id string, in UpdateUserInput) (u *User, err error) {
	e := s.event(ctx, p.TenantID, p, "user.update", "user", id, updateDetail(in))
	defer func() { s.failed(ctx, e, err) }()
	if in.Permissions == nil && in.Password == nil {
		return nil, Invalid(FieldError{Field: "body", Message: "name at least one of permissions, password"})
	}
	if in.CurrentPassword != nil && in.Password == nil {
		return nil, Invalid(FieldError{Field: "currentPassword", Message: "is only given with a new password"})
	}
	if !ValidID("usr", id) {
		return nil, Errorf(ENOTFOUND, "user not found")
	}
	self := id == p.UserID
	manage := !self || in.Permissions != nil
	if manage {
		if err := p.Require(USER_MANAGEMENT); err != nil {
			return nil, err
		}
	}
	if self && in.Password != nil {
		if p.Kind != KindSession {
			return nil, Reasonf(EFORBIDDEN, "session_required", "a user changes their own password only when signed in with it")
		}
		if in.CurrentPassword == nil {
			return nil, Invalid(FieldError{Field: "currentPassword", Message: "is required to change your own password"})
		}
	}
	var perms PermissionSet
	if in.Permissions != nil {
		if perms, err = ParsePermissions("permissions", *in.Permissions); err != nil {
			return nil, err
		}
		if err := p.CheckGrant(perms); err != nil {
			return nil, err
		}
	}
	// Password checks and hashing take a while: they happen before the user's row is held,
	// and the change then holds only if the password is still the one that was checked.
	var checked, hash string
	var end *EndSessions
	if in.Password != nil {
		if err := ValidatePassword("password", *in.Password); err != nil {
			return nil, err
		}
		u, err := s.store.User(ctx, p.TenantID, id)
		if err != nil {
			return nil, err
		}
		if manage {
			if err := checkManage(p, u); err != nil {
				return nil, err
			}
		}
		if self {
			g, ok := s.Guesses.hold(emailKey(p.TenantName, u.Email), s.Clock.Now())
			if !ok {
				return nil, errGuessLimited
			}
			ok, err := s.checkPassword(ctx, *in.CurrentPassword, u.PasswordHash)
			if err != nil {
				g.release()
				return nil, err
			}
			if !ok {
				return nil, Reasonf(EFORBIDDEN, "wrong_current_password", "the current password is wrong")
			}
			g.release()
			checked = u.PasswordHash
		}
		if hash, err = s.hashPassword(ctx, *in.Password); err != nil {
			return nil, err
		}
		end = &EndSessions{}
		if self {
			end.Keep = p.CredentialID
		}
	}
	now := s.now()
	u, err = s.store.UpdateUser(ctx, p.TenantID, id, func(u *User) error {
		if manage {
			if err := checkManage(p, u); err != nil {
				return err
			}
		}
		if checked != "" && u.PasswordHash != checked {
			return Reasonf(ECONFLICT, "password_changed", "the password changed meanwhile; try again with the current one")
		}
		if in.Permissions != nil {
			u.Permissions = perms
		}
		if in.Password != nil {
			u.PasswordHash = hash
		}
		u.UpdatedAt = now
		return nil
	}, end, e)
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, u.ID)
	return u, nil
}

func updateDetail(in UpdateUserInput) map[string]any {
	d := map[string]any{"passwordChanged": in.Password != nil}
	if in.Permissions != nil {
		d["permissions"] = *in.Permissions
	}
	return d
}

// DeleteUser deletes a user; every credential and application it owns stops working at once.
// Nobody deletes themselves or a user more privileged than themselves.
//
// Returns EFORBIDDEN (missing_permission) unless p holds USER_MANAGEMENT, EFORBIDDEN
// (self_delete) if the user is the one p acts for, EFORBIDDEN (user_more_privileged) if the
// user holds a permission p does not; ENOTFOUND if there is no live user with that id in p's
// tenant.
func (s *Service) DeleteUser(ctx context.Context, p *Principal, id string) (err error) {
	e := s.event(ctx, p.TenantID, p, "user.delete", "user", id, nil)
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(USER_MANAGEMENT); err != nil {
		return err
	}
	if id == p.UserID {
		return Reasonf(EFORBIDDEN, "self_delete", "cannot delete the user you act for")
	}
	if !ValidID("usr", id) {
		return Errorf(ENOTFOUND, "user not found")
	}
	if err := s.store.DeleteUser(ctx, p.TenantID, id, func(u *User) error {
		if err := checkManage(p, u); err != nil {
			return err
		}
		e.Notices = nil
		e.announce(EventUserDeleted, func() any { return ViewUser(u) })
		return nil
	}, s.now(), e); err != nil {
		return err
	}
	// The tenant too: keys of the user's applications owned by other users were revoked.
	s.invalidate(ctx, id, p.TenantID)
	return nil
}

// CountUserCredentials returns how many credentials would stop working if the user were
// deleted.
//
// Returns what User returns: EFORBIDDEN (missing_permission) if the user is not p's own and p
// does not hold USER_MANAGEMENT; ENOTFOUND if there is no live user with that id in p's
// tenant.
func (s *Service) CountUserCredentials(ctx context.Context, p *Principal, id string) (int, error) {
	if _, err := s.User(ctx, p, id); err != nil {
		return 0, err
	}
	return s.store.CountOwnedCredentials(ctx, p.TenantID, id, s.now())
}

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
