package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestRotation rotates API keys and access keys: the new secret works at once, the old one
// through the grace period and is EXPIRED after it; everything but the secret is kept.
func TestRotation(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := e.Acme.APIKey
			app := createApp(t, e, admin, "rotating")
			policy := map[string]any{
				"ipAllowlist": []string{"10.0.0.0/8"}, "rateLimit": rateLimit(100, 3600),
				"credits": map[string]any{"remaining": 10, "refill": map[string]any{"amount": 10, "interval": "MONTHLY"}}, "meta": map[string]any{"plan": "gold"},
			}
			apiKey := map[string]any{"name": "ROTATING", "permissions": []string{"READ", "WRITE"}}
			for k, v := range policy {
				apiKey[k] = v
			}
			kinds := []struct {
				kind   string
				create func() keyJSON
				rotate func(k keyJSON) string // the rotation's path
				get    func(k keyJSON) string
			}{
				{"api key", func() keyJSON { return createAPIKey(t, e, admin, apiKey) },
					func(k keyJSON) string { return "/api/acme/api-keys/" + k.Name + "/rotate" },
					func(k keyJSON) string { return "/api/acme/api-keys/" + k.Name }},
				{"access key", func() keyJSON { return createPolicyKey(t, e, app, "rotating", policy) },
					func(k keyJSON) string { return "/api/acme/applications/" + app + "/access-keys/" + k.ID + "/rotate" },
					func(k keyJSON) string { return "/api/acme/applications/" + app + "/access-keys/" + k.ID }},
			}
			for _, kind := range kinds {
				t.Run(kind.kind, func(t *testing.T) {
					k := kind.create()
					use := func(secret, want string) policyVerdict {
						t.Helper()
						return check(t, e, want, map[string]any{"key": secret, "ip": "10.1.1.1"})
					}
					use(k.Key, "VALID")
					var rotated keyJSON
					r := mustStatus(t, e.Do("POST", kind.rotate(k), admin, map[string]any{"gracePeriodSeconds": 60}), http.StatusOK)
					r.Decode(t, &rotated)
					if rotated.Key == "" || rotated.Key == k.Key || rotated.Key[:4] != k.Key[:4] {
						t.Fatalf("rotation answered secret %q, old %q", rotated.Key, k.Key)
					}
					if rotated.ID != k.ID || rotated.Name != k.Name || strings.Join(rotated.Permissions, ",") != strings.Join(k.Permissions, ",") ||
						strings.Join(rotated.Scopes, ",") != strings.Join(k.Scopes, ",") || strings.Join(rotated.IPAllowlist, ",") != "10.0.0.0/8" ||
						rotated.RateLimit == nil || rotated.RateLimit.Limit != 100 || rotated.Credits == nil || rotated.Credits.Remaining != 9 ||
						rotated.Credits.Refill == nil || string(rotated.Meta) != `{"plan":"gold"}` || !rotated.CreatedAt.Equal(k.CreatedAt) {
						t.Fatalf("rotated %+v, was %+v", rotated, k)
					}
					if rotated.Display == k.Display && rotated.DisplayPrefix == k.DisplayPrefix {
						t.Fatalf("the display did not follow the new secret: %+v", rotated)
					}
					if got := mustStatus(t, e.Do("GET", kind.get(k), admin, nil), http.StatusOK); strings.Contains(string(got.Body), rotated.Key) {
						t.Fatal("a read shows the new secret")
					}
					if v := use(rotated.Key, "VALID"); v.ID != k.ID || v.Credits.Remaining != 8 || v.RateLimit.Remaining != 98 {
						t.Fatalf("the new secret: %+v, want the same key's credits and rate limit", v)
					}
					e.Clock.Advance(59 * time.Second)
					if v := use(k.Key, "VALID"); v.ID != k.ID || v.Credits.Remaining != 7 {
						t.Fatalf("the old secret within the grace: %+v", v)
					}
					e.Clock.Advance(time.Second)
					use(k.Key, "EXPIRED")
					use(rotated.Key, "VALID")

					// Without a grace period (and without a body), the old secret is EXPIRED at once,
					// though a verification just cached it.
					var again keyJSON
					mustStatus(t, e.Do("POST", kind.rotate(k), admin, nil), http.StatusOK).Decode(t, &again)
					use(rotated.Key, "EXPIRED")
					use(again.Key, "VALID")
					mustStatus(t, e.Do("POST", kind.rotate(k), admin, map[string]any{"gracePeriodSeconds": 0}), http.StatusOK).Decode(t, &rotated)
					use(again.Key, "EXPIRED")
					use(rotated.Key, "VALID")
					use(k.Key, "EXPIRED")

					// A retry with the same Idempotency-Key gets the first answer and rotates nothing.
					first := mustStatus(t, e.Do("POST", kind.rotate(k), admin, map[string]any{}, "Idempotency-Key", "rotate-"+strings.ReplaceAll(kind.kind, " ", "-")), http.StatusOK)
					retry := mustStatus(t, e.Do("POST", kind.rotate(k), admin, map[string]any{}, "Idempotency-Key", "rotate-"+strings.ReplaceAll(kind.kind, " ", "-")), http.StatusOK)
					if string(retry.Body) != string(first.Body) || retry.Header.Get("Idempotent-Replayed") != "true" {
						t.Fatalf("retry %s, first %s", retry.Body, first.Body)
					}
					var latest keyJSON
					first.Decode(t, &latest)
					use(latest.Key, "VALID")

					// The audit records rotations, refused ones too, and never a secret.
					events := e.Audit("action=" + strings.ReplaceAll(kind.kind, " ", "_") + ".rotate")
					raw, _ := json.Marshal(events)
					if len(events) < 4 {
						t.Fatalf("%d rotation events, want 4", len(events))
					}
					for _, s := range []string{k.Key, again.Key, rotated.Key, latest.Key} {
						if strings.Contains(string(raw), s) || strings.Contains(string(raw), s[4:]) {
							t.Fatalf("an audit event holds a secret: %s", raw)
						}
					}
					if strings.Contains(e.Logs(), latest.Key) {
						t.Fatal("a secret reached the logs")
					}
				})
			}

			t.Run("rules", func(t *testing.T) {
				_, viewer := e.CreateUser("viewer@acme.test", keyhaven.VIEW_ACCESS_KEYS_ANY, keyhaven.VIEW_APPLICATIONS, keyhaven.READ)
				id, own := createKey(t, e, admin, app, "self", "READ", "EDIT_ACCESS_KEYS_ANY")
				expiring := createPolicyKey(t, e, app, "expiring", map[string]any{"expiresAt": e.Clock.Now().Add(time.Minute)})
				keys := "/api/acme/applications/" + app + "/access-keys/"
				for _, s := range []apitest.Scenario{
					{Name: "without an edit permission", Method: "POST", URL: keys + id + "/rotate", Token: viewer, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
					{Name: "a key rotating itself", Method: "POST", URL: keys + id + "/rotate", Token: own, ExpectedStatus: 403, ExpectedCode: "own_key"},
					{Name: "an unknown key", Method: "POST", URL: keys + "akey_00000000000000000000000000/rotate", Token: admin, ExpectedStatus: 404},
					{Name: "a key of another application", Method: "POST", URL: "/api/acme/applications/" + createApp(t, e, admin, "other") + "/access-keys/" + id + "/rotate",
						Token: admin, ExpectedStatus: 404},
				} {
					s.Run(t, e)
				}
				e.Clock.Advance(time.Minute)
				mustStatus(t, e.Do("POST", keys+expiring.ID+"/rotate", admin, nil), http.StatusConflict)
				revoked, _ := createKey(t, e, admin, app, "revoked")
				mustStatus(t, e.Do("POST", keys+revoked+"/revoke", admin, nil), http.StatusOK)
				mustStatus(t, e.Do("POST", keys+revoked+"/rotate", admin, nil), http.StatusNotFound)
				e.RequireAudited(t, "access_key.rotate", "access_key.rotate", "api_key.rotate")
			})

			t.Run("at the application's limit of active keys", func(t *testing.T) {
				full := createApp(t, e, admin, "full")
				id, key := createKey(t, e, admin, full, "only")
				list, _ := listAPIKeys(t, e, admin, 100)
				if err := e.Svc.SetTenantLimits(context.Background(), "acme", keyhaven.Limits{Applications: 10, AccessKeysPerApplication: 1, APIKeys: len(list)}); err != nil {
					t.Fatal(err)
				}
				for _, s := range []apitest.Scenario{
					{Name: "another access key", Method: "POST", URL: "/api/acme/applications/" + full + "/access-keys", Token: admin,
						Body: map[string]any{"name": "second", "scopes": []string{"READ"}}, ExpectedStatus: 409, ExpectedCode: "limit_reached"},
					{Name: "another API key", Method: "POST", URL: "/api/acme/api-keys", Token: admin,
						Body: map[string]any{"name": "ONE_MORE", "permissions": []string{"READ"}}, ExpectedStatus: 409, ExpectedCode: "limit_reached"},
				} {
					s.Run(t, e)
				}
				var rotated keyJSON
				mustStatus(t, e.Do("POST", "/api/acme/applications/"+full+"/access-keys/"+id+"/rotate", admin, map[string]any{"gracePeriodSeconds": 600}), http.StatusOK).Decode(t, &rotated)
				check(t, e, "VALID", map[string]any{"key": rotated.Key})
				check(t, e, "VALID", map[string]any{"key": key})
				mustStatus(t, e.Do("POST", "/api/acme/api-keys/ROTATING/rotate", admin, nil), http.StatusOK)
			})
		})
	}
}
