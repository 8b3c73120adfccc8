package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// keyJSON is an API key or access key as the API shows it.
type keyJSON struct {
	ID, Name, Display, DisplayPrefix, Key, Status string
	Permissions, Scopes                           []string
	Active                                        bool
	ExpiresAt, LastUsedAt                         *time.Time
	CreatedAt                                     time.Time
	IPAllowlist                                   []string
	RateLimit                                     *struct{ Limit, PeriodSeconds int64 }
	Credits                                       *struct {
		Remaining int64
		Refill    *struct {
			Amount   int64
			Interval string
		}
	}
	Meta json.RawMessage
}

// createAPIKey creates an API key with token and returns it, with its secret.
func createAPIKey(t *testing.T, e *apitest.Env, token string, body map[string]any) keyJSON {
	t.Helper()
	var k keyJSON
	mustStatus(t, e.Do("POST", "/api/acme/api-keys", token, body), http.StatusCreated).Decode(t, &k)
	if !strings.HasPrefix(k.Key, "khk_") {
		t.Fatalf("created API key without its secret: %+v", k)
	}
	return k
}

// listAPIKeys returns every API key of acme, page by page, and the raw pages.
func listAPIKeys(t *testing.T, e *apitest.Env, token string, limit int) ([]keyJSON, string) {
	t.Helper()
	var all []keyJSON
	var raw strings.Builder
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the listing does not end")
		}
		r := mustStatus(t, e.Do("GET", fmt.Sprintf("/api/acme/api-keys?limit=%d&cursor=%s", limit, cursor), token, nil), http.StatusOK)
		raw.Write(r.Body)
		var page struct {
			Items      []keyJSON
			NextCursor string
		}
		r.Decode(t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, raw.String()
		}
		cursor = page.NextCursor
	}
}

func findKey(keys []keyJSON, name string) *keyJSON {
	for i := range keys {
		if keys[i].Name == name {
			return &keys[i]
		}
	}
	return nil
}

var mergePatch = []string{"Content-Type", "application/merge-patch+json"}

// TestAPIKeysOverREST covers the REST twins of the GraphQL API key operations: the same
// rules and permissions, the secret shown once, policies set, shown and cleared.
func TestAPIKeysOverREST(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testAPIKeysOverREST(t, apitest.New(t, open)) })
	}
}

