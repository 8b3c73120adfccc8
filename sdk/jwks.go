package sdk

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// JWKSVerifier verifies one tenant's access tokens offline, with the public keys of the
// tenant's JWK Set ({base URL}/api/{tenant}/oauth2/jwks.json). It fetches the set once and
// again when it goes stale (its max-age) or a token names a key it does not hold, at most
// once per refresh interval. It is safe for concurrent use.
//
// Offline verification cannot see a revocation: a revoked credential's tokens are accepted
// until they expire.
type JWKSVerifier struct {
	jwksURL, issuer, tenant string
	hc                      *http.Client
	leeway, refresh         time.Duration
	now                     func() time.Time

	mu      sync.RWMutex
	keys    map[string][]jose.JSONWebKey // by kid
	fetched bool
	stale   time.Time // when the set must be fetched again

	fetchMu   sync.Mutex // one fetch at a time; guards what follows
	attempted time.Time  // the last fetch, successful or not
	lastErr   error

	// verified keeps the verdicts of tokens verified already, by the SHA-256 of the token,
	// until they expire: a client sends the same token for its whole life, and its signature
	// needs checking once. Nil when the cache is off.
	verified *cache
}

// algorithms are the signature algorithms keyhaven signs access tokens with.
var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// maxTokenLen bounds what is parsed as a token.
const maxTokenLen = 16 << 10

// NewJWKSVerifier returns a verifier of tenant's access tokens, for the keyhaven reached at
// baseURL. Their issuer is {base URL}/api/{tenant}, or {public URL}/api/{tenant} with
// WithPublicURL.
func NewJWKSVerifier(baseURL, tenant string, opts ...Option) *JWKSVerifier {
	return newJWKSVerifier(baseURL, tenant, newConfig(opts))
}

func newJWKSVerifier(baseURL, tenant string, cfg config) *JWKSVerifier {
	public := cfg.publicURL
	if public == "" {
		public = baseURL
	}
	v := &JWKSVerifier{
		jwksURL: trimURL(baseURL) + "/api/" + url.PathEscape(tenant) + "/oauth2/jwks.json",
		issuer:  trimURL(public) + "/api/" + tenant,
		tenant:  tenant,
		hc:      cfg.httpClient, leeway: cfg.leeway, refresh: cfg.refreshInterval, now: cfg.now,
	}
	if cfg.cacheSize > 0 {
		v.verified = newCache(cfg.cacheSize)
	}
	return v
}

// Issuer returns the issuer the verifier's tokens must name.
func (v *JWKSVerifier) Issuer() string { return v.issuer }

// accessClaims are the claims of a keyhaven access token (RFC 9068 and keyhaven's own).
type accessClaims struct {
	jwt.Claims
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope"`
	Tenant   string          `json:"tenant"`
	Kind     string          `json:"kind"`
	Owner    string          `json:"owner"`
	Meta     json.RawMessage `json:"meta"`
}

func invalidToken() *Verdict { return &Verdict{Code: CodeInvalidToken, Permissions: []string{}} }

// Verify verifies token: its signature by a key of the tenant's JWK Set, its type at+jwt,
// its issuer and audience, and its time. A token that fails is a Verdict with Valid false,
// Code CodeExpired or CodeInvalidToken; an error means the JWK Set could not be had.
func (v *JWKSVerifier) Verify(ctx context.Context, token string) (*Verdict, error) {
	if len(token) > maxTokenLen {
		return invalidToken(), nil
	}
	var sum [sha256.Size]byte
	if v.verified != nil {
		sum = sha256.Sum256([]byte(token))
		if out, ok := v.verified.get(string(sum[:]), v.now()); ok {
			return out, nil
		}
	}
	tok, err := jwt.ParseSigned(token, algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return invalidToken(), nil
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) || h.KeyID == "" {
		return invalidToken(), nil
	}
	keys, err := v.keysFor(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	var c accessClaims
	verified := false
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if tok.Claims(k.Key, &c) == nil {
			verified = true
			break
		}
	}
	if !verified || c.Expiry == nil || c.Tenant != "" && c.Tenant != v.tenant {
		return invalidToken(), nil
	}
	err = c.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: jwt.Audience{v.issuer}, Time: v.now()}, v.leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return &Verdict{Code: CodeExpired, Permissions: []string{}}, nil
	case err != nil:
		return invalidToken(), nil
	}
	out := &Verdict{Valid: true, Code: CodeValid, Tenant: v.tenant, Kind: c.Kind, ID: c.Subject, Owner: c.Owner,
		Permissions: strings.Fields(c.Scope), ExpiresAt: c.Expiry.Time(), Meta: c.Meta}
	if out.Meta == nil || string(out.Meta) == "null" {
		out.Meta = json.RawMessage("{}")
	}
	if v.verified != nil {
		// Until the instant the check above would refuse it as expired.
		v.verified.put(string(sum[:]), out, out.ExpiresAt.Add(v.leeway))
	}
	return out, nil
}

