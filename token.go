package keyhaven

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KindDevice is the kind of an access token issued to a device access.
const KindDevice CredentialKind = "device"

// OAuth 2.0 error codes (RFC 6749 §5.2, RFC 7009): the reason of the errors the token,
// introspection and revocation endpoints answer, which transports send as "error".
const (
	OAuthInvalidRequest       = "invalid_request"
	OAuthInvalidClient        = "invalid_client"
	OAuthUnauthorizedClient   = "unauthorized_client"
	OAuthUnsupportedGrantType = "unsupported_grant_type"
	OAuthInvalidScope         = "invalid_scope"
)

// TokenClaims are the claims of an access token (RFC 9068).
type TokenClaims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  string          `json:"aud"`
	ClientID  string          `json:"client_id"`
	Expiry    int64           `json:"exp"`
	IssuedAt  int64           `json:"iat"`
	NotBefore int64           `json:"nbf"`
	ID        string          `json:"jti"`
	Scope     string          `json:"scope"`
	Tenant    string          `json:"tenant"`
	Kind      CredentialKind  `json:"kind"`
	Owner     string          `json:"owner"`
	Meta      json.RawMessage `json:"meta,omitempty"`
}

// ExpiresAt is when the token expires.
func (c *TokenClaims) ExpiresAt() time.Time { return time.Unix(c.Expiry, 0).UTC() }

// scope returns the token's permissions; names keyhaven does not know (any more) grant nothing.
func (c *TokenClaims) scope() PermissionSet {
	var set PermissionSet
	for _, name := range strings.Fields(c.Scope) {
		if p, err := ParsePermissions("scope", []string{name}); err == nil {
			set |= p
		}
	}
	return set
}

// TokenRequest asks for an access token with the client credentials grant (RFC 6749 §4.4).
type TokenRequest struct {
	Tenant    string // the tenant's name, from the endpoint's path
	GrantType string
	// ClientID and ClientSecret are an API key's or access key's id and secret, or a device
	// access's username and password.
	ClientID, ClientSecret string
	// Scope, when ScopeGiven, is the space-separated permissions asked for.
	Scope      string
	ScopeGiven bool
}

// Token is an issued access token.
type Token struct {
	AccessToken string
	ExpiresIn   int64
	Scope       string
	Claims      *TokenClaims
}

// Issuer returns the token issuer of the tenant named name.
func (s *Service) Issuer(name string) string { return s.PublicURL + "/api/" + name }

// TenantIssuer returns the issuer of the tenant named name.
//
// Returns ENOTFOUND if there is no such tenant, and EUNAVAILABLE if the database cannot be
// reached.
func (s *Service) TenantIssuer(ctx context.Context, name string) (string, error) {
	if _, err := s.store.TenantByName(ctx, name); err != nil {
		return "", err
	}
	return s.Issuer(name), nil
}

func oauthErr(code, reason, format string, args ...any) *Error {
	return Reasonf(code, reason, format, args...)
}

var errInvalidClient = oauthErr(EUNAUTHORIZED, OAuthInvalidClient, "client authentication failed")

// client is an authenticated OAuth client: a credential or a device access, judged.
type client struct {
	tenant *Tenant
	v      *Verdict
}

func (c *client) subject() string {
	if c.v.Access != nil {
		return c.v.Access.ID
	}
	return c.v.Credential.ID
}

// isCredentialID reports whether a client_id names a credential rather than a device
// access: credential ids hold an underscore, which no username does.
func isCredentialID(id string) bool { return strings.Contains(id, "_") }