func testAPIKeysOverREST(t *testing.T, e *apitest.Env) {
	admin := e.Acme.APIKey
	const keys = "/api/acme/api-keys"
	_, reader := e.CreateUser("reader@acme.test", keyhaven.READ, keyhaven.WRITE)
	_, keyman := e.CreateUser("keyman@acme.test", keyhaven.KEY_MANAGEMENT, keyhaven.READ)
	expires := e.Clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)

	sync := createAPIKey(t, e, admin, map[string]any{
		"name": "SYNC", "permissions": []string{"READ", "WRITE"}, "expiresAt": expires,
		"ipAllowlist": []string{"10.1.2.3/8", "203.0.113.7", "2001:db8::/32"},
		"rateLimit":   map[string]any{"limit": 100, "periodSeconds": 60},
		"credits":     map[string]any{"remaining": 50, "refill": map[string]any{"amount": 80, "interval": "MONTHLY"}},
		"meta":        map[string]any{"customer": "c-42", "plan": "gold"},
	})
	t.Run("create answers the key with its policy", func(t *testing.T) {
		if sync.Name != "SYNC" || !sync.Active || strings.Join(sync.Permissions, ",") != "READ,WRITE" || sync.ExpiresAt == nil || !sync.ExpiresAt.Equal(expires) {
			t.Errorf("created %+v", sync)
		}
		if got := strings.Join(sync.IPAllowlist, ","); got != "10.0.0.0/8,203.0.113.7,2001:db8::/32" {
			t.Errorf("ipAllowlist %s, want the ranges in canonical form", got)
		}
		if sync.RateLimit == nil || *sync.RateLimit != (struct{ Limit, PeriodSeconds int64 }{100, 60}) {
			t.Errorf("rateLimit %+v", sync.RateLimit)
		}
		if c := sync.Credits; c == nil || c.Remaining != 50 || c.Refill == nil || c.Refill.Amount != 80 || c.Refill.Interval != "MONTHLY" {
			t.Errorf("credits %+v", sync.Credits)
		}
		if string(sync.Meta) != `{"customer":"c-42","plan":"gold"}` {
			t.Errorf("meta %s", sync.Meta)
		}
		if !strings.HasPrefix(sync.Display, sync.Key[:10]) || strings.Contains(sync.Display, sync.Key[10:]) {
			t.Errorf("display %q of %q is not masked", sync.Display, sync.Key)
		}
	})
	t.Run("the secret is shown once", func(t *testing.T) {
		list, raw := listAPIKeys(t, e, admin, 50)
		k := findKey(list, "SYNC")
		if k == nil || k.Key != "" || k.Display != sync.Display || k.ID != sync.ID {
			t.Fatalf("listed %+v", k)
		}
		if strings.Contains(raw, sync.Key) || strings.Contains(raw, e.Acme.APIKey) || strings.Contains(raw, `"key"`) {
			t.Fatalf("a listing shows a secret: %s", raw)
		}
		r := mustStatus(t, e.Do("GET", keys+"/SYNC", admin, nil), http.StatusOK)
		if strings.Contains(string(r.Body), sync.Key) || strings.Contains(string(r.Body), `"key"`) {
			t.Fatalf("GET shows the secret: %s", r.Body)
		}
		var got keyJSON
		r.Decode(t, &got)
		if got.Credits == nil || got.Credits.Remaining != 50 || string(got.Meta) != string(sync.Meta) || len(got.IPAllowlist) != 3 {
			t.Fatalf("GET %+v", got)
		}
		if strings.Contains(e.Logs(), sync.Key) {
			t.Fatal("the secret reached the logs")
		}
	})

	manager := createAPIKey(t, e, admin, map[string]any{"name": "MANAGER", "permissions": []string{"KEY_MANAGEMENT", "READ"}})
	rotate := func(name string) string { return keys + "/" + name + "/rotate" }
	for _, s := range []apitest.Scenario{
		{Name: "no KEY_MANAGEMENT: create", Method: "POST", URL: keys, Token: reader, Body: map[string]any{"name": "X", "permissions": []string{"READ"}},
			ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "no KEY_MANAGEMENT: list", URL: keys, Token: reader, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "no KEY_MANAGEMENT: get", URL: keys + "/SYNC", Token: reader, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "no KEY_MANAGEMENT: update", Method: "PATCH", URL: keys + "/SYNC", Token: reader, Body: map[string]any{"active": false},
			ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "no KEY_MANAGEMENT: delete", Method: "DELETE", URL: keys + "/SYNC", Token: reader, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "no KEY_MANAGEMENT: rotate", Method: "POST", URL: rotate("SYNC"), Token: reader, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "escalation on create", Method: "POST", URL: keys, Token: keyman, Body: map[string]any{"name": "X", "permissions": []string{"READ", "WRITE"}},
			ExpectedStatus: 403, ExpectedCode: "permission_escalation"},
		{Name: "escalation on update", Method: "PATCH", URL: keys + "/MANAGER", Token: keyman, Body: map[string]any{"permissions": []string{"READ", "AUDIT_READ"}},
			ExpectedStatus: 403, ExpectedCode: "permission_escalation"},
		{Name: "a more privileged key: update", Method: "PATCH", URL: keys + "/SYNC", Token: keyman, Body: map[string]any{"active": false},
			ExpectedStatus: 403, ExpectedCode: "key_more_privileged"},
		{Name: "a more privileged key: delete", Method: "DELETE", URL: keys + "/SYNC", Token: keyman, ExpectedStatus: 403, ExpectedCode: "key_more_privileged"},
		{Name: "a more privileged key: rotate", Method: "POST", URL: rotate("SYNC"), Token: keyman, ExpectedStatus: 403, ExpectedCode: "key_more_privileged"},
		{Name: "own key: update", Method: "PATCH", URL: keys + "/MANAGER", Token: manager.Key, Body: map[string]any{"meta": map[string]any{"a": 1}},
			ExpectedStatus: 403, ExpectedCode: "own_key"},
		{Name: "own key: delete", Method: "DELETE", URL: keys + "/MANAGER", Token: manager.Key, ExpectedStatus: 403, ExpectedCode: "own_key"},
		{Name: "own key: rotate", Method: "POST", URL: rotate("MANAGER"), Token: manager.Key, ExpectedStatus: 403, ExpectedCode: "own_key"},
		{Name: "own key: read", URL: keys + "/MANAGER", Token: manager.Key, ExpectedStatus: 200, NotExpectedContent: []string{manager.Key}},
		{Name: "duplicate", Method: "POST", URL: keys, Token: admin, Body: map[string]any{"name": "SYNC", "permissions": []string{"READ"}},
			ExpectedStatus: 409, ExpectedCode: "duplicate"},
		{Name: "rename onto another key", Method: "PATCH", URL: keys + "/MANAGER", Token: admin, Body: map[string]any{"name": "SYNC"},
			ExpectedStatus: 409, ExpectedCode: "duplicate"},
		{Name: "unknown: get", URL: keys + "/NOPE", Token: admin, ExpectedStatus: 404, ExpectedCode: "not_found"},
		{Name: "unknown: update", Method: "PATCH", URL: keys + "/NOPE", Token: admin, Body: map[string]any{"active": false}, ExpectedStatus: 404, ExpectedCode: "not_found"},
		{Name: "unknown: delete", Method: "DELETE", URL: keys + "/NOPE", Token: admin, ExpectedStatus: 404, ExpectedCode: "not_found"},
		{Name: "unknown: rotate", Method: "POST", URL: rotate("NOPE"), Token: admin, ExpectedStatus: 404, ExpectedCode: "not_found"},
		{Name: "a name no key can have", URL: keys + "/no%20such-key", Token: admin, ExpectedStatus: 404, ExpectedCode: "not_found"},
		{Name: "another tenant's path", URL: "/api/other/api-keys", Token: admin, ExpectedStatus: 403, ExpectedCode: "wrong_tenant"},
	} {
		s.Run(t, e)
	}

	t.Run("update as a merge patch", func(t *testing.T) {
		var k keyJSON
		mustStatus(t, e.Do("PATCH", keys+"/SYNC", admin, map[string]any{"meta": map[string]any{"plan": "silver"}, "rateLimit": map[string]any{"limit": 5, "periodSeconds": 1}},
			mergePatch...), http.StatusOK).Decode(t, &k)
		if string(k.Meta) != `{"plan":"silver"}` || k.RateLimit == nil || k.RateLimit.Limit != 5 || k.RateLimit.PeriodSeconds != 1 {
			t.Fatalf("after setting meta and rateLimit: %+v", k)
		}
		if k.Credits == nil || k.Credits.Remaining != 50 || len(k.IPAllowlist) != 3 || k.ExpiresAt == nil || strings.Join(k.Permissions, ",") != "READ,WRITE" {
			t.Fatalf("absent fields changed: %+v", k)
		}
		// Plain JSON is taken as a merge patch too.
		k = keyJSON{}
		mustStatus(t, e.Do("PATCH", keys+"/SYNC", admin, `{"expiresAt":null,"ipAllowlist":null,"rateLimit":null,"credits":null,"meta":null}`),
			http.StatusOK).Decode(t, &k)
		if k.ExpiresAt != nil || len(k.IPAllowlist) != 0 || k.RateLimit != nil || k.Credits != nil || string(k.Meta) != `{}` {
			t.Fatalf("after clearing with null: %+v", k)
		}
		var got keyJSON
		mustStatus(t, e.Do("GET", keys+"/SYNC", admin, nil), http.StatusOK).Decode(t, &got)
		if got.ExpiresAt != nil || len(got.IPAllowlist) != 0 || got.RateLimit != nil || got.Credits != nil || string(got.Meta) != `{}` {
			t.Fatalf("read back after clearing: %+v", got)
		}
		k = keyJSON{}
		mustStatus(t, e.Do("PATCH", keys+"/SYNC", admin, map[string]any{"ipAllowlist": []string{"192.0.2.0/24"}, "credits": map[string]any{"remaining": 3},
			"name": "SYNC_2", "active": false, "permissions": []string{"READ"}}, mergePatch...), http.StatusOK).Decode(t, &k)
		if k.Name != "SYNC_2" || k.Active || strings.Join(k.Permissions, ",") != "READ" || strings.Join(k.IPAllowlist, ",") != "192.0.2.0/24" ||
			k.Credits == nil || k.Credits.Remaining != 3 || k.Credits.Refill != nil {
			t.Fatalf("after a second patch: %+v", k)
		}
		k = keyJSON{}
		mustStatus(t, e.Do("PATCH", keys+"/SYNC_2", admin, map[string]any{"ipAllowlist": []string{}}, mergePatch...), http.StatusOK).Decode(t, &k)
		if len(k.IPAllowlist) != 0 {
			t.Fatalf("[] left the allowlist %v", k.IPAllowlist)
		}
		for _, s := range []apitest.Scenario{
			{Name: "name null", Method: "PATCH", URL: keys + "/SYNC_2", Token: admin, Body: `{"name":null}`, Headers: mergePatch,
				ExpectedStatus: 400, ExpectedCode: "invalid_input", ExpectedContent: []string{`"field":"name"`}},
			{Name: "permissions null", Method: "PATCH", URL: keys + "/SYNC_2", Token: admin, Body: `{"permissions":null}`, Headers: mergePatch,
				ExpectedStatus: 400, ExpectedContent: []string{`"field":"permissions"`}},
			{Name: "active null", Method: "PATCH", URL: keys + "/SYNC_2", Token: admin, Body: `{"active":null}`, Headers: mergePatch,
				ExpectedStatus: 400, ExpectedContent: []string{`"field":"active"`}},
			{Name: "unknown field", Method: "PATCH", URL: keys + "/SYNC_2", Token: admin, Body: `{"key":"x"}`, Headers: mergePatch, ExpectedStatus: 400},
			{Name: "text/plain", Method: "PATCH", URL: keys + "/SYNC_2", Token: admin, Body: `{"active":true}`, Headers: []string{"Content-Type", "text/plain"},
				ExpectedStatus: 415, ExpectedCode: "unsupported_media_type"},
			{Name: "another JSON type", Method: "PATCH", URL: keys + "/SYNC_2", Token: admin, Body: `{"active":true}`,
				Headers: []string{"Content-Type", "application/json-patch+json"}, ExpectedStatus: 415, ExpectedCode: "unsupported_media_type"},
			{Name: "charset", Method: "PATCH", URL: keys + "/SYNC_2", Token: admin, Body: `{"active":true}`,
				Headers: []string{"Content-Type", "application/merge-patch+json; charset=utf-8"}, ExpectedStatus: 200, ExpectedContent: []string{`"active":true`}},
			{Name: "an empty patch changes nothing", Method: "PATCH", URL: keys + "/SYNC_2", Token: admin, Body: `{}`, Headers: mergePatch,
				ExpectedStatus: 200, ExpectedContent: []string{`"name":"SYNC_2"`, `"active":true`}},
		} {
			s.Run(t, e)
		}
	})

	t.Run("delete", func(t *testing.T) {
		doomed := createAPIKey(t, e, keyman, map[string]any{"name": "DOOMED", "permissions": []string{"READ"}})
		mustStatus(t, e.Do("GET", "/api/acme/me", doomed.Key, nil), http.StatusOK)
		mustStatus(t, e.Do("DELETE", keys+"/DOOMED", keyman, nil), http.StatusNoContent)
		mustStatus(t, e.Do("GET", keys+"/DOOMED", admin, nil), http.StatusNotFound)
		mustStatus(t, e.Do("GET", "/api/acme/me", doomed.Key, nil), http.StatusUnauthorized)
		mustStatus(t, e.Do("DELETE", keys+"/DOOMED", admin, nil), http.StatusNotFound)
	})

	t.Run("create honours Idempotency-Key", func(t *testing.T) {
		body := map[string]any{"name": "ONCE", "permissions": []string{"READ"}}
		first := mustStatus(t, e.Do("POST", keys, admin, body, "Idempotency-Key", "create-once"), http.StatusCreated)
		again := mustStatus(t, e.Do("POST", keys, admin, body, "Idempotency-Key", "create-once"), http.StatusCreated)
		if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay %s, first %s", again.Body, first.Body)
		}
		list, _ := listAPIKeys(t, e, admin, 50)
		n := 0
		for _, k := range list {
			if k.Name == "ONCE" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d keys named ONCE after a replay", n)
		}
		mustStatus(t, e.Do("POST", keys, admin, map[string]any{"name": "OTHER", "permissions": []string{"READ"}}, "Idempotency-Key", "create-once"),
			http.StatusUnprocessableEntity)
	})

	t.Run("the listing is paginated", func(t *testing.T) {
		for i := range 5 {
			createAPIKey(t, e, admin, map[string]any{"name": fmt.Sprintf("PAGE_%d", i), "permissions": []string{"READ"}})
		}
		all, _ := listAPIKeys(t, e, admin, 1000)
		paged, _ := listAPIKeys(t, e, admin, 2)
		if len(all) < 8 || len(paged) != len(all) {
			t.Fatalf("pages of 2 held %d keys, one page %d", len(paged), len(all))
		}
		seen := map[string]bool{}
		for i, k := range paged {
			if seen[k.ID] || k.ID != all[i].ID {
				t.Fatalf("pages out of order at %d: %s, want %s", i, k.ID, all[i].ID)
			}
			seen[k.ID] = true
		}
	})
	e.RequireAudited(t, "api_key.update", "api_key.create", "api_key.update", "api_key.delete")
}

