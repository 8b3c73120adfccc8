package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

type verdict struct {
	Valid                               bool
	Code, Tenant, Kind, ID, Name, Owner string
	Permissions                         []string
	ExpiresAt                           *time.Time
}

func verifyKey(t *testing.T, e *apitest.Env, token string, body any) verdict {
	t.Helper()
	var v verdict
	mustStatus(t, e.Do("POST", "/api/verify", token, body), 200).Decode(t, &v)
	if v.Valid != (v.Code == "VALID") {
		t.Fatalf("valid %v with code %s", v.Valid, v.Code)
	}
	return v
}

func TestVerify(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testVerify(t, apitest.New(t, open)) })
	}
}

func testVerify(t *testing.T, e *apitest.Env) {
	admin := e.Acme.APIKey
	ctx := context.Background()
	other, err := e.Svc.CreateTenant(ctx, "other", "a@other.test")
	if err != nil {
		t.Fatal(err)
	}
	app := createApp(t, e, admin, "app")
	keyID, key := createKey(t, e, admin, app, "reader", "READ", "WRITE")
	session := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)

	v := verifyKey(t, e, "", map[string]any{"key": key})
	if v.Code != "VALID" || v.Tenant != "acme" || v.Kind != "access_key" || v.ID != keyID || v.Name != "reader" ||
		v.Owner != userID(t, e, admin) || strings.Join(v.Permissions, ",") != "READ,WRITE" {
		t.Fatalf("verify = %+v", v)
	}
	if v := verifyKey(t, e, "", map[string]any{"key": session}); v.Code != "VALID" || v.Kind != "session" || len(v.Permissions) != len(keyhaven.Permissions) {
		t.Fatalf("session: %+v", v)
	}
	if v := verifyKey(t, e, "", map[string]any{"key": admin, "permissions": []string{"READ", "AUDIT_READ"}}); v.Code != "VALID" || v.Kind != "api_key" {
		t.Fatalf("api key with held permissions: %+v", v)
	}
	if v := verifyKey(t, e, "", map[string]any{"key": key, "permissions": []string{"READ", "AUDIT_READ"}}); v.Code != "INSUFFICIENT_PERMISSIONS" || v.Valid {
		t.Fatalf("missing permission: %+v", v)
	}

	t.Run("malformed secrets are refused without a read", func(t *testing.T) {
		_, before := e.Node.Cache.Stats()
		broken := []byte(key)
		broken[12] ^= 1
		for _, k := range []string{"nonsense", key[:len(key)-1], string(broken), "khk_" + strings.Repeat("A", 38), strings.ToUpper(key)} {
			if v := verifyKey(t, e, "", map[string]any{"key": k}); v.Code != "NOT_FOUND" || v.ID != "" {
				t.Fatalf("%q: %+v", k, v)
			}
		}
		if _, after := e.Node.Cache.Stats(); after != before {
			t.Fatalf("%d store reads for malformed secrets", after-before)
		}
	})
	t.Run("unknown and other tenants' keys are indistinguishable", func(t *testing.T) {
		unknown := verifyKey(t, e, admin, map[string]any{"key": secret.Generate(secret.APIKey)})
		foreign := verifyKey(t, e, admin, map[string]any{"key": other.APIKey})
		if unknown.Code != "NOT_FOUND" || fmt.Sprint(foreign) != fmt.Sprint(unknown) {
			t.Fatalf("unknown %+v, another tenant's %+v", unknown, foreign)
		}
		if v := verifyKey(t, e, other.APIKey, map[string]any{"key": other.APIKey}); v.Code != "VALID" {
			t.Fatalf("own tenant's key: %+v", v)
		}
	})
	t.Run("the cache answers repeated verifications", func(t *testing.T) {
		hits, _ := e.Node.Cache.Stats()
		for range 5 {
			verifyKey(t, e, "", map[string]any{"key": key})
		}
		if h, _ := e.Node.Cache.Stats(); h-hits < 5 {
			t.Fatalf("%d cache hits for 5 verifications of a hot key", h-hits)
		}
	})
	t.Run("each status", func(t *testing.T) {
		// Permission changes of the owner show at once, cached or not.
		ownerID, owner := e.CreateUser("owner@acme.test", keyhaven.READ, keyhaven.WRITE, keyhaven.CREATE_ACCESS_KEYS_ANY, keyhaven.VIEW_APPLICATIONS)
		_, k := createKey(t, e, owner, app, "owners", "READ", "WRITE")
		verifyKey(t, e, "", map[string]any{"key": k})
		mustStatus(t, e.Do("PATCH", "/api/acme/users/"+ownerID, admin, map[string]any{"permissions": []string{"READ"}}), 200)
		if v := verifyKey(t, e, "", map[string]any{"key": k}); strings.Join(v.Permissions, ",") != "READ" {
			t.Fatalf("after narrowing the owner: %+v", v)
		}
		mustStatus(t, e.Do("DELETE", "/api/acme/users/"+ownerID, admin, nil), 204)
		if v := verifyKey(t, e, "", map[string]any{"key": k}); v.Code != "REVOKED" {
			t.Fatalf("owner deleted: %+v", v)
		}
		// Revoked access key.
		id, k2 := createKey(t, e, admin, app, "to-revoke")
		verifyKey(t, e, "", map[string]any{"key": k2})
		mustStatus(t, e.Do("POST", "/api/acme/applications/"+app+"/access-keys/"+id+"/revoke", admin, nil), 200)
		if v := verifyKey(t, e, "", map[string]any{"key": k2}); v.Code != "REVOKED" {
			t.Fatalf("revoked: %+v", v)
		}
		// Expired access key: no notification needed, judged at use.
		r := e.Do("POST", "/api/acme/applications/"+app+"/access-keys", admin, map[string]any{"name": "brief", "scopes": []string{"READ"},
			"expiresAt": e.Clock.Now().Add(time.Minute).Format(time.RFC3339Nano)})
		k3 := r.JSON()["key"].(string)
		if v := verifyKey(t, e, "", map[string]any{"key": k3}); v.Code != "VALID" || v.ExpiresAt == nil {
			t.Fatalf("before expiry: %+v", v)
		}
		e.Clock.Advance(time.Minute)
		if v := verifyKey(t, e, "", map[string]any{"key": k3}); v.Code != "EXPIRED" {
			t.Fatalf("expired: %+v", v)
		}
		// Inactive API key.
		apiKey := gqlCreateKey(t, e, "DORMANT")
		verifyKey(t, e, "", map[string]any{"key": apiKey})
		gqlDo(t, e, `mutation { updateApiKey(name: "DORMANT", api_key: {active: false}) { name } }`)
		if v := verifyKey(t, e, "", map[string]any{"key": apiKey}); v.Code != "DISABLED" {
			t.Fatalf("inactive: %+v", v)
		}
		gqlDo(t, e, `mutation { deleteApiKey(name: "DORMANT") }`)
		if v := verifyKey(t, e, "", map[string]any{"key": apiKey}); v.Code != "NOT_FOUND" {
			t.Fatalf("deleted: %+v", v)
		}
		// Revoked application.
		app2 := createApp(t, e, admin, "app2")
		_, k4 := createKey(t, e, admin, app2, "k")
		verifyKey(t, e, "", map[string]any{"key": k4})
		mustStatus(t, e.Do("POST", "/api/acme/applications/"+app2+"/revoke", admin, nil), 200)
		if v := verifyKey(t, e, "", map[string]any{"key": k4}); v.Code != "REVOKED" {
			t.Fatalf("application revoked: %+v", v)
		}
		// Logged-out session.
		s2 := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
		verifyKey(t, e, "", map[string]any{"key": s2})
		mustStatus(t, e.Do("POST", "/api/acme/logout", s2, nil), 204)
		if v := verifyKey(t, e, "", map[string]any{"key": s2}); v.Code != "NOT_FOUND" {
			t.Fatalf("logged out: %+v", v)
		}
	})
	t.Run("last use is recorded in batches", func(t *testing.T) {
		_, k := createKey(t, e, admin, app, "used")
		listed := func() string {
			var page struct {
				Items []struct{ Name, LastUsedAt string }
			}
			e.Do("GET", "/api/acme/applications/"+app+"/access-keys?limit=100", admin, nil).Decode(t, &page)
			for _, it := range page.Items {
				if it.Name == "used" {
					return it.LastUsedAt
				}
			}
			return "missing"
		}
		verifyKey(t, e, "", map[string]any{"key": k})
		want := e.Clock.Now().UTC().Truncate(time.Minute).Format(time.RFC3339)
		if got := listed(); got != "" {
			t.Fatalf("last use written before the node's interval passed: %q", got)
		}
		// The node's loop may still be writing for an earlier advance, and then waits a whole
		// interval from there: each try moves the clock on by one more.
		eventually.Within(t, 10*time.Second, func() error {
			e.Clock.Advance(apitest.UsageInterval)
			if got := listed(); got != want {
				return fmt.Errorf("last use %q once the node's interval passed, want %q", got, want)
			}
			return nil
		})
	})
	t.Run("bad requests", func(t *testing.T) {
		for _, s := range []apitest.Scenario{
			{Name: "no body", Method: "POST", URL: "/api/verify", Body: ``, ExpectedStatus: 400},
			{Name: "not JSON", Method: "POST", URL: "/api/verify", Body: `key=x`, ExpectedStatus: 400},
			{Name: "no key", Method: "POST", URL: "/api/verify", Body: `{}`, ExpectedStatus: 400, ExpectedContent: []string{`"field":"key"`}},
			{Name: "unknown field", Method: "POST", URL: "/api/verify", Body: `{"key":"x","tenant":"acme"}`, ExpectedStatus: 400},
			{Name: "trailing data", Method: "POST", URL: "/api/verify", Body: `{"key":"x"} {}`, ExpectedStatus: 400},
			{Name: "key of the wrong type", Method: "POST", URL: "/api/verify", Body: `{"key":7}`, ExpectedStatus: 400},
			{Name: "unknown permission", Method: "POST", URL: "/api/verify", Body: `{"key":"x","permissions":["ROOT"]}`, ExpectedStatus: 400},
			{Name: "wrong content type", Method: "POST", URL: "/api/verify", Body: `{"key":"x"}`, Headers: []string{"Content-Type", "text/plain"}, ExpectedStatus: 415},
			{Name: "huge body", Method: "POST", URL: "/api/verify", Body: `{"key":"` + strings.Repeat("x", 20000) + `"}`, ExpectedStatus: 413},
			{Name: "bad bearer", Method: "POST", URL: "/api/verify", Token: "khk_nope", Body: `{"key":"x"}`, ExpectedStatus: 401},
			{Name: "GET", URL: "/api/verify", ExpectedStatus: 404},
		} {
			s.Run(t, e)
		}
	})
}

