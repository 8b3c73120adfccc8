package api

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/httpx"
	"keyhaven.dev/keyhaven/secret"
)

// Each tenant is an OAuth 2.0 authorization server (client credentials grant) issuing JWT
// access tokens. Its endpoints speak OAuth's own wire format (form-encoded requests, RFC 6749
// §5.2 errors), so they are plain handlers; the domain decides, these only map.

// IssuedToken is a successful token response (RFC 6749 §5.1).
type IssuedToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type" enum:"Bearer"`
	ExpiresIn   int64  `json:"expires_in" doc:"Seconds the token lives"`
	Scope       string `json:"scope" doc:"Space-separated permissions the token holds"`
}

// OAuthError is an OAuth error response (RFC 6749 §5.2).
type OAuthError struct {
	Error            string `json:"error" enum:"invalid_request,invalid_client,unauthorized_client,unsupported_grant_type,invalid_scope,temporarily_unavailable"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// TokenForm is the token request (form-encoded).
type TokenForm struct {
	GrantType    string `json:"grant_type" enum:"client_credentials"`
	ClientID     string `json:"client_id,omitempty" doc:"client_secret_post: the API key's or access key's id, or the device access's username"`
	ClientSecret string `json:"client_secret,omitempty" doc:"client_secret_post: the key or the device's password"`
	Scope        string `json:"scope,omitempty" doc:"Space-separated permissions, a subset of the client's effective permissions; all of them when omitted"`
}

// TokenBody is the token to introspect or revoke (form-encoded).
type TokenBody struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"token_type_hint,omitempty"`
	ClientID      string `json:"client_id,omitempty"`
	ClientSecret  string `json:"client_secret,omitempty"`
}

// Introspection is an introspection answer (RFC 7662 §2.2): only active when false.
type Introspection struct {
	Active    bool            `json:"active"`
	Scope     string          `json:"scope,omitempty"`
	ClientID  string          `json:"client_id,omitempty"`
	Subject   string          `json:"sub,omitempty"`
	Audience  string          `json:"aud,omitempty"`
	Issuer    string          `json:"iss,omitempty"`
	Expiry    int64           `json:"exp,omitempty"`
	IssuedAt  int64           `json:"iat,omitempty"`
	NotBefore int64           `json:"nbf,omitempty"`
	ID        string          `json:"jti,omitempty"`
	TokenType string          `json:"token_type,omitempty" enum:"Bearer"`
	Tenant    string          `json:"tenant,omitempty"`
	Kind      string          `json:"kind,omitempty" enum:"api_key,access_key,device"`
	Owner     string          `json:"owner,omitempty"`
	Meta      json.RawMessage `json:"meta,omitempty"`
}

// AuthorizationServerMetadata is a tenant's RFC 8414 metadata.
type AuthorizationServerMetadata struct {
	Issuer                                    string   `json:"issuer"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	JWKSURI                                   string   `json:"jwks_uri"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported                           []string `json:"scopes_supported"`
}

