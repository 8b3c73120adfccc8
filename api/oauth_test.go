package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

func TestOAuth(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testOAuth(t, apitest.New(t, open)) })
	}
}

// oauthClient is a client of the token endpoint.
type oauthClient struct {
	id, secret string
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// form posts a form to path with optional headers.
func form(e *apitest.Env, path string, v url.Values, headers ...string) *apitest.Response {
	e.T.Helper()
	return e.Do("POST", path, "", v.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
}

func oauthError(t *testing.T, r *apitest.Response, status int, code string) {
	t.Helper()
	var got struct {
		Error string `json:"error"`
	}
	json.Unmarshal(r.Body, &got)
	if r.Status != status || got.Error != code {
		t.Fatalf("got %d %s, want %d error %q", r.Status, r.Body, status, code)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}
	if code == "invalid_client" && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("invalid_client without a Basic challenge: %v", r.Header)
	}
}

// token gets a token with the stock client credentials client.
func token(t *testing.T, e *apitest.Env, c oauthClient, style oauth2.AuthStyle, scopes ...string) (*oauth2.Token, error) {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: e.URL + "/api/acme/oauth2/token",
		Scopes: scopes, AuthStyle: style}
	return cfg.Token(context.Background())
}

// parse verifies a token with another JWT library against the JWK Set as served.
func parse(t *testing.T, e *apitest.Env, raw string) (*jwt.Token, jwt.MapClaims, error) {
	t.Helper()
	r := e.Do("GET", "/api/acme/oauth2/jwks.json", "", nil)
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("JWK Set: %d %v %s", r.Status, r.Header, r.Body)
	}
	kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(r.Body))
	if err != nil {
		t.Fatalf("JWK Set %s: %v", r.Body, err)
	}
	iss := e.URL + "/api/acme"
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, kf.Keyfunc, jwt.WithValidMethods([]string{"ES256", "EdDSA"}),
		jwt.WithIssuer(iss), jwt.WithAudience(iss), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(e.Clock.Now))
	return tok, claims, err
}

func jwksKids(t *testing.T, e *apitest.Env) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	r := e.Do("GET", "/api/acme/oauth2/jwks.json", "", nil)
	r.Decode(t, &set)
	var out []string
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatal("the JWK Set shows a private key")
		}
		out = append(out, k.Kid)
	}
	return out
}

func verifyToken(t *testing.T, e *apitest.Env, key string) map[string]any {
	t.Helper()
	r := e.Do("POST", "/api/verify", "", map[string]any{"key": key, "ip": "127.0.0.1"})
	if r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	return r.JSON()
}

func introspect(t *testing.T, e *apitest.Env, bearer, tok string) map[string]any {
	t.Helper()
	r := form(e, "/api/acme/oauth2/introspect", url.Values{"token": {tok}}, "Authorization", "Bearer "+bearer)
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("introspect: %d %v %s", r.Status, r.Header, r.Body)
	}
	return r.JSON()
}