// isAccessTokenType reports whether typ names an access token (RFC 9068 §2.1; media types
// are case-insensitive and the application/ prefix may be left out, RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// keysFor returns the keys of the set named kid: from the set held, or from a fetch when the
// set is stale or does not know kid and the last fetch is at least a refresh interval old.
// It fails only when no set was ever had.
func (v *JWKSVerifier) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	keys, fresh, ok := v.lookup(kid)
	if ok && fresh {
		return keys, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if keys, fresh, ok = v.lookup(kid); ok && fresh { // fetched while this waited
		return keys, nil
	}
	now := v.now()
	if !v.attempted.IsZero() && now.Sub(v.attempted) < v.refresh {
		if !v.held() {
			return nil, v.lastErr
		}
		return keys, nil
	}
	v.attempted = now
	set, maxAge, err := v.fetch(ctx)
	if err != nil {
		v.lastErr = err
		if !v.held() {
			return nil, err
		}
		return keys, nil // keep verifying with the set held while keyhaven cannot be reached
	}
	maxAge = max(maxAge, v.refresh)
	v.mu.Lock()
	v.keys, v.fetched, v.stale = set, true, now.Add(maxAge)
	v.mu.Unlock()
	return set[kid], nil
}

func (v *JWKSVerifier) lookup(kid string) (keys []jose.JSONWebKey, fresh, ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	keys, ok = v.keys[kid]
	return keys, v.fetched && v.now().Before(v.stale), ok
}

func (v *JWKSVerifier) held() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.fetched
}

// fetch gets the JWK Set and how long it may be used. It keeps the public signing keys of the
// algorithms keyhaven signs with, and skips any other.
func (v *JWKSVerifier) fetch(ctx context.Context) (map[string][]jose.JSONWebKey, time.Duration, error) {
	// One caller giving up must not leave every other without keys until the next interval.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("keyhaven: JWK Set: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := v.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("keyhaven: JWK Set: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("keyhaven: JWK Set: %s answered %d", v.jwksURL, res.StatusCode)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(&raw); err != nil {
		return nil, 0, fmt.Errorf("keyhaven: JWK Set: %w", err)
	}
	set := make(map[string][]jose.JSONWebKey, len(raw.Keys))
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(r, &k) != nil || k.KeyID == "" || k.Use != "" && k.Use != "sig" {
			continue
		}
		k = k.Public()
		if !signingKey(k) {
			continue
		}
		set[k.KeyID] = append(set[k.KeyID], k)
	}
	return set, maxAge(res.Header.Get("Cache-Control")), nil
}

// signingKey reports whether k is a public key of an algorithm keyhaven signs with.
func signingKey(k jose.JSONWebKey) bool {
	switch pub := k.Key.(type) {
	case *ecdsa.PublicKey:
		return pub.Curve == elliptic.P256() && (k.Algorithm == "" || k.Algorithm == string(jose.ES256))
	case ed25519.PublicKey:
		return k.Algorithm == "" || k.Algorithm == string(jose.EdDSA)
	}
	return false
}

// maxAge reads max-age from a Cache-Control header, DefaultJWKSMaxAge when it names none, at
// most an hour.
func maxAge(cc string) time.Duration {
	for d := range strings.SplitSeq(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		if !strings.EqualFold(name, "max-age") {
			continue
		}
		if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil && n >= 0 {
			return min(time.Duration(n)*time.Second, time.Hour)
		}
	}
	return DefaultJWKSMaxAge
}