// JWK is a public key of a JWK Set.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg" enum:"ES256,EdDSA"`
	Use string `json:"use" enum:"sig"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKSet is a tenant's JWK Set.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

const maxOAuthBody = 16 << 10

var clientAuthMethods = []string{"client_secret_basic", "client_secret_post"}

// clientAuth is the security of the endpoints that authenticate an OAuth client: HTTP Basic
// (client_secret_basic), or the id and secret in the form (client_secret_post), which
// OpenAPI cannot name as a scheme and so is the requirement that asks for nothing.
var clientAuth = []map[string][]string{{"clientBasic": {}}, {}}

func (s *Server) registerOAuth() {
	s.mux.HandleFunc("POST /api/{tenant}/oauth2/token", s.oauthToken)
	s.mux.HandleFunc("POST /api/{tenant}/oauth2/introspect", s.oauthIntrospect)
	s.mux.HandleFunc("POST /api/{tenant}/oauth2/revoke", s.oauthRevoke)
	s.mux.HandleFunc("GET /api/{tenant}/oauth2/jwks.json", s.oauthJWKS)
	s.mux.HandleFunc("GET /.well-known/oauth-authorization-server/api/{tenant}", s.oauthMetadata)
	s.documentOAuth()
}

// oauthForm reads a form-encoded body.
func oauthForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, keyhaven.Reasonf(keyhaven.EINVALID, keyhaven.OAuthInvalidRequest, "send application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxOAuthBody)
	if err := r.ParseForm(); err != nil {
		return nil, keyhaven.Reasonf(keyhaven.EINVALID, keyhaven.OAuthInvalidRequest, "the body is not a form of at most 16 KiB")
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 {
			return nil, keyhaven.Reasonf(keyhaven.EINVALID, keyhaven.OAuthInvalidRequest, "%s is given more than once", k)
		}
	}
	return r.PostForm, nil
}

// clientCredentials returns the client's id and secret, from HTTP Basic authentication
// (each URL-decoded, RFC 6749 §2.3.1) or the form; a client must use one method only.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, err error) {
	user, pass, basic := r.BasicAuth()
	if form.Has("client_secret") || (form.Has("client_id") && !basic) {
		if basic {
			return "", "", keyhaven.Reasonf(keyhaven.EINVALID, keyhaven.OAuthInvalidRequest, "use one client authentication method")
		}
		return form.Get("client_id"), form.Get("client_secret"), nil
	}
	if !basic {
		return "", "", keyhaven.Reasonf(keyhaven.EUNAUTHORIZED, keyhaven.OAuthInvalidClient, "client authentication is required")
	}
	if id, err = url.QueryUnescape(user); err == nil {
		secret, err = url.QueryUnescape(pass)
	}
	if err != nil {
		return "", "", keyhaven.Reasonf(keyhaven.EUNAUTHORIZED, keyhaven.OAuthInvalidClient, "the client credentials are not URL-encoded")
	}
	if form.Has("client_id") && form.Get("client_id") != id {
		return "", "", keyhaven.Reasonf(keyhaven.EINVALID, keyhaven.OAuthInvalidRequest, "client_id differs from the authenticated client")
	}
	return id, secret, nil
}

// writeOAuthError writes err as an OAuth error response: 401 with a Basic challenge for
// invalid_client, 429 with Retry-After past a rate limit, 503 when keyhaven cannot serve,
// 400 otherwise.
func writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	code, status := keyhaven.ErrorReason(err), http.StatusBadRequest
	switch keyhaven.ErrorCode(err) {
	case keyhaven.EUNAVAILABLE, keyhaven.EINTERNAL:
		ctx := r.Context()
		httpx.Logger(ctx).ErrorContext(ctx, "oauth", "err", err)
		code, status = "temporarily_unavailable", http.StatusServiceUnavailable
		h.Set("Retry-After", keyhaven.RetryAfterUnavailable)
		err = errors.New("try again shortly")
	case keyhaven.ERATELIMITED:
		status = http.StatusTooManyRequests
		h.Set("Retry-After", strconv.Itoa(max(1, int((keyhaven.ErrorRetryAfter(err)+time.Second-1)/time.Second))))
	}
	switch code {
	case keyhaven.OAuthInvalidClient:
		if status == http.StatusBadRequest {
			status = http.StatusUnauthorized
		}
		h.Set("WWW-Authenticate", `Basic realm="keyhaven", charset="UTF-8"`)
	case keyhaven.OAuthInvalidRequest, keyhaven.OAuthUnauthorizedClient, keyhaven.OAuthUnsupportedGrantType,
		keyhaven.OAuthInvalidScope, "temporarily_unavailable":
	default:
		code = keyhaven.OAuthInvalidRequest
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(OAuthError{Error: code, ErrorDescription: keyhaven.ErrorMessage(err)})
}

func writeOAuthJSON(w http.ResponseWriter, v any, cache string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cache)
	if cache == "no-store" {
		h.Set("Pragma", "no-cache")
	}
	json.NewEncoder(w).Encode(v)
}

// clientForm reads a form of a request that authenticates its client (the token and
// revocation endpoints), and the client's id and secret.
func clientForm(w http.ResponseWriter, r *http.Request) (form url.Values, id, secret string, err error) {
	if form, err = oauthForm(w, r); err != nil {
		return nil, "", "", err
	}
	id, secret, err = clientCredentials(r, form)
	return form, id, secret, err
}

// oauthToken is POST /api/{tenant}/oauth2/token (RFC 6749 §4.4).
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	form, id, sec, err := clientForm(w, r)
	if err != nil {
		writeOAuthError(w, r, err)
		return
	}
	tok, err := s.svc.IssueToken(r.Context(), keyhaven.TokenRequest{
		Tenant: r.PathValue("tenant"), GrantType: form.Get("grant_type"), ClientID: id, ClientSecret: sec,
		Scope: form.Get("scope"), ScopeGiven: form.Has("scope"),
	})
	if err != nil {
		writeOAuthError(w, r, err)
		return
	}
	writeOAuthJSON(w, IssuedToken{AccessToken: tok.AccessToken, TokenType: "Bearer", ExpiresIn: tok.ExpiresIn, Scope: tok.Scope}, "no-store")
}

// oauthIntrospect is POST /api/{tenant}/oauth2/introspect (RFC 7662): the caller presents a
// bearer of the tenant.
func (s *Server) oauthIntrospect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	bearer, _ := secret.FromAuthorization(r.Header.Get("Authorization"))
	p, err := s.svc.Authenticate(ctx, keyhaven.APIUse(ctx, bearer, r.PathValue("tenant")))
	if err != nil {
		writeProblem(w, domainProblem(err), httpx.RequestID(ctx))
		return
	}
	form, err := oauthForm(w, r)
	if err == nil && form.Get("token") == "" {
		err = keyhaven.Reasonf(keyhaven.EINVALID, keyhaven.OAuthInvalidRequest, "token is required")
	}
	if err != nil {
		writeOAuthError(w, r, err)
		return
	}
	in, err := s.svc.Introspect(ctx, p, form.Get("token"))
	if err != nil {
		writeOAuthError(w, r, err)
		return
	}
	out := Introspection{Active: in.Active}
	if c := in.Claims; in.Active {
		out = Introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, Subject: c.Subject, Audience: c.Audience,
			Issuer: c.Issuer, Expiry: c.Expiry, IssuedAt: c.IssuedAt, NotBefore: c.NotBefore, ID: c.ID, TokenType: "Bearer",
			Tenant: c.Tenant, Kind: string(c.Kind), Owner: c.Owner, Meta: c.Meta}
	}
	writeOAuthJSON(w, out, "no-store")
}

// oauthRevoke is POST /api/{tenant}/oauth2/revoke (RFC 7009), with client authentication.
func (s *Server) oauthRevoke(w http.ResponseWriter, r *http.Request) {
	form, id, sec, err := clientForm(w, r)
	if err != nil {
		writeOAuthError(w, r, err)
		return
	}
	err = s.svc.RevokeToken(r.Context(), keyhaven.TokenRevocation{Tenant: r.PathValue("tenant"), ClientID: id, ClientSecret: sec, Token: form.Get("token")})
	if err != nil {
		writeOAuthError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// oauthJWKS is GET /api/{tenant}/oauth2/jwks.json.
func (s *Server) oauthJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := s.svc.JWKSet(r.Context(), r.PathValue("tenant"))
	if err != nil {
		writeProblem(w, domainProblem(err), httpx.RequestID(r.Context()))
		return
	}
	writeOAuthJSON(w, set, "public, max-age=300")
}

// oauthMetadata is GET /.well-known/oauth-authorization-server/api/{tenant} (RFC 8414).
func (s *Server) oauthMetadata(w http.ResponseWriter, r *http.Request) {
	iss, err := s.svc.TenantIssuer(r.Context(), r.PathValue("tenant"))
	if err != nil {
		writeProblem(w, domainProblem(err), httpx.RequestID(r.Context()))
		return
	}
	writeOAuthJSON(w, AuthorizationServerMetadata{
		Issuer: iss, TokenEndpoint: iss + "/oauth2/token", JWKSURI: iss + "/oauth2/jwks.json",
		IntrospectionEndpoint: iss + "/oauth2/introspect", RevocationEndpoint: iss + "/oauth2/revoke",
		GrantTypesSupported:                       []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported:         clientAuthMethods,
		IntrospectionEndpointAuthMethodsSupported: []string{"bearer"},
		RevocationEndpointAuthMethodsSupported:    clientAuthMethods,
		ScopesSupported:                           keyhaven.PermissionNames(),
	}, "public, max-age=300")
}

// documentOAuth adds the OAuth endpoints, served by plain handlers, to the OpenAPI document.
func (s *Server) documentOAuth() {
	oapi := s.api.OpenAPI()
	reg := oapi.Components.Schemas
	schema := func(v any, name string) *huma.Schema { return reg.Schema(reflect.TypeOf(v), true, name) }
	jsonOf := func(desc string, sc *huma.Schema) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {Schema: sc}}}
	}
	problem := schema(Problem{}, "Problem")
	problemOf := func(status int) *huma.Response {
		return &huma.Response{Description: http.StatusText(status), Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problem}}}
	}
	oauthErr := schema(OAuthError{}, "OAuthError")
	errs := func(statuses ...int) map[string]*huma.Response {
		m := map[string]*huma.Response{}
		for _, st := range statuses {
			m[strconv.Itoa(st)] = jsonOf("OAuth error (RFC 6749 §5.2)", oauthErr)
		}
		return m
	}
	tenant := &huma.Param{Name: "tenant", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}
	form := func(v any, name string) *huma.RequestBody {
		return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/x-www-form-urlencoded": {Schema: schema(v, name)}}}
	}

	token := errs(400, 401, 429, 503)
	token["200"] = jsonOf("The access token", schema(IssuedToken{}, "IssuedToken"))
	oapi.AddOperation(&huma.Operation{
		OperationID: "oauthToken", Method: http.MethodPost, Path: "/api/{tenant}/oauth2/token", Tags: []string{"oauth"},
		Summary: "Get an access token (client credentials)",
		Description: "RFC 6749 §4.4. Client authentication client_secret_basic (id and secret URL-encoded) or client_secret_post: " +
			"client_id is an API key's or access key's id (the id verify answers) or a device access's username, client_secret its key or password. " +
			"The client's IP allowlist, rate limit and credits (one per token) apply. Errors: invalid_client (401) for unknown, wrong or " +
			"not-in-force credentials; unauthorized_client (400) when the IP allowlist refuses the client's address or its credits are used up, " +
			"(429 with Retry-After) past its rate limit; invalid_scope, invalid_request, unsupported_grant_type (400).",
		Security:   clientAuth,
		Parameters: []*huma.Param{tenant}, RequestBody: form(TokenForm{}, "TokenForm"), Responses: token,
	})
	intro := errs(400, 503)
	intro["200"] = jsonOf("Whether the token is active, and its claims when it is", schema(Introspection{}, "Introspection"))
	for _, st := range []int{401, 403, 429} {
		intro[strconv.Itoa(st)] = problemOf(st)
	}
	oapi.AddOperation(&huma.Operation{
		OperationID: "oauthIntrospect", Method: http.MethodPost, Path: "/api/{tenant}/oauth2/introspect", Tags: []string{"oauth"},
		Summary: "Introspect an access token",
		Description: "RFC 7662. The caller presents any valid bearer of the tenant. active is false at once when the token, or the credential " +
			"behind it, is revoked, disabled, expired or deleted, or its owner is: the state is read from the database on each call.",
		Security:   bearerAuth,
		Parameters: []*huma.Param{tenant}, RequestBody: form(TokenBody{}, "TokenBody"), Responses: intro,
	})
	revoke := errs(400, 401, 429, 503)
	revoke["200"] = &huma.Response{Description: "Revoked, or nothing to revoke"}
	oapi.AddOperation(&huma.Operation{
		OperationID: "oauthRevoke", Method: http.MethodPost, Path: "/api/{tenant}/oauth2/revoke", Tags: []string{"oauth"},
		Summary:     "Revoke an access token",
		Description: "RFC 7009, with client authentication as the token endpoint. Revokes a token issued to the client until it expires; 200 for unknown tokens too.",
		Security:    clientAuth,
		Parameters:  []*huma.Param{tenant}, RequestBody: form(TokenBody{}, "TokenBody"), Responses: revoke,
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "oauthJwks", Method: http.MethodGet, Path: "/api/{tenant}/oauth2/jwks.json", Tags: []string{"oauth"},
		Summary:     "The tenant's JWK Set",
		Description: "The public keys that verify the tenant's access tokens: the active key and retired keys whose tokens may not have expired yet.",
		Security:    publicAuth,
		Parameters:  []*huma.Param{tenant},
		Responses:   map[string]*huma.Response{"200": jsonOf("The JWK Set", schema(JWKSet{}, "JWKSet")), "404": problemOf(404), "503": problemOf(503)},
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "oauthMetadata", Method: http.MethodGet, Path: "/.well-known/oauth-authorization-server/api/{tenant}", Tags: []string{"oauth"},
		Summary:    "The tenant's authorization server metadata (RFC 8414)",
		Security:   publicAuth,
		Parameters: []*huma.Param{tenant},
		Responses:  map[string]*huma.Response{"200": jsonOf("The metadata", schema(AuthorizationServerMetadata{}, "AuthorizationServerMetadata")), "404": problemOf(404), "503": problemOf(503)},
	})
}
