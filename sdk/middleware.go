package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Middleware authenticates the requests of a net/http service with keyhaven credentials
// presented as "Authorization: Bearer <credential>". An access token (a JWT) is verified
// offline with the tenant's JWK Set; any other credential through POST /api/verify. The
// verdict goes in the request's context (VerdictFrom). It is safe for concurrent use.
type Middleware struct {
	client   *Client
	jwks     *JWKSVerifier // nil without a tenant
	tenant   string
	clientIP func(*http.Request) string
}

// NewMiddleware returns a middleware verifying with the keyhaven reached at baseURL. Name the
// tenant with WithTenant: without one, access tokens are verified online like any key and
// every tenant's credentials are accepted.
func NewMiddleware(baseURL string, opts ...Option) *Middleware {
	cfg := newConfig(opts)
	m := &Middleware{client: newClient(baseURL, cfg), tenant: cfg.tenant, clientIP: cfg.clientIP}
	if cfg.tenant != "" {
		m.jwks = newJWKSVerifier(baseURL, cfg.tenant, cfg)
	}
	return m
}

// Handler lets through to next only the requests bearing a valid credential, with its verdict
// in their context. Others get 401 with WWW-Authenticate: Bearer, except a key past its rate
// limit or credits (429) or presented from an address its allowlist refuses (403); 503 when
// keyhaven cannot be asked.
func (m *Middleware) Handler(next http.Handler) http.Handler { return m.Require()(next) }

// Require returns a middleware that, beyond what Handler does, answers 403 to a valid
// credential lacking any of perms.
func (m *Middleware) Require(perms ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, ok := VerdictFrom(r.Context())
			if !ok {
				var status int
				if v, status = m.authenticate(r); status != 0 {
					writeRefusal(w, status, v)
					return
				}
				r = r.WithContext(WithVerdict(r.Context(), v))
			}
			if !v.Has(perms...) {
				w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.Join(perms, " ")+`"`)
				writeProblem(w, http.StatusForbidden, CodeInsufficientPermissions, "the credential lacks a permission this needs")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Verify judges a credential as the middleware does, for a request's client address ip.
func (m *Middleware) Verify(ctx context.Context, credential, ip string) (*Verdict, error) {
	var v *Verdict
	var err error
	if m.jwks != nil && isJWT(credential) {
		v, err = m.jwks.Verify(ctx, credential)
	} else {
		v, err = m.client.Verify(ctx, credential, VerifyOptions{IP: ip})
	}
	if err != nil {
		return nil, err
	}
	if v.Valid && m.tenant != "" && v.Tenant != m.tenant {
		// Another tenant's credential is as unknown here as keyhaven makes it in a verify
		// scoped to a tenant.
		return &Verdict{Code: CodeNotFound, Permissions: []string{}}, nil
	}
	return v, nil
}

// authenticate returns the request's verdict, or a refusal's status and, for a 401 of a
// presented credential, the verdict refused.
func (m *Middleware) authenticate(r *http.Request) (*Verdict, int) {
	credential, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return nil, http.StatusUnauthorized
	}
	v, err := m.Verify(r.Context(), credential, m.clientIP(r))
	var ke *Error
	switch {
	case errors.As(err, &ke) && (ke.Status == http.StatusBadRequest || ke.Status == http.StatusRequestEntityTooLarge):
		return invalidToken(), http.StatusUnauthorized // keyhaven would not read it as a key
	case err != nil:
		return nil, http.StatusServiceUnavailable
	case v.Code == CodeRateLimited || v.Code == CodeUsageExceeded:
		return v, http.StatusTooManyRequests
	case v.Code == CodeIPNotAllowed:
		return v, http.StatusForbidden
	case !v.Valid:
		return v, http.StatusUnauthorized
	}
	return v, 0
}

// bearer returns the credential of an Authorization header of the Bearer scheme.
func bearer(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// isJWT reports whether s has the shape of a compact JWS: three dot-separated base64url parts.
func isJWT(s string) bool {
	parts := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
			continue
		}
		if i == start {
			return false
		}
		parts++
		start = i + 1
	}
	return parts == 3
}

func writeRefusal(w http.ResponseWriter, status int, v *Verdict) {
	switch {
	case status == http.StatusServiceUnavailable:
		writeProblem(w, status, "UNAVAILABLE", "the credential cannot be verified now; try again")
	case status == http.StatusTooManyRequests:
		if v.RateLimit != nil {
			secs := int(math.Ceil(time.Until(v.RateLimit.ResetAt).Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		}
		writeProblem(w, status, v.Code, "the credential's rate limit or credits are used up")
	case status == http.StatusForbidden:
		writeProblem(w, status, v.Code, "the credential is not good from this address")
	case v == nil:
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeProblem(w, status, "MISSING_CREDENTIAL", "send a credential as Authorization: Bearer <credential>")
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeProblem(w, status, v.Code, "the credential is not valid")
	}
}

// writeProblem answers an RFC 9457 problem with a machine-readable code.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}{"about:blank", http.StatusText(status), status, code, detail})
}
