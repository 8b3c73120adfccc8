package sdk_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/sdk"
)

// accessToken gets an access token from tenant's token endpoint on a real node with the stock
// client credentials client.
func accessToken(t *testing.T, k *keyhaven, tenant, clientID, secret string) string {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: k.URL + "/api/" + tenant + "/oauth2/token"}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s: %v", clientID, err)
	}
	return tok.AccessToken
}

// forge returns token with its claims changed and its signature kept.
func forge(t *testing.T, token string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	change(claims)
	raw, _ = json.Marshal(claims)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// TestMiddlewareWithKeyhavenTokens verifies access tokens a real node issued, offline: after
// the one fetch of the tenant's JWK Set no request reaches keyhaven; expired, forged and other
// tenants' tokens are refused; a rotated signing key is picked up with one more fetch.
func TestMiddlewareWithKeyhavenTokens(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			k := startKeyhaven(t, open)
			id, key := k.accessKey(t, "orders", []string{"READ", "WRITE"}, map[string]any{"meta": map[string]any{"plan": "pro"}})
			mw := sdk.NewMiddleware(k.proxy.URL, sdk.WithTenant("acme"), sdk.WithPublicURL(k.URL), sdk.WithClock(k.Clock.Now))
			h := mw.Require("READ")(echo)
			reached := func() int { return k.proxy.count("/api/acme/oauth2/jwks.json") + k.verifies() }

			tok := accessToken(t, k, "acme", id, key)
			a := call(t, h, tok)
			if a.Status != http.StatusOK || a.Verdict.ID != id || a.Verdict.Tenant != "acme" || a.Verdict.Kind != "access_key" ||
				!slices.Contains(a.Verdict.Permissions, "READ") || !strings.Contains(string(a.Verdict.Meta), `"pro"`) {
				t.Fatalf("a fresh token: %d %+v", a.Status, a.Verdict)
			}
			if n := reached(); n != 1 {
				t.Fatalf("the first verification reached keyhaven %d times, want the one JWK Set fetch", n)
			}
			for range 20 {
				if a := call(t, h, tok); a.Status != http.StatusOK {
					t.Fatalf("the same token again: %d %+v", a.Status, a.Problem)
				}
			}
			if n := reached(); n != 1 {
				t.Fatalf("20 offline verifications reached keyhaven %d more times", n-1)
			}
			if a := call(t, mw.Require("KEY_MANAGEMENT")(echo), tok); a.Status != http.StatusForbidden {
				t.Errorf("a route needing a permission the token lacks: %d", a.Status)
			}

			// Forged: the claims widened under the same signature.
			mustRefuse(t, call(t, h, forge(t, tok, func(c map[string]any) { c["scope"] = "READ WRITE KEY_MANAGEMENT" })), http.StatusUnauthorized, sdk.CodeInvalidToken)

			// Another tenant's token, from its own token endpoint.
			other, err := k.Svc.CreateTenant(context.Background(), "globex", "admin@globex.test")
			if err != nil {
				t.Fatal(err)
			}
			otherID := k.Do("POST", "/api/verify", "", map[string]any{"key": other.APIKey, "cost": 0}).JSON()["id"].(string)
			otherTok := accessToken(t, k, "globex", otherID, other.APIKey)
			mustRefuse(t, call(t, h, otherTok), http.StatusUnauthorized, sdk.CodeInvalidToken)

			// A rotated signing key: tokens it signs verify after one more fetch.
			if _, err := k.Svc.RotateSigningKey(context.Background(), "acme", ""); err != nil {
				t.Fatal(err)
			}
			// The middleware fetches a set naming an unknown kid at most once a refresh interval:
			// keys rotated later than that after its last fetch are picked up at once.
			k.Clock.Advance(sdk.DefaultRefreshInterval)
			before := reached()
			rotated := accessToken(t, k, "acme", id, key)
			if kid(t, rotated) == kid(t, tok) {
				t.Fatal("the token after rotation names the old signing key")
			}
			if a := call(t, h, rotated); a.Status != http.StatusOK || a.Verdict.ID != id {
				t.Fatalf("a token of the rotated key: %d %+v", a.Status, a.Problem)
			}
			if n := reached() - before; n != 1 {
				t.Fatalf("the rotated key cost %d requests to keyhaven, want one JWK Set fetch", n)
			}
			if a := call(t, h, tok); a.Status != http.StatusOK {
				t.Errorf("a token of the retired key, still unexpired: %d %+v", a.Status, a.Problem)
			}

			// Expired: the node's clock (and the middleware's) past the token's lifetime and the
			// middleware's leeway.
			k.Clock.Advance(300*time.Second + sdk.DefaultLeeway)
			mustRefuse(t, call(t, h, rotated), http.StatusUnauthorized, sdk.CodeExpired)
		})
	}
}

func kid(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	json.Unmarshal(raw, &h)
	return h.Kid
}