func gqlDo(t *testing.T, e *apitest.Env, query string) map[string]any {
	t.Helper()
	r := e.Do("POST", "/api/acme/graphql", e.Acme.APIKey, map[string]any{"query": query})
	var out map[string]any
	json.Unmarshal(r.Body, &out)
	if out["errors"] != nil {
		t.Fatalf("%s: %v", query, out["errors"])
	}
	return out
}

func gqlCreateKey(t *testing.T, e *apitest.Env, name string) string {
	t.Helper()
	out := gqlDo(t, e, `mutation { createApiKey(api_key: {name: "`+name+`", permissions: [READ]}) { api_key } }`)
	return out["data"].(map[string]any)["createApiKey"].(map[string]any)["api_key"].(string)
}

func TestClientAddress(t *testing.T) {
	// Through a trusted proxy the forwarded address counts; from anywhere else it is ignored.
	e := apitest.NewBehind(t, testdb.SQLite, netip.MustParsePrefix("127.0.0.0/8"))
	e.Do("POST", "/api/acme/login", "", map[string]string{"email": "admin@acme.test", "password": "wrong-password-1"}, "X-Forwarded-For", "203.0.113.7, 127.0.0.9")
	var page struct{ Items []keyhaven.AuditEvent }
	e.Do("GET", "/api/acme/audit?action=session.create", e.Acme.APIKey, nil).Decode(t, &page)
	if len(page.Items) == 0 || page.Items[0].RemoteAddr != "203.0.113.7" {
		t.Fatalf("audit events %+v, want the forwarded client address", page.Items)
	}
	e2 := apitest.New(t, testdb.SQLite)
	e2.Do("POST", "/api/acme/login", "", map[string]string{"email": "admin@acme.test", "password": "wrong-password-1"}, "X-Forwarded-For", "203.0.113.7")
	e2.Do("GET", "/api/acme/audit?action=session.create", e2.Acme.APIKey, nil).Decode(t, &page)
	if len(page.Items) == 0 || page.Items[0].RemoteAddr != "127.0.0.1" {
		t.Fatalf("audit events %+v, want the peer address (no trusted proxy)", page.Items)
	}
}