// authenticateClient judges a client's credentials on the tenant named tenant, through
// Judge: a credential's secret must be exactly that credential's, of exactly that tenant,
// used from the request's client address; verification uses take credits too.
//
// The refusals, as OAuth errors: invalid_client (EUNAUTHORIZED) for unknown, wrong or
// not-in-force credentials, unauthorized_client (EFORBIDDEN) for an address the IP
// allowlist refuses or credits used up, and unauthorized_client (ERATELIMITED, with
// RetryAfter) past the rate limit.
func (s *Service) authenticateClient(ctx context.Context, tenant, id, secret string, verification bool) (*client, error) {
	if id == "" || secret == "" || len(id) > 200 || len(secret) > 512 {
		return nil, errInvalidClient
	}
	t, err := s.store.TenantByName(ctx, tenant)
	if ErrorCode(err) == ENOTFOUND {
		return nil, errInvalidClient
	}
	if err != nil {
		return nil, err
	}
	var u Use
	if isCredentialID(id) {
		ip, _ := netip.ParseAddr(RequestInfoFrom(ctx).RemoteAddr)
		u = Use{Secret: secret, ClientID: id, Tenant: t.Name, Scope: t.ID, IP: ip, Cost: 1, Verification: verification}
	} else {
		u = Use{Device: &DeviceLogin{Username: id, Password: secret}, Caller: &Principal{TenantID: t.ID, TenantName: t.Name}}
	}
	v, err := s.Judge(ctx, u)
	if err != nil {
		if ErrorCode(err) == ERATELIMITED {
			e := oauthErr(ERATELIMITED, OAuthInvalidClient, "too many failed attempts; try again later")
			e.RetryAfter = ErrorRetryAfter(err)
			return nil, e
		}
		return nil, err
	}
	switch v.Code {
	case CodeValid:
		return &client{tenant: t, v: v}, nil
	case CodeIPNotAllowed:
		return nil, oauthErr(EFORBIDDEN, OAuthUnauthorizedClient, "the client's credential is not good from this address")
	case CodeUsageExceeded:
		return nil, oauthErr(EFORBIDDEN, OAuthUnauthorizedClient, "the client's credential has no credits left")
	case CodeRateLimited:
		e := oauthErr(ERATELIMITED, OAuthUnauthorizedClient, "the client's rate limit is used up; try again later")
		e.RetryAfter = ErrorRetryAfter(v.Err())
		return nil, e
	}
	return nil, errInvalidClient
}

// IssueToken issues an access token with the client credentials grant. The client's use is
// judged like a verification: its IP allowlist, rate limit and credits (one) apply. The
// token holds the asked scope, which must be a subset of the client's effective
// permissions (all of them by default), and lives the tenant's token lifetime, never past
// the credential's own expiry.
//
// Returns, with the OAuth error code as reason: EINVALID (invalid_request,
// unsupported_grant_type, invalid_scope), EUNAUTHORIZED (invalid_client), EFORBIDDEN
// (unauthorized_client: IP allowlist, credits), ERATELIMITED (unauthorized_client: rate
// limit), and EUNAVAILABLE if the database cannot be reached.
func (s *Service) IssueToken(ctx context.Context, r TokenRequest) (*Token, error) {
	switch r.GrantType {
	case "":
		return nil, oauthErr(EINVALID, OAuthInvalidRequest, "grant_type is required")
	case "client_credentials":
	default:
		return nil, oauthErr(EINVALID, OAuthUnsupportedGrantType, "only the client_credentials grant is supported")
	}
	var asked PermissionSet
	if r.ScopeGiven {
		names := strings.Fields(r.Scope)
		if len(names) > 64 {
			return nil, oauthErr(EINVALID, OAuthInvalidScope, "too many scopes")
		}
		var err error
		if asked, err = ParsePermissions("scope", names); err != nil {
			return nil, oauthErr(EINVALID, OAuthInvalidScope, "the scope names an unknown permission")
		}
	}
	c, err := s.authenticateClient(ctx, r.Tenant, r.ClientID, r.ClientSecret, true)
	if err != nil {
		return nil, err
	}
	now := s.now()
	v := c.v
	var effective PermissionSet
	claims := &TokenClaims{ClientID: r.ClientID, Tenant: c.tenant.Name, Subject: c.subject()}
	lifetime := time.Duration(c.tenant.Limits.TokenLifetime) * time.Second
	if lifetime <= 0 || lifetime > MaxTokenLifetime {
		lifetime = DefaultTokenLifetime * time.Second
	}
	exp := now.Add(lifetime)
	if a := v.Access; a != nil {
		claims.Kind, claims.Owner = KindDevice, a.CreatedBy
		if a.ValidUntil.Before(exp) {
			exp = a.ValidUntil
		}
	} else {
		cr := v.Credential
		claims.Kind, claims.Owner = cr.Kind, cr.OwnerID
		effective = v.Principal.Permissions
		if !cr.ExpiresAt.IsZero() && cr.ExpiresAt.Before(exp) {
			exp = cr.ExpiresAt
		}
		if len(cr.Meta) > 0 && string(cr.Meta) != "{}" {
			claims.Meta = cr.Meta
		}
	}
	scope := effective
	if r.ScopeGiven && strings.TrimSpace(r.Scope) != "" {
		if !asked.SubsetOf(effective) {
			return nil, oauthErr(EINVALID, OAuthInvalidScope, "the scope asks for permissions the client does not hold")
		}
		scope = asked
	}
	ks, err := s.keySet(ctx, c.tenant.ID, false)
	if err != nil {
		return nil, err
	}
	claims.Issuer = s.Issuer(c.tenant.Name)
	claims.Audience = claims.Issuer
	claims.IssuedAt = now.Unix()
	claims.NotBefore = claims.IssuedAt
	claims.Expiry = exp.Unix()
	claims.ID = NewID("jti")
	claims.Scope = strings.Join(scope.Strings(), " ")
	payload, err := json.Marshal(claims)
	if err != nil {
		return nil, Internal(err)
	}
	jws, err := ks.signer.Sign(payload)
	if err != nil {
		return nil, Internal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return nil, Internal(err)
	}
	return &Token{AccessToken: raw, ExpiresIn: max(0, claims.Expiry-claims.IssuedAt), Scope: claims.Scope, Claims: claims}, nil
}

