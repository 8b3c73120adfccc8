package keyhaven

import (
	"context"
	"net/netip"
	"time"

	"keyhaven.dev/keyhaven/ratelimit"
	"keyhaven.dev/keyhaven/secret"
)

// Use is one use of a credential, to be judged: a bearer secret presented to keyhaven's API,
// the console or verify, or a device's username and password presented to device verify.
// Every transport judges every use through Service.Judge, and only maps the Verdict.
type Use struct {
	// Secret is a bearer secret: an API key, access key or session token.
	Secret string
	// Device, instead of Secret, is a device access's username and password, presented by
	// Caller (a gateway) to device verify.
	Device *DeviceLogin
	Caller *Principal
	// Scope, when set, is the only tenant (by id) whose credentials the use may find: another
	// tenant's is NOT_FOUND, exactly like an unknown one (verify by a tenant's credential).
	Scope string
	// Tenant, when set, is the tenant (by name) whose API the bearer calls: another tenant's
	// credential is WRONG_TENANT.
	Tenant string
	// Kind, when set, is the only kind of credential the use takes (the console takes
	// sessions): another kind is NOT_FOUND.
	Kind CredentialKind
	// Required are the permissions the credential must hold.
	Required PermissionSet
	// IP is the address of the client that presented the secret; not valid when unknown,
	// which no IP allowlist admits.
	IP netip.Addr
	// Cost is what the use takes from the credential's rate limit and, for a verification,
	// its credits.
	Cost int64
	// Verification is a use through verify: it takes credits too.
	Verification bool
	// ClientID, when set, is the only credential (by id) the secret may find: another is
	// NOT_FOUND (an OAuth client's id and secret).
	ClientID string
	// Tokens says the use takes access tokens as well as secrets (verify).
	Tokens bool
}

// APIUse is the use of a bearer secret on keyhaven's own API, at the path of the tenant
// named tenant (empty for a path of no tenant): from the client address of the request ctx
// serves, taking one unit of the credential's rate limit.
func APIUse(ctx context.Context, secret, tenant string) Use {
	ip, _ := netip.ParseAddr(RequestInfoFrom(ctx).RemoteAddr)
	return Use{Secret: secret, Tenant: tenant, IP: ip, Cost: 1}
}

// DeviceLogin is what a device presents: its access's username and password.
type DeviceLogin struct {
	Username, Password string
}

// VerdictCode is the outcome of judging a credential use.
type VerdictCode string

// Verdict codes. Verify answers the codes of secrets; device verify those of devices.
const (
	CodeValid                   VerdictCode = "VALID"
	CodeNotFound                VerdictCode = "NOT_FOUND"
	CodeExpired                 VerdictCode = "EXPIRED"
	CodeRevoked                 VerdictCode = "REVOKED"
	CodeDisabled                VerdictCode = "DISABLED"
	CodeInsufficientPermissions VerdictCode = "INSUFFICIENT_PERMISSIONS"
	CodeRateLimited             VerdictCode = "RATE_LIMITED"
	CodeUsageExceeded           VerdictCode = "USAGE_EXCEEDED"
	CodeIPNotAllowed            VerdictCode = "IP_NOT_ALLOWED"
	// CodeWrongTenant is a good credential used on another tenant's API; never a verify answer.
	CodeWrongTenant VerdictCode = "WRONG_TENANT"

	// Device codes (EXPIRED too: past the access's validity period).
	CodeInvalidCredentials VerdictCode = "INVALID_CREDENTIALS"
	CodeNotYetValid        VerdictCode = "NOT_YET_VALID"
	CodeSuspended          VerdictCode = "SUSPENDED"
	CodeTerminated         VerdictCode = "TERMINATED"
)

// Verdict is the judgement of one credential use.
type Verdict struct {
	Code VerdictCode
	// Set once a bearer secret's credential is found: its record, tenant and owner.
	Credential *Credential
	Tenant     *Tenant
	Owner      *User
	// Set once the credential is judged in force (its state passed): who it stands for and
	// its effective permissions.
	Principal *Principal
	// Access is the device access, set once the device's password was right.
	Access *Access
	// RateLimit is the credential's rate limit as the use left it, once it was checked.
	RateLimit *ratelimit.Decision
	// Credits are the credits the use left, once they were checked.
	Credits *int64
	// Token is the access token presented, once its signature was good.
	Token *TokenClaims

	missing bool      // no secret was presented at all
	at      time.Time // when it was judged
}

// At returns when the verdict was reached, on the service's clock.
func (v *Verdict) At() time.Time { return v.at }

// Valid reports whether the use may go on.
func (v *Verdict) Valid() bool { return v.Code == CodeValid }

