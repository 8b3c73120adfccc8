package keyhaven

import (
	"context"
	"keyhaven.dev/keyhaven/secret"
	"time"
)

// Session is a login session's secret token, shown once.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Login checks a user's email and password and opens a session. Every failure, an unknown
// tenant included, is the same EUNAUTHORIZED and costs the same one argon2id check; failures
// for a known tenant are audited, unknown emails included.
//
// Guessing is limited (Guesses) per email: past its budget, sign-ins as that email are
// ERATELIMITED before any check, whether a user has it or not. Sign-ins with an email no user
// of the tenant has also count against the client's network (RequestInfo.RemoteAddr): past
// its budget, they are ERATELIMITED without the argon2id check they would cost, and so are
// wrong passwords from there, so that the answer tells no existing email apart. A right
// password is never refused because of other emails' failures, from any address.
//
// Returns EUNAUTHORIZED for a wrong tenant, email or password, ERATELIMITED past a guessing
// budget, and EUNAVAILABLE if the database cannot be reached or no hash slot frees up.
func (s *Service) Login(ctx context.Context, tenantName, email, password string) (*Session, error) {
	fail := Reasonf(EUNAUTHORIZED, "invalid_credentials", "wrong email or password")
	network, at := networkKey(RequestInfoFrom(ctx).RemoteAddr), s.Clock.Now()
	g, ok := s.Guesses.hold(emailKey(tenantName, email), at)
	if !ok {
		return nil, errGuessLimited
	}
	wrong := false // the guess stays taken only for a wrong email or password
	defer func() {
		if !wrong {
			g.release()
		}
	}()
	var t *Tenant
	var err error
	if ValidTenantName(tenantName) { // no tenant has another name: it is never looked up
		t, err = s.store.TenantByName(ctx, tenantName)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return nil, err
		}
	}
	var u *User
	var detail map[string]any
	if t != nil {
		email, err = NormalizeEmail("email", email)
		if err == nil {
			detail = map[string]any{"email": email}
			u, err = s.store.UserByEmail(ctx, t.ID, email)
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return nil, err
			}
		}
	}
	if u == nil {
		var n *guess
		if network != "" {
			if n, ok = s.Guesses.hold(network, at); !ok {
				return nil, errGuessLimited
			}
		}
		if err := s.failSlowly(ctx, password); err != nil {
			n.release()
			return nil, err
		}
		if t != nil {
			s.record(ctx, t.ID, nil, "session.create", "user", "", fail, detail)
		}
		wrong = true
		return nil, fail
	}
	networkBlocked := network != "" && s.Guesses.blocked(network, at)
	ok, err = s.checkPassword(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, err
	}
	if !ok {
		s.record(ctx, t.ID, nil, "session.create", "user", u.ID, fail, detail)
		wrong = true
		if networkBlocked {
			return nil, errGuessLimited
		}
		return nil, fail
	}
	now := s.now()
	token := secret.Generate(secret.Session)
	c := &Credential{
		ID: NewID("ses"), TenantID: t.ID, Kind: KindSession, OwnerID: u.ID,
		Hash: secret.Hash(token), Display: secret.Display(token), Permissions: AllPermissions,
		Active: true, ExpiresAt: now.Add(s.SessionTTL), CreatedAt: now,
	}
	e := s.event(ctx, t.ID, &Principal{Kind: KindSession, CredentialID: c.ID, UserID: u.ID}, "session.create", "session", c.ID, nil)
	if err := s.store.CreateCredential(ctx, c, e); err != nil {
		return nil, err
	}
	return &Session{Token: token, ExpiresAt: c.ExpiresAt}, nil
}

// Logout ends the session p authenticated with.
//
// Returns EINVALID if p is not a session, and EUNAVAILABLE if the database cannot be reached.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p.Kind != KindSession {
		return Reasonf(EINVALID, "not_a_session", "only a session token can log out")
	}
	e := s.event(ctx, p.TenantID, p, "session.delete", "session", p.CredentialID, nil)
	err := s.store.DeleteCredential(ctx, p.TenantID, p.CredentialID, e)
	if err == nil {
		s.invalidate(ctx, p.CredentialID)
	}
	s.failed(ctx, e, err)
	return err
}