// looksLikeToken reports whether a presented key is a compact JWS rather than a secret.
func looksLikeToken(key string) bool {
	return strings.HasPrefix(key, "eyJ") && strings.Count(key, ".") == 2
}

// MaxTokenLen bounds the access tokens keyhaven reads.
const MaxTokenLen = 8 << 10

var tokenAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// readToken checks an access token's signature (against the keys of the tenant it names,
// active and retired), type, issuer, audience, validity period and revocation: NOT_FOUND
// for anything malformed or not signed by the tenant, EXPIRED past exp, REVOKED when
// revoked. It returns the claims and the tenant's id with any code.
func (s *Service) readToken(ctx context.Context, raw string, now time.Time) (*TokenClaims, string, VerdictCode, error) {
	if len(raw) > MaxTokenLen {
		return nil, "", CodeNotFound, nil
	}
	jws, err := jose.ParseSignedCompact(raw, tokenAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", CodeNotFound, nil
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, "", CodeNotFound, nil
	}
	var unverified TokenClaims
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified) != nil || !ValidTenantName(unverified.Tenant) {
		return nil, "", CodeNotFound, nil
	}
	tenantID, err := s.tenantID(ctx, unverified.Tenant)
	if ErrorCode(err) == ENOTFOUND {
		return nil, "", CodeNotFound, nil
	}
	if err != nil {
		return nil, "", "", err
	}
	ks, err := s.keySet(ctx, tenantID, false)
	if err != nil {
		return nil, "", "", err
	}
	key := ks.public[h.KeyID]
	if key == nil {
		// A key rotated in by another process since this node read the set.
		if ks, err = s.keySet(ctx, tenantID, true); err != nil {
			return nil, "", "", err
		}
		if key = ks.public[h.KeyID]; key == nil {
			return nil, "", CodeNotFound, nil
		}
	}
	if key.Algorithm != h.Algorithm {
		return nil, "", CodeNotFound, nil
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, "", CodeNotFound, nil
	}
	var c TokenClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.ID == "" || c.Subject == "" {
		return nil, "", CodeNotFound, nil
	}
	iss := s.Issuer(c.Tenant)
	if c.Tenant != unverified.Tenant || c.Issuer != iss || c.Audience != iss {
		return nil, "", CodeNotFound, nil
	}
	if now.Unix() < c.NotBefore {
		return &c, tenantID, CodeNotFound, nil
	}
	if now.Unix() >= c.Expiry {
		return &c, tenantID, CodeExpired, nil
	}
	revoked, err := s.store.TokenRevoked(ctx, tenantID, c.ID)
	if err != nil {
		return nil, "", "", err
	}
	if revoked {
		return &c, tenantID, CodeRevoked, nil
	}
	return &c, tenantID, CodeValid, nil
}

// tenantID returns the id of the tenant named name; names never move to another tenant, so
// the answer is kept.
func (s *Service) tenantID(ctx context.Context, name string) (string, error) {
	if id := s.keySets.tenantID(name); id != "" {
		return id, nil
	}
	t, err := s.store.TenantByName(ctx, name)
	if err != nil {
		return "", err
	}
	s.keySets.putTenant(name, t.ID)
	return t.ID, nil
}

