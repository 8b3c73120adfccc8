package sdk_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/sdk"
)

// keyhaven is a real node behind a proxy counting what reaches it, with an application of acme.
type keyhaven struct {
	*apitest.Env
	proxy *counter
	app   string
}

func startKeyhaven(t *testing.T, open testdb.Opener) *keyhaven {
	t.Helper()
	e := apitest.New(t, open)
	r := e.Do("POST", "/api/acme/applications", e.Acme.APIKey, map[string]any{"name": "billing"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create application: %d %s", r.Status, r.Body)
	}
	return &keyhaven{Env: e, proxy: newCounter(t, e.URL), app: r.JSON()["id"].(string)}
}

// accessKey creates an access key of the application with the extra fields of body and
// returns its id and secret.
func (k *keyhaven) accessKey(t *testing.T, name string, scopes []string, body map[string]any) (id, key string) {
	t.Helper()
	b := map[string]any{"name": name, "scopes": scopes}
	for f, v := range body {
		b[f] = v
	}
	r := k.Do("POST", "/api/acme/applications/"+k.app+"/access-keys", k.Acme.APIKey, b)
	if r.Status != http.StatusCreated {
		t.Fatalf("create access key %s: %d %s", name, r.Status, r.Body)
	}
	m := r.JSON()
	return m["id"].(string), m["key"].(string)
}

func (k *keyhaven) revoke(t *testing.T, id string) {
	t.Helper()
	if r := k.Do("POST", "/api/acme/applications/"+k.app+"/access-keys/"+id+"/revoke", k.Acme.APIKey, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke %s: %d %s", id, r.Status, r.Body)
	}
}

func (k *keyhaven) verifies() int { return k.proxy.count("/api/verify") }

func TestMiddlewareWithKeyhaven(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			k := startKeyhaven(t, open)
			clk := newClock()
			mw := sdk.NewMiddleware(k.proxy.URL, sdk.WithTenant("acme"), sdk.WithClock(clk.Now))
			service := mw.Handler(echo)

			t.Run("a valid key reaches the service with its verdict", func(t *testing.T) {
				id, key := k.accessKey(t, "reader", []string{"READ"}, map[string]any{"meta": map[string]any{"plan": "gold"}})
				a := call(t, service, key)
				if a.Status != http.StatusOK {
					t.Fatalf("got %d %s, want 200", a.Status, a.Problem.Code)
				}
				v := a.Verdict
				if !v.Valid || v.Code != "VALID" || v.ID != id || v.Tenant != "acme" || v.Kind != "access_key" || v.Name != "reader" ||
					!slices.Contains(v.Permissions, "READ") || string(v.Meta) != `{"plan":"gold"}` {
					t.Errorf("got verdict %+v (meta %s), want the valid access key %s of acme with READ and its meta", v, v.Meta, id)
				}
			})

			t.Run("a second request within the TTL does not reach keyhaven", func(t *testing.T) {
				_, key := k.accessKey(t, "cached", []string{"READ"}, nil)
				call(t, service, key)
				before := k.verifies()
				clk.Advance(sdk.DefaultCacheTTL - time.Second)
				if a := call(t, service, key); a.Status != http.StatusOK {
					t.Fatalf("got %d, want 200", a.Status)
				}
				if got := k.verifies(); got != before {
					t.Errorf("got %d verifications reaching keyhaven within the TTL, want 0", got-before)
				}
				clk.Advance(time.Second)
				call(t, service, key)
				if got := k.verifies(); got != before+1 {
					t.Errorf("got %d verifications reaching keyhaven once the TTL passed, want 1", got-before)
				}
			})

			t.Run("a revoked key is refused", func(t *testing.T) {
				id, key := k.accessKey(t, "revoked", []string{"READ"}, nil)
				k.revoke(t, id)
				mustRefuse(t, call(t, service, key), http.StatusUnauthorized, "REVOKED")
			})

			t.Run("a key lacking a required permission is forbidden", func(t *testing.T) {
				_, key := k.accessKey(t, "read-only", []string{"READ"}, nil)
				mustRefuse(t, call(t, mw.Require("READ", "WRITE")(echo), key), http.StatusForbidden, "INSUFFICIENT_PERMISSIONS")
				if a := call(t, mw.Require("READ")(echo), key); a.Status != http.StatusOK {
					t.Errorf("got %d with every required permission, want 200", a.Status)
				}
			})

			t.Run("a key with credits is never cached", func(t *testing.T) {
				_, key := k.accessKey(t, "metered", []string{"READ"}, map[string]any{"credits": map[string]any{"remaining": 3}})
				before := k.verifies()
				for i := range 3 {
					if a := call(t, service, key); a.Status != http.StatusOK {
						t.Fatalf("use %d: got %d %s, want 200", i+1, a.Status, a.Problem.Code)
					}
				}
				mustRefuse(t, call(t, service, key), http.StatusTooManyRequests, "USAGE_EXCEEDED")
				if got := k.verifies() - before; got != 4 {
					t.Errorf("got %d of 4 verifications reaching keyhaven, want every one", got)
				}
			})

			t.Run("a key with a rate limit is never cached", func(t *testing.T) {
				_, key := k.accessKey(t, "limited", []string{"READ"}, map[string]any{"rateLimit": map[string]any{"limit": 2, "periodSeconds": 3600}})
				call(t, service, key)
				call(t, service, key)
				a := call(t, service, key)
				mustRefuse(t, a, http.StatusTooManyRequests, "RATE_LIMITED")
				if a.Header.Get("Retry-After") == "" {
					t.Error("RATE_LIMITED without Retry-After")
				}
			})

			t.Run("an unknown key is refused, and so is no key", func(t *testing.T) {
				mustRefuse(t, call(t, service, "kha_notakeyatall"), http.StatusUnauthorized, "NOT_FOUND")
				a := call(t, service, "")
				mustRefuse(t, a, http.StatusUnauthorized, "MISSING_CREDENTIAL")
				if got := a.Header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("got WWW-Authenticate %q, want Bearer", got)
				}
			})

			t.Run("another tenant's key is refused", func(t *testing.T) {
				other, err := k.Svc.CreateTenant(context.Background(), "globex", "admin@globex.test")
				if err != nil {
					t.Fatal(err)
				}
				v, err := sdk.NewClient(k.URL).Verify(context.Background(), other.APIKey, sdk.VerifyOptions{})
				if err != nil || !v.Valid || v.Tenant != "globex" {
					t.Fatalf("got %+v, %v, want globex's valid key", v, err)
				}
				mustRefuse(t, call(t, service, other.APIKey), http.StatusUnauthorized, "NOT_FOUND")
			})
		})
	}
}

func TestMiddlewareWithoutKeyhaven(t *testing.T) {
	mw := sdk.NewMiddleware("http://127.0.0.1:1", sdk.WithTenant("acme"))
	mustRefuse(t, call(t, mw.Handler(echo), "kha_somekey"), http.StatusServiceUnavailable, "UNAVAILABLE")
}