func testOAuth(t *testing.T, e *apitest.Env) {
	ctx := context.Background()
	admin, err := e.Svc.Authenticate(ctx, keyhaven.Use{Secret: e.Acme.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	meta := json.RawMessage(`{"plan":"gold"}`)
	apiKey, apiSecret, err := e.Svc.CreateAPIKey(ctx, admin, keyhaven.APIKeyInput{Name: "svc", Permissions: []string{"READ", "AUDIT_READ"},
		Policy: keyhaven.PolicyInput{Meta: meta}})
	if err != nil {
		t.Fatal(err)
	}
	app, err := e.Svc.CreateApplication(ctx, admin, keyhaven.ApplicationInput{Name: ptr("app")})
	if err != nil {
		t.Fatal(err)
	}
	accessKey, accessSecret, err := e.Svc.CreateAccessKey(ctx, admin, app.ID, keyhaven.AccessKeyInput{Name: "ak", Scopes: []string{"READ"}})
	if err != nil {
		t.Fatal(err)
	}
	offering, err := e.Svc.CreateProductOffering(ctx, admin, keyhaven.ProductOfferingInput{ID: "plan", Name: "plan", AccessValidityDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now()
	contract, err := e.Svc.CreateContract(ctx, admin, keyhaven.ContractInput{ID: "c1", ProductOfferingID: offering.ID, CustomerName: "c",
		StartDate: now.Add(-time.Hour), EndDate: now.Add(365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	devicePassword := "a-device-password-1"
	device, _, err := e.Svc.CreateAccess(ctx, admin, contract.ID, keyhaven.AccessInput{Username: "dev-one", Password: &devicePassword})
	if err != nil {
		t.Fatal(err)
	}
	iss := e.URL + "/api/acme"

	clients := []struct {
		name   string
		c      oauthClient
		kind   string
		sub    string
		owner  string
		scope  []string
		hasMet bool
	}{
		{"api key", oauthClient{apiKey.ID, apiSecret}, "api_key", apiKey.ID, admin.UserID, []string{"READ", "AUDIT_READ"}, true},
		{"access key", oauthClient{accessKey.ID, accessSecret}, "access_key", accessKey.ID, admin.UserID, []string{"READ"}, false},
		{"device", oauthClient{"dev-one", devicePassword}, "device", device.ID, admin.UserID, nil, false},
	}
	for _, cl := range clients {
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			t.Run(cl.name, func(t *testing.T) {
				tok, err := token(t, e, cl.c, style)
				if err != nil {
					t.Fatalf("token: %v", err)
				}
				if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
					t.Fatalf("token %+v", tok)
				}
				parsed, claims, err := parse(t, e, tok.AccessToken)
				if err != nil {
					t.Fatalf("the token does not verify with the JWK Set: %v", err)
				}
				if parsed.Header["typ"] != "at+jwt" || parsed.Header["alg"] != "ES256" || parsed.Header["kid"] == "" {
					t.Fatalf("header %v", parsed.Header)
				}
				iat, _ := claims["iat"].(float64)
				exp, _ := claims["exp"].(float64)
				scope := strings.Fields(claims["scope"].(string))
				if claims["iss"] != iss || claims["aud"] != iss || claims["sub"] != cl.sub || claims["client_id"] != cl.c.id ||
					claims["tenant"] != "acme" || claims["kind"] != cl.kind || claims["owner"] != cl.owner || claims["jti"] == "" ||
					claims["nbf"] != claims["iat"] || exp-iat != 300 || !slices.Equal(scope, cl.scope) {
					t.Fatalf("claims %v; want sub %s, kind %s, scope %v, 300 s", claims, cl.sub, cl.kind, cl.scope)
				}
				if _, ok := claims["meta"]; ok != cl.hasMet {
					t.Fatalf("claims %v: meta present %v, want %v", claims, ok, cl.hasMet)
				}
				if v := verifyToken(t, e, tok.AccessToken); v["code"] != "VALID" || v["id"] != cl.sub || v["kind"] != cl.kind || v["tenant"] != "acme" {
					t.Fatalf("verify the token: %v", v)
				}
				if in := introspect(t, e, e.Acme.APIKey, tok.AccessToken); in["active"] != true || in["sub"] != cl.sub || in["token_type"] != "Bearer" ||
					in["client_id"] != cl.c.id || in["kind"] != cl.kind || in["iss"] != iss {
					t.Fatalf("introspect: %v", in)
				}
			})
		}
	}

	t.Run("scope", func(t *testing.T) {
		tok, err := token(t, e, oauthClient{apiKey.ID, apiSecret}, oauth2.AuthStyleInHeader, "READ")
		if err != nil {
			t.Fatal(err)
		}
		if v := verifyToken(t, e, tok.AccessToken); v["code"] != "VALID" || !slices.Equal(v["permissions"].([]any), []any{"READ"}) {
			t.Fatalf("verify a READ token: %v", v)
		}
		r := e.Do("POST", "/api/verify", "", map[string]any{"key": tok.AccessToken, "permissions": []string{"AUDIT_READ"}})
		if r.JSON()["code"] != "INSUFFICIENT_PERMISSIONS" {
			t.Fatalf("a READ token for AUDIT_READ: %s", r.Body)
		}
	})

	t.Run("errors", func(t *testing.T) {
		other, err := e.Svc.CreateTenant(ctx, "other", "admin@other.test")
		if err != nil {
			t.Fatal(err)
		}
		otherAdmin, _ := e.Svc.Authenticate(ctx, keyhaven.Use{Secret: other.APIKey})
		grant := url.Values{"grant_type": {"client_credentials"}}
		with := func(kv ...string) url.Values {
			v := url.Values{"grant_type": {"client_credentials"}}
			for i := 0; i+1 < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}
		const tokenPath = "/api/acme/oauth2/token"
		for _, tc := range []struct {
			name    string
			form    url.Values
			headers []string
			status  int
			code    string
		}{
			{"wrong secret", grant, []string{"Authorization", basic(apiKey.ID, e.Acme.APIKey)}, 401, "invalid_client"},
			{"wrong secret in the form", with("client_id", apiKey.ID, "client_secret", accessSecret), nil, 401, "invalid_client"},
			{"unknown client", grant, []string{"Authorization", basic("key_nobody", apiSecret)}, 401, "invalid_client"},
			{"another tenant's key", grant, []string{"Authorization", basic(otherAdmin.CredentialID, other.APIKey)}, 401, "invalid_client"},
			{"wrong device password", grant, []string{"Authorization", basic("dev-one", "not-the-password")}, 401, "invalid_client"},
			{"no client authentication", grant, nil, 401, "invalid_client"},
			{"two authentication methods", with("client_id", apiKey.ID, "client_secret", apiSecret), []string{"Authorization", basic(apiKey.ID, apiSecret)}, 400, "invalid_request"},
			{"a permission the key lacks", with("scope", "READ WRITE"), []string{"Authorization", basic(apiKey.ID, apiSecret)}, 400, "invalid_scope"},
			{"an unknown permission", with("scope", "FLY"), []string{"Authorization", basic(apiKey.ID, apiSecret)}, 400, "invalid_scope"},
			{"wrong grant", url.Values{"grant_type": {"password"}}, []string{"Authorization", basic(apiKey.ID, apiSecret)}, 400, "unsupported_grant_type"},
			{"no grant", url.Values{}, []string{"Authorization", basic(apiKey.ID, apiSecret)}, 400, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				oauthError(t, form(e, tokenPath, tc.form, tc.headers...), tc.status, tc.code)
			})
		}
		r := e.Do("POST", tokenPath, "", `{"grant_type":"client_credentials"}`, "Authorization", basic(apiKey.ID, apiSecret))
		oauthError(t, r, 400, "invalid_request")
		if r := e.Do("GET", "/api/nobody/oauth2/jwks.json", "", nil); r.Status != http.StatusNotFound {
			t.Fatalf("JWK Set of an unknown tenant: %d", r.Status)
		}
		if r := e.Do("GET", "/.well-known/oauth-authorization-server/api/nobody", "", nil); r.Status != http.StatusNotFound {
			t.Fatalf("metadata of an unknown tenant: %d", r.Status)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		r := e.Do("GET", "/.well-known/oauth-authorization-server/api/acme", "", nil)
		m := r.JSON()
		if r.Status != http.StatusOK || m["issuer"] != iss || m["token_endpoint"] != iss+"/oauth2/token" || m["jwks_uri"] != iss+"/oauth2/jwks.json" ||
			m["introspection_endpoint"] != iss+"/oauth2/introspect" || m["revocation_endpoint"] != iss+"/oauth2/revoke" {
			t.Fatalf("metadata: %d %s", r.Status, r.Body)
		}
	})

	t.Run("IP allowlist binds the token endpoint", func(t *testing.T) {
		_, far, err := e.Svc.CreateAPIKey(ctx, admin, keyhaven.APIKeyInput{Name: "far", Permissions: []string{"READ"},
			Policy: keyhaven.PolicyInput{IPAllowlist: []string{"10.0.0.0/8"}}})
		if err != nil {
			t.Fatal(err)
		}
		farKey, _ := e.Svc.APIKey(ctx, admin, "far")
		oauthError(t, form(e, "/api/acme/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic(farKey.ID, far)), 400, "unauthorized_client")
		near, nearSecret, err := e.Svc.CreateAPIKey(ctx, admin, keyhaven.APIKeyInput{Name: "near", Permissions: []string{"READ"},
			Policy: keyhaven.PolicyInput{IPAllowlist: []string{"127.0.0.1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := token(t, e, oauthClient{near.ID, nearSecret}, oauth2.AuthStyleInHeader); err != nil {
			t.Fatalf("a key allowed from loopback: %v", err)
		}
	})

	t.Run("credits", func(t *testing.T) {
		// A token takes one credit; with none left the client is unauthorized_client.
		c, sec, err := e.Svc.CreateAPIKey(ctx, admin, keyhaven.APIKeyInput{Name: "metered", Permissions: []string{"READ"},
			Policy: keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Remaining: 3}}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := token(t, e, oauthClient{c.ID, sec}, oauth2.AuthStyleInHeader); err != nil {
				t.Fatalf("token %d of 3: %v", i+1, err)
			}
		}
		oauthError(t, form(e, "/api/acme/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic(c.ID, sec)), 400, "unauthorized_client")
	})

	t.Run("verify, introspect and revoke", func(t *testing.T) {
		tok, err := token(t, e, oauthClient{accessKey.ID, accessSecret}, oauth2.AuthStyleInParams)
		if err != nil {
			t.Fatal(err)
		}
		v := verifyToken(t, e, tok.AccessToken)
		exp, _ := time.Parse(time.RFC3339, v["expiresAt"].(string))
		_, claims, _ := parse(t, e, tok.AccessToken)
		if v["code"] != "VALID" || v["owner"] != admin.UserID || exp.Unix() != int64(claims["exp"].(float64)) {
			t.Fatalf("verify: %v (token claims %v)", v, claims)
		}
		// Revocation by the client: verify and introspection refuse the token at once.
		r := form(e, "/api/acme/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, "Authorization", basic(accessKey.ID, accessSecret))
		if r.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if v := verifyToken(t, e, tok.AccessToken); v["code"] != "REVOKED" {
			t.Fatalf("verify a revoked token: %v", v)
		}
		if in := introspect(t, e, e.Acme.APIKey, tok.AccessToken); in["active"] != false || len(in) != 1 {
			t.Fatalf("introspect a revoked token: %v", in)
		}
		for _, junk := range []string{"not-a-token", "eyJ.eyJ.sig"} {
			if r := form(e, "/api/acme/oauth2/revoke", url.Values{"token": {junk}}, "Authorization", basic(accessKey.ID, accessSecret)); r.Status != http.StatusOK {
				t.Fatalf("revoke an unknown token: %d %s", r.Status, r.Body)
			}
			if v := verifyToken(t, e, junk); v["code"] != "NOT_FOUND" {
				t.Fatalf("verify %q: %v", junk, v)
			}
		}
		// A token with a broken signature is NOT_FOUND.
		parts := strings.Split(tok.AccessToken, ".")
		sig := []byte(parts[2])
		sig[5] ^= 1
		if v := verifyToken(t, e, parts[0]+"."+parts[1]+"."+string(sig)); v["code"] != "NOT_FOUND" {
			t.Fatalf("verify a forged token: %v", v)
		}

		// The credential revoked: its tokens are REVOKED and inactive.
		tok2, err := token(t, e, oauthClient{accessKey.ID, accessSecret}, oauth2.AuthStyleInHeader)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Svc.RevokeAccessKey(ctx, admin, app.ID, accessKey.ID); err != nil {
			t.Fatal(err)
		}
		if v := verifyToken(t, e, tok2.AccessToken); v["code"] != "REVOKED" {
			t.Fatalf("verify the token of a revoked key: %v", v)
		}
		if in := introspect(t, e, e.Acme.APIKey, tok2.AccessToken); in["active"] != false {
			t.Fatalf("introspect the token of a revoked key: %v", in)
		}
		// Introspection needs a bearer of the tenant.
		if r := form(e, "/api/acme/oauth2/introspect", url.Values{"token": {tok2.AccessToken}}); r.Status != http.StatusUnauthorized {
			t.Fatalf("introspect without a bearer: %d %s", r.Status, r.Body)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		tok, err := token(t, e, oauthClient{apiKey.ID, apiSecret}, oauth2.AuthStyleInHeader)
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(301 * time.Second)
		if v := verifyToken(t, e, tok.AccessToken); v["code"] != "EXPIRED" {
			t.Fatalf("verify an expired token: %v", v)
		}
		if in := introspect(t, e, e.Acme.APIKey, tok.AccessToken); in["active"] != false {
			t.Fatalf("introspect an expired token: %v", in)
		}
	})

	t.Run("lifetime", func(t *testing.T) {
		if err := e.Svc.SetTenantLimits(ctx, "acme", keyhaven.Limits{Applications: 10, AccessKeysPerApplication: 10, APIKeys: 100, TokenLifetime: 3600}); err != nil {
			t.Fatal(err)
		}
		expires := e.Clock.Now().Add(20 * time.Minute).Truncate(time.Second)
		c, sec, err := e.Svc.CreateAPIKey(ctx, admin, keyhaven.APIKeyInput{Name: "short", Permissions: []string{"READ"}, Expires: &expires})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			c    oauthClient
			want float64
		}{{oauthClient{apiKey.ID, apiSecret}, 3600}, {oauthClient{c.ID, sec}, float64(expires.Unix() - e.Clock.Now().Unix())}} {
			tok, err := token(t, e, tc.c, oauth2.AuthStyleInHeader)
			if err != nil {
				t.Fatal(err)
			}
			_, claims, err := parse(t, e, tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if got := claims["exp"].(float64) - claims["iat"].(float64); got != tc.want {
				t.Fatalf("lifetime %v, want %v", got, tc.want)
			}
		}
	})

	t.Run("rotation", func(t *testing.T) {
		before, err := token(t, e, oauthClient{apiKey.ID, apiSecret}, oauth2.AuthStyleInHeader)
		if err != nil {
			t.Fatal(err)
		}
		old, _, _ := parse(t, e, before.AccessToken)
		k, err := e.Svc.RotateSigningKey(ctx, "acme", "")
		if err != nil {
			t.Fatal(err)
		}
		after, err := token(t, e, oauthClient{apiKey.ID, apiSecret}, oauth2.AuthStyleInHeader)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := parse(t, e, after.AccessToken)
		if err != nil || tok.Header["kid"] != k.ID {
			t.Fatalf("a token after rotation: kid %v, %v; want %s", tok.Header["kid"], err, k.ID)
		}
		if _, _, err := parse(t, e, before.AccessToken); err != nil {
			t.Fatalf("a token of the old key after rotation: %v", err)
		}
		if kids := jwksKids(t, e); !slices.Contains(kids, old.Header["kid"].(string)) || kids[0] != k.ID {
			t.Fatalf("JWK Set after rotation = %v; want %s first and %s", kids, k.ID, old.Header["kid"])
		}
		e.Clock.Advance(keyhaven.MaxTokenLifetime + keyhaven.KeySetMaxAge)
		if kids := jwksKids(t, e); len(kids) != 1 || kids[0] != k.ID {
			t.Fatalf("JWK Set once the old key's tokens expired = %v; want [%s]", kids, k.ID)
		}
	})
}