// Err returns nil for a VALID verdict and otherwise the error a caller of keyhaven's own API
// gets: EUNAUTHORIZED for a credential that is missing, unknown or not in force, EFORBIDDEN
// for another tenant's credential or missing permissions, ERATELIMITED past a rate limit.
func (v *Verdict) Err() error {
	switch v.Code {
	case CodeValid:
		return nil
	case CodeWrongTenant:
		return Reasonf(EFORBIDDEN, "wrong_tenant", "the credential belongs to another tenant")
	case CodeInsufficientPermissions:
		return Reasonf(EFORBIDDEN, "missing_permission", "the credential lacks a permission this needs")
	case CodeIPNotAllowed:
		return Reasonf(EFORBIDDEN, "ip_not_allowed", "the credential is not good from this address")
	case CodeUsageExceeded:
		return Reasonf(EFORBIDDEN, "usage_exceeded", "the credential has no credits left")
	case CodeRateLimited:
		e := Reasonf(ERATELIMITED, "rate_limited", "the credential's rate limit is used up; try again later")
		if v.RateLimit != nil {
			e.RetryAfter = v.RateLimit.RetryAfter(v.at)
		}
		return e
	}
	if v.missing {
		return Reasonf(EUNAUTHORIZED, "missing_credential", "a bearer credential is required")
	}
	return Reasonf(EUNAUTHORIZED, "invalid_credential", "the credential is not valid")
}

// judging is one use being judged, with its verdict: one allocation a use.
type judging struct {
	Use
	v   Verdict
	now time.Time
	// secretExpires is when the presented secret stops working, when a rotation replaced it.
	secretExpires time.Time
}

// judgeSteps are the checks of a use in the contract's order ("Verify"): found, state
// (revoked, expired, disabled), tenant, IP allowlist, permissions, rate limit, credits. The
// first step that refuses decides the verdict. A key policy's check slots in at its place.
var judgeSteps = [...]func(s *Service, ctx context.Context, j *judging) error{
	(*Service).judgeFound,
	(*Service).judgeState,
	(*Service).judgeTenant,
	(*Service).judgeIP,
	(*Service).judgePermissions,
	(*Service).judgeRate,
	(*Service).judgeCredits,
}

// Judge judges one use of a credential at this instant and returns its verdict. A malformed
// or checksum-broken secret is NOT_FOUND before any read. The error is not a verdict: keyhaven
// could not judge.
//
// Returns ERATELIMITED if the device's username has used up its guessing budget (Guesses),
// and EUNAVAILABLE if the database cannot be reached or no slot for a device's password hash
// frees up.
func (s *Service) Judge(ctx context.Context, u Use) (*Verdict, error) {
	now := s.now()
	j := &judging{Use: u, v: Verdict{Code: CodeValid, at: now}, now: now}
	for _, step := range judgeSteps {
		if err := step(s, ctx, j); err != nil {
			return nil, err
		}
		if j.v.Code != CodeValid {
			break
		}
	}
	if s.Judged != nil {
		s.Judged(&j.Use, &j.v)
	}
	return &j.v, nil
}

