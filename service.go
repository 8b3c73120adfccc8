package keyhaven

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"keyhaven/secret"
)

// Service holds keyhaven's business rules. REST, GraphQL and the console all call it, so
// that every transport enforces the same rules.
type Service struct {
	store Store
	Clock Clock
	Log   *slog.Logger
	// PasswordParams are the argon2id parameters for user passwords.
	PasswordParams secret.Argon2Params
	// SessionTTL is how long a login session lasts.
	SessionTTL time.Duration
	// Sealer encrypts what is kept at rest for a while: batch passwords and replayable
	// responses of idempotent requests.
	Sealer *secret.Sealer
	// BatchRetention is how long a finished batch task keeps its passwords.
	BatchRetention time.Duration
	// BatchSubmitted, when set, is told of each new batch task, to start it at once.
	BatchSubmitted func()
	// Credentials resolves secrets' hashes: a cache in front of Store, or Store when nil.
	Credentials CredentialResolver
	// Invalidated, when set, is told the ids (of credentials, users, applications or
	// tenants) whose credentials changed, after the change is stored, so that caches on
	// every node drop what they hold of them.
	Invalidated func(ctx context.Context, ids ...string)
	// Used, when set, is told each time a credential is judged valid, to record its last use.
	Used func(c *Credential, at time.Time)
	// Hashes bounds the slow password hashes running at once.
	Hashes *HashLimiter
	// Guesses limits failed sign-ins and device verifications; nil limits nothing.
	Guesses *GuessLimiter

	bursts burstCounter
	dummyState
}

// NewService returns a Service over store with the production defaults.
func NewService(store Store, log *slog.Logger) *Service {
	return &Service{
		store:          store,
		Clock:          SystemClock(),
		Log:            log,
		PasswordParams: secret.OWASP,
		SessionTTL:     12 * time.Hour,
		BatchRetention: 24 * time.Hour,
		Hashes:         NewHashLimiter(HashSlots(0, secret.OWASP.Memory)),
		Guesses:        NewGuessLimiter(0, 0),
	}
}

// GeneratedPasswordLen is the length of generated passwords: 24 base62 characters, 142 bits.
const GeneratedPasswordLen = 24

// CreateTenant creates a tenant with its first admin user (every permission, a generated
// password) and a "bootstrap" API key holding every permission, and returns the secrets once.
//
// Returns EINVALID if the name or email is malformed, ECONFLICT if a tenant has the name, and
// EUNAVAILABLE if the database cannot be reached.
func (s *Service) CreateTenant(ctx context.Context, name, adminEmail string) (*TenantCreated, error) {
	if !ValidTenantName(name) {
		return nil, Invalid(FieldError{Field: "name", Message: "must match ^[a-z0-9][a-z0-9-]{1,62}$"})
	}
	email, err := NormalizeEmail("adminEmail", adminEmail)
	if err != nil {
		return nil, err
	}
	now := s.now()
	t := &Tenant{ID: NewID("tnt"), Name: name, CreatedAt: now, Limits: DefaultLimits}
	password := secret.RandomString(GeneratedPasswordLen)
	admin := &User{
		ID: NewID("usr"), TenantID: t.ID, Email: email,
		PasswordHash: secret.HashPassword(password, s.PasswordParams),
		Permissions:  AllPermissions, CreatedAt: now, UpdatedAt: now,
	}
	key := secret.Generate(secret.APIKey)
	cred := &Credential{
		ID: NewID("key"), TenantID: t.ID, Kind: KindAPIKey, OwnerID: admin.ID, Name: "bootstrap",
		Hash: secret.Hash(key), Display: secret.Display(key), Permissions: AllPermissions,
		Active: true, CreatedAt: now,
	}
	e := s.event(ctx, t.ID, nil, "tenant.create", "tenant", t.ID, map[string]any{"name": name, "adminUserId": admin.ID, "apiKeyId": cred.ID})
	if err := s.store.CreateTenant(ctx, t, admin, cred, e); err != nil {
		return nil, err
	}
	return &TenantCreated{Tenant: t, Name: name, AdminEmail: email, AdminPassword: password, APIKey: key}, nil
}

// MaxLimit is the largest value of any tenant limit.
const MaxLimit = 100000

// SetTenantLimits changes a tenant's limits; an operator's command, not an API call.
//
// Returns EINVALID if a limit is out of range, ENOTFOUND if no tenant has the name, and
// EUNAVAILABLE if the database cannot be reached.
func (s *Service) SetTenantLimits(ctx context.Context, name string, l Limits) error {
	var bad []FieldError
	for _, f := range []struct {
		field string
		n     int
	}{{"maxApplications", l.Applications}, {"maxAccessKeysPerApplication", l.AccessKeysPerApplication}, {"maxApiKeys", l.APIKeys}} {
		if f.n < 0 || f.n > MaxLimit {
			bad = append(bad, FieldError{Field: f.field, Message: fmt.Sprintf("must be between 0 and %d", MaxLimit)})
		}
	}
	if len(bad) > 0 {
		return Invalid(bad...)
	}
	t, err := s.store.TenantByName(ctx, name)
	if err != nil {
		return err
	}
	e := s.event(ctx, t.ID, nil, "tenant.update", "tenant", t.ID, map[string]any{"limits": l})
	err = s.store.SetTenantLimits(ctx, t.ID, l, e)
	s.failed(ctx, e, err)
	return err
}

// TenantLimits returns the limits of p's tenant.
//
// Returns ENOTFOUND if the tenant was deleted, and EUNAVAILABLE if the database cannot be
// reached.
func (s *Service) TenantLimits(ctx context.Context, p *Principal) (Limits, error) {
	t, err := s.store.TenantByName(ctx, p.TenantName)
	if err != nil {
		return Limits{}, err
	}
	return t.Limits, nil
}

// Bootstrap creates the default tenant when the database has no tenant at all and returns
// its credentials; it returns nil when there was already a tenant (or another node created
// one at the same moment).
//
// Returns EINVALID if the email is malformed, and EUNAVAILABLE if the database cannot be
// reached.
func (s *Service) Bootstrap(ctx context.Context, adminEmail string) (*TenantCreated, error) {
	n, err := s.store.CountTenants(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	created, err := s.CreateTenant(ctx, DefaultTenant, adminEmail)
	if ErrorCode(err) == ECONFLICT {
		return nil, nil
	}
	return created, err
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

// invalidate tells caches that the credentials of ids changed.
func (s *Service) invalidate(ctx context.Context, ids ...string) {
	if s.Invalidated != nil {
		s.Invalidated(ctx, ids...)
	}
}

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

// RunGarbageCollection calls CollectGarbage on the service's clock, interval after the
// previous run ended, until ctx ends.
func (s *Service) RunGarbageCollection(ctx context.Context, interval time.Duration) {
	t := s.Clock.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
			if n, err := s.CollectGarbage(ctx); err != nil {
				s.Log.ErrorContext(ctx, "garbage collection failed", "err", err)
			} else if n > 0 {
				s.Log.InfoContext(ctx, "garbage collection", "deleted", n)
			}
			t.Reset(interval)
		}
	}
}

// now is the service's clock reading in UTC, at the microsecond precision the stores keep.
func (s *Service) now() time.Time { return s.Clock.Now().UTC().Truncate(time.Microsecond) }