// TestKeyRoutesDocumented reads the OpenAPI document for what the key routes serve: both
// content types of a merge patch, an optional rotation body, Idempotency-Key on creating and
// rotating POSTs. (Every answer of every test is checked against the document besides.)
func TestKeyRoutesDocumented(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct{ Name, In string }
			RequestBody *struct {
				Required bool
				Content  map[string]json.RawMessage
			} `json:"requestBody"`
		}
	}
	mustStatus(t, e.Do("GET", "/api/openapi.json", "", nil), http.StatusOK).Decode(t, &doc)
	const keys, accessKeys = "/api/{tenant}/api-keys", "/api/{tenant}/applications/{appId}/access-keys"
	for _, path := range []string{keys + "/{name}", accessKeys + "/{keyId}"} {
		o := doc.Paths[path]["patch"]
		if o.RequestBody == nil || len(o.RequestBody.Content) != 2 || o.RequestBody.Content["application/json"] == nil ||
			o.RequestBody.Content["application/merge-patch+json"] == nil {
			t.Errorf("PATCH %s takes %+v, want application/json and application/merge-patch+json", path, o.RequestBody)
		}
		for _, p := range o.Parameters {
			if p.In == "header" {
				t.Errorf("PATCH %s documents the header %s", path, p.Name)
			}
		}
	}
	for _, path := range []string{keys, keys + "/{name}/rotate", accessKeys + "/{keyId}/rotate"} {
		o := doc.Paths[path]["post"]
		if !slices.ContainsFunc(o.Parameters, func(p struct{ Name, In string }) bool { return p.Name == "Idempotency-Key" }) {
			t.Errorf("POST %s does not document Idempotency-Key", path)
		}
		if strings.HasSuffix(path, "/rotate") && (o.RequestBody == nil || o.RequestBody.Required) {
			t.Errorf("POST %s: request body %+v, want an optional one", path, o.RequestBody)
		}
	}
	for _, want := range []string{"get", "patch", "delete"} {
		if doc.Paths[keys+"/{name}"][want].OperationID == "" {
			t.Errorf("%s %s/{name} is not documented", want, keys)
		}
	}
}