// Authenticate judges a bearer use of keyhaven's own API and returns the principal it stands
// for.
//
// Returns EUNAUTHORIZED for a missing, malformed, unknown, revoked, expired, inactive or
// owner-deleted credential, EFORBIDDEN for another tenant's credential (u.Tenant) or missing
// permissions (u.Required), and EUNAVAILABLE if the database cannot be reached.
func (s *Service) Authenticate(ctx context.Context, u Use) (*Principal, error) {
	v, err := s.Judge(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return v.Principal, nil
}

// judgeFound finds the credential: a bearer secret's by the hash of the secret, a device's by
// its username and password.
func (s *Service) judgeFound(ctx context.Context, j *judging) error {
	if j.Device != nil {
		return s.findDevice(ctx, j)
	}
	v := &j.v
	if j.Secret == "" {
		v.Code, v.missing = CodeNotFound, true
		return nil
	}
	if j.Tokens && looksLikeToken(j.Secret) {
		return s.findToken(ctx, j)
	}
	if _, err := secret.Parse(j.Secret); err != nil {
		v.Code = CodeNotFound
		return nil
	}
	r, err := s.resolver().ResolveCredential(ctx, secret.Hash(j.Secret))
	switch {
	case ErrorCode(err) == ENOTFOUND:
		v.Code = CodeNotFound
		return nil
	case err != nil:
		return err
	case j.Scope != "" && r.Tenant.ID != j.Scope, j.Kind != "" && r.Credential.Kind != j.Kind,
		j.ClientID != "" && r.Credential.ID != j.ClientID:
		v.Code = CodeNotFound
		return nil
	}
	v.Credential, v.Tenant, v.Owner = r.Credential, r.Tenant, r.Owner
	j.secretExpires = r.SecretExpiresAt
	return nil
}

// judgeState judges whether the credential is in force at this instant: status is computed at
// use time, so an expiring credential fails the instant it expires. A credential in force is
// recorded as used.
func (s *Service) judgeState(ctx context.Context, j *judging) error {
	if j.Device != nil {
		s.judgeDevice(ctx, j)
		return nil
	}
	v := &j.v
	if v.Token != nil && v.Access != nil {
		s.judgeTokenDevice(j)
		return nil
	}
	c, owner := v.Credential, v.Owner
	switch {
	case owner.Deleted(), !c.RevokedAt.IsZero():
		v.Code = CodeRevoked
	case c.Expired(j.now), !j.secretExpires.IsZero() && !j.now.Before(j.secretExpires):
		v.Code = CodeExpired
	case !c.Active:
		v.Code = CodeDisabled
	default:
		v.Principal = &Principal{
			TenantID:       v.Tenant.ID,
			TenantName:     v.Tenant.Name,
			Kind:           c.Kind,
			CredentialID:   c.ID,
			CredentialName: c.Name,
			UserID:         owner.ID,
			UserEmail:      owner.Email,
			Permissions:    c.Permissions.Intersect(owner.Permissions),
			ExpiresAt:      c.ExpiresAt,
		}
		if t := v.Token; t != nil {
			// A token holds its scope of the permissions the credential holds now.
			v.Principal.Permissions = v.Principal.Permissions.Intersect(t.scope())
			v.Principal.ExpiresAt = t.ExpiresAt()
		}
		if s.Used != nil {
			s.Used(c, j.now)
		}
	}
	return nil
}

// judgeTenant refuses a good credential used on another tenant's API.
func (s *Service) judgeTenant(_ context.Context, j *judging) error {
	if j.Tenant != "" && j.v.Tenant != nil && j.v.Tenant.Name != j.Tenant {
		j.v.Code = CodeWrongTenant
	}
	return nil
}

// judgeIP refuses a credential with an IP allowlist that does not hold the client's address
// (or was given none).
func (s *Service) judgeIP(_ context.Context, j *judging) error {
	if c := j.v.Credential; c != nil && j.v.Principal != nil && !c.Allows(j.IP) {
		j.v.Code = CodeIPNotAllowed
	}
	return nil
}

// judgeRate takes the use's cost from the credential's rate limit.
func (s *Service) judgeRate(ctx context.Context, j *judging) error {
	c := j.v.Credential
	if c == nil || c.RateLimit == nil || j.v.Principal == nil {
		return nil
	}
	d, err := s.Rates.Take(ctx, c.ID, c.RateLimit.limit(), j.Cost, j.now)
	if err != nil {
		return err
	}
	j.v.RateLimit = &d
	if !d.OK {
		j.v.Code = CodeRateLimited
	}
	return nil
}

// judgeCredits takes a verification's cost from the credential's credits, in one write that
// refuses when fewer remain, so that no number of nodes answers VALID more often than there
// were credits. A refused use gives back what it took from the rate limit: only a VALID
// answer consumes.
func (s *Service) judgeCredits(ctx context.Context, j *judging) error {
	c := j.v.Credential
	if c == nil || c.Credits == nil || !j.Verification || j.v.Principal == nil {
		return nil
	}
	remaining, ok, err := s.store.TakeCredits(ctx, c.ID, j.Cost, RefillPeriodsAt(j.now))
	if ErrorCode(err) == ENOTFOUND {
		return nil // its credits were removed meanwhile
	}
	if err == nil {
		j.v.Credits = &remaining
		if ok {
			return nil
		}
		j.v.Code = CodeUsageExceeded
		if c.Credits.exceededNoticeDue(j.now) {
			s.noteUsageExceeded(ctx, c, j.now)
		}
	}
	if rl := j.v.RateLimit; rl != nil {
		s.Rates.Return(c.ID, c.RateLimit.limit(), j.Cost, j.now)
		// The verdict says what the use left: what it took is given back.
		rl.Remaining = min(rl.Limit, rl.Remaining+j.Cost)
	}
	return err
}

// judgePermissions refuses a credential that lacks a permission the use requires.
func (s *Service) judgePermissions(_ context.Context, j *judging) error {
	if p := j.v.Principal; p != nil && j.Required&^p.Permissions != 0 {
		j.v.Code = CodeInsufficientPermissions
	}
	return nil
}