// findToken is the found step of an access token: the token is read (readToken), then the
// credential or device access behind its sub is found, read from the database.
func (s *Service) findToken(ctx context.Context, j *judging) error {
	v := &j.v
	c, tenantID, code, err := s.readToken(ctx, j.Secret, j.now)
	if err != nil {
		return err
	}
	if c != nil && j.Scope != "" && tenantID != j.Scope {
		code = CodeNotFound
	}
	if code == CodeNotFound {
		v.Code = code
		return nil
	}
	// Whose token it is, also when it is refused: the verdict is counted under its subject.
	v.Token, v.Tenant = c, &Tenant{ID: tenantID, Name: c.Tenant}
	if code != CodeValid {
		v.Code = code
		return nil
	}
	if c.Kind == KindDevice {
		a, err := s.store.Access(ctx, tenantID, c.Subject)
		if ErrorCode(err) == ENOTFOUND {
			v.Code = CodeRevoked
			return nil
		}
		if err != nil {
			return err
		}
		v.Access = a
		return nil
	}
	r, err := s.store.CredentialByID(ctx, tenantID, c.Subject)
	if ErrorCode(err) == ENOTFOUND {
		v.Code = CodeRevoked // deleted since the token was issued
		return nil
	}
	if err != nil {
		return err
	}
	v.Credential, v.Tenant, v.Owner = r.Credential, r.Tenant, r.Owner
	return nil
}

// judgeTokenDevice judges the device access behind an access token like device verify does.
func (s *Service) judgeTokenDevice(j *judging) {
	a := j.v.Access
	if code := accessCode(a, j.now); code != CodeValid {
		j.v.Code = code
		return
	}
	j.v.Principal = &Principal{TenantID: a.TenantID, TenantName: j.v.Tenant.Name, Kind: KindDevice,
		CredentialID: a.ID, UserID: a.CreatedBy, ExpiresAt: j.v.Token.ExpiresAt()}
}

// Introspection is what introspecting a token says (RFC 7662).
type Introspection struct {
	Active bool
	Claims *TokenClaims
}

// Introspect says whether an access token of p's tenant is active: well signed, not
// expired, not revoked, and the credential (or device access) behind it in force, as the
// database says now (no cache), so that a change on any node shows at once.
//
// Returns EUNAVAILABLE if the database cannot be reached.
func (s *Service) Introspect(ctx context.Context, p *Principal, token string) (*Introspection, error) {
	now := s.now()
	inactive := &Introspection{}
	if !looksLikeToken(token) {
		return inactive, nil
	}
	c, tenantID, code, err := s.readToken(ctx, token, now)
	if err != nil || code != CodeValid || tenantID != p.TenantID {
		return inactive, err
	}
	if c.Kind == KindDevice {
		a, err := s.store.Access(ctx, tenantID, c.Subject)
		if ErrorCode(err) == ENOTFOUND {
			return inactive, nil
		}
		if err != nil || accessCode(a, now) != CodeValid {
			return inactive, err
		}
		return &Introspection{Active: true, Claims: c}, nil
	}
	r, err := s.store.CredentialByID(ctx, tenantID, c.Subject)
	if ErrorCode(err) == ENOTFOUND {
		return inactive, nil
	}
	if err != nil {
		return nil, err
	}
	cr := r.Credential
	if r.Owner.Deleted() || !cr.RevokedAt.IsZero() || cr.Expired(now) || !cr.Active {
		return inactive, nil
	}
	return &Introspection{Active: true, Claims: c}, nil
}

// TokenRevocation asks to revoke an access token (RFC 7009), authenticated as a client.
type TokenRevocation struct {
	Tenant                 string
	ClientID, ClientSecret string
	Token                  string
}

// RevokeToken revokes an access token the authenticated client was issued, until it
// expires: verify and introspection refuse it from then on, on every node. A token that is
// unknown, malformed, expired or another client's is left alone without an error (RFC 7009
// §2.2).
//
// Returns the errors of client authentication as IssueToken does, and EUNAVAILABLE if the
// database cannot be reached.
func (s *Service) RevokeToken(ctx context.Context, r TokenRevocation) error {
	cl, err := s.authenticateClient(ctx, r.Tenant, r.ClientID, r.ClientSecret, false)
	if err != nil {
		return err
	}
	if r.Token == "" {
		return oauthErr(EINVALID, OAuthInvalidRequest, "token is required")
	}
	if !looksLikeToken(r.Token) {
		return nil
	}
	c, tenantID, code, err := s.readToken(ctx, r.Token, s.now())
	if err != nil {
		return err
	}
	if code != CodeValid || tenantID != cl.tenant.ID || c.Subject != cl.subject() {
		return nil
	}
	e := s.event(ctx, tenantID, nil, "access_token.revoke", "access_token", c.ID, map[string]any{"sub": c.Subject, "clientId": c.ClientID})
	if err := s.store.RevokeToken(ctx, tenantID, c.ID, c.ExpiresAt(), e); err != nil {
		return err
	}
	return nil
}
