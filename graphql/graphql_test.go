package graphql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// gqlResponse is a GraphQL response.
type gqlResponse struct {
	Status int
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func gql(t *testing.T, e *apitest.Env, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body := map[string]any{"query": query}
	if vars != nil {
		body["variables"] = vars
	}
	return post(t, e, token, body)
}

func post(t *testing.T, e *apitest.Env, token string, body any) gqlResponse {
	t.Helper()
	r := e.Do("POST", "/api/acme/graphql", token, body)
	var out gqlResponse
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", r.Status, r.Body)
	}
	out.Status = r.Status
	return out
}

// createKey creates an API key and returns its secret.
func createKey(t *testing.T, e *apitest.Env, token, name string, perms ...string) string {
	t.Helper()
	r := gql(t, e, token, `mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { api_key } }`,
		map[string]any{"k": map[string]any{"name": name, "permissions": perms}})
	if len(r.Errors) > 0 {
		t.Fatalf("createApiKey %s: %+v", name, r.Errors)
	}
	var k struct {
		APIKey string `json:"api_key"`
	}
	json.Unmarshal(r.Data["createApiKey"], &k)
	return k.APIKey
}

func TestContractDocuments(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			r := gql(t, e, e.Acme.APIKey, `mutation { createApiKey(api_key: {name: "POWER_USER", permissions: [READ, WRITE, IGNORE_AVAILABILITY, TIME_TRAVEL], expires: "2031-12-31T11:59:00Z"}) { api_key name } }`, nil)
			if len(r.Errors) > 0 || r.Status != 200 {
				t.Fatalf("createApiKey: %d %+v", r.Status, r.Errors)
			}
			var created struct{ APIKey, Name string }
			json.Unmarshal(r.Data["createApiKey"], &struct {
				APIKey *string `json:"api_key"`
				Name   *string `json:"name"`
			}{&created.APIKey, &created.Name})
			if created.Name != "POWER_USER" || !strings.HasPrefix(created.APIKey, "khk_") || len(created.APIKey) != 42 {
				t.Fatalf("created %+v", created)
			}
			r = gql(t, e, e.Acme.APIKey, `query { listApiKeys { api_key name expires created active } }`, nil)
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			var keys []struct {
				APIKey  string     `json:"api_key"`
				Name    string     `json:"name"`
				Expires *time.Time `json:"expires"`
				Created time.Time  `json:"created"`
				Active  bool       `json:"active"`
			}
			json.Unmarshal(r.Data["listApiKeys"], &keys)
			if len(keys) != 2 || keys[0].Name != "POWER_USER" || keys[1].Name != "bootstrap" {
				t.Fatalf("listApiKeys = %+v", keys)
			}
			k := keys[0]
			if !k.Active || k.Expires == nil || !k.Expires.Equal(time.Date(2031, 12, 31, 11, 59, 0, 0, time.UTC)) || k.Created.IsZero() {
				t.Fatalf("POWER_USER listed as %+v", k)
			}
			if k.APIKey == created.APIKey || !strings.HasPrefix(created.APIKey, strings.TrimRight(k.APIKey, "*")) || !strings.HasSuffix(k.APIKey, "*") {
				t.Fatalf("listing shows %q for secret %q: want a masked prefix", k.APIKey, created.APIKey)
			}
			r = gql(t, e, e.Acme.APIKey, `mutation { updateApiKey(name: "POWER_USER", api_key: { active: false }) { name active } }`, nil)
			if string(r.Data["updateApiKey"]) != `{"name":"POWER_USER","active":false}` {
				t.Fatalf("updateApiKey: %s %+v", r.Data["updateApiKey"], r.Errors)
			}
			if st := e.Do("GET", "/api/acme/me", created.APIKey, nil).Status; st != 401 {
				t.Fatalf("inactive key on REST: %d, want 401", st)
			}
			gql(t, e, e.Acme.APIKey, `mutation { updateApiKey(name: "POWER_USER", api_key: { active: true }) { name } }`, nil)
			if st := e.Do("GET", "/api/acme/me", created.APIKey, nil).Status; st != 200 {
				t.Fatalf("re-activated key on REST: %d, want 200", st)
			}
			r = gql(t, e, e.Acme.APIKey, `mutation { deleteApiKey(name: "POWER_USER") }`, nil)
			if string(r.Data["deleteApiKey"]) != `"POWER_USER"` {
				t.Fatalf("deleteApiKey: %s %+v", r.Data["deleteApiKey"], r.Errors)
			}
			if st := e.Do("GET", "/api/acme/me", created.APIKey, nil).Status; st != 401 {
				t.Fatalf("deleted key on REST: %d, want 401", st)
			}
		})
	}
}

func TestRules(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	admin := e.Acme.APIKey
	_, noKM := e.CreateUser("nokm@acme.test", keyhaven.READ, keyhaven.USER_MANAGEMENT)
	_, km := e.CreateUser("km@acme.test", keyhaven.KEY_MANAGEMENT, keyhaven.READ, keyhaven.USER_MANAGEMENT)
	managerKey := createKey(t, e, km, "MANAGER", "KEY_MANAGEMENT", "READ", "USER_MANAGEMENT")
	createKey(t, e, admin, "ADMIN_KEY", "KEY_MANAGEMENT", "AUDIT_READ")
	future := e.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := e.Clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name  string
		token string
		query string
		vars  map[string]any
		code  string
	}{
		{"list without KEY_MANAGEMENT", noKM, `{ listApiKeys { name } }`, nil, "FORBIDDEN"},
		{"create without KEY_MANAGEMENT", noKM, `mutation { createApiKey(api_key: {name: "X", permissions: [READ]}) { name } }`, nil, "FORBIDDEN"},
		{"update without KEY_MANAGEMENT", noKM, `mutation { updateApiKey(name: "MANAGER", api_key: {active: false}) { name } }`, nil, "FORBIDDEN"},
		{"delete without KEY_MANAGEMENT", noKM, `mutation { deleteApiKey(name: "MANAGER") }`, nil, "FORBIDDEN"},
		{"self-update", managerKey, `mutation { updateApiKey(name: "MANAGER", api_key: {active: false}) { name } }`, nil, "FORBIDDEN"},
		{"self-delete", managerKey, `mutation { deleteApiKey(name: "MANAGER") }`, nil, "FORBIDDEN"},
		{"create beyond own permissions", km, `mutation { createApiKey(api_key: {name: "ESCALATE", permissions: [READ, AUDIT_READ]}) { name } }`, nil, "FORBIDDEN"},
		{"promote beyond own permissions", managerKey, `mutation { createApiKey(api_key: {name: "SMALL", permissions: [READ]}) { name } }`, nil, ""},
		{"update adds permissions beyond own", managerKey, `mutation { updateApiKey(name: "SMALL", api_key: {permissions: [READ, AUDIT_READ]}) { name } }`, nil, "FORBIDDEN"},
		{"manage a more privileged key", km, `mutation { deleteApiKey(name: "ADMIN_KEY") }`, nil, "FORBIDDEN"},
		{"deactivate a more privileged key", km, `mutation { updateApiKey(name: "ADMIN_KEY", api_key: {active: false}) { name } }`, nil, "FORBIDDEN"},
		{"invalid name", admin, `mutation { createApiKey(api_key: {name: "power user!", permissions: [READ]}) { name } }`, nil, "BAD_USER_INPUT"},
		{"empty name", admin, `mutation { createApiKey(api_key: {name: "", permissions: [READ]}) { name } }`, nil, "BAD_USER_INPUT"},
		{"duplicate name", admin, `mutation { createApiKey(api_key: {name: "MANAGER", permissions: [READ]}) { name } }`, nil, "CONFLICT"},
		{"rename onto a taken name", admin, `mutation { updateApiKey(name: "SMALL", api_key: {name: "MANAGER"}) { name } }`, nil, "CONFLICT"},
		{"no permissions", admin, `mutation { createApiKey(api_key: {name: "NONE", permissions: []}) { name } }`, nil, "BAD_USER_INPUT"},
		{"expiry in the past", admin, `mutation($e: DateTime) { createApiKey(api_key: {name: "OLD", permissions: [READ], expires: $e}) { name } }`, map[string]any{"e": past}, "BAD_USER_INPUT"},
		{"expiry not ISO 8601", admin, `mutation { createApiKey(api_key: {name: "BAD", permissions: [READ], expires: "next tuesday"}) { name } }`, nil, "BAD_USER_INPUT"},
		{"expiry in the future", admin, `mutation($e: DateTime) { createApiKey(api_key: {name: "LATER", permissions: [READ], expires: $e}) { name } }`, map[string]any{"e": future}, ""},
		// Year 10000 in UTC, which RFC 3339 cannot write: the key's every answer would fail.
		{"expiry past year 9999", admin, `mutation { createApiKey(api_key: {name: "FAR", permissions: [READ], expires: "9999-12-31T23:59:59-01:00"}) { name } }`, nil, "BAD_USER_INPUT"},
		{"update to an expiry past year 9999", admin, `mutation { updateApiKey(name: "LATER", api_key: {expires: "9999-12-31T23:59:59-01:00"}) { name } }`, nil, "BAD_USER_INPUT"},
		{"update an unknown key", admin, `mutation { updateApiKey(name: "NOPE", api_key: {active: false}) { name } }`, nil, "NOT_FOUND"},
		{"delete an unknown key", admin, `mutation { deleteApiKey(name: "NOPE") }`, nil, "NOT_FOUND"},
		{"inactive at creation", admin, `mutation { createApiKey(api_key: {name: "DORMANT", permissions: [READ], active: false}) { active } }`, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := gql(t, e, tc.token, tc.query, tc.vars)
			if r.code() != tc.code {
				t.Fatalf("code %q, want %q: %+v %s", r.code(), tc.code, r.Errors, r.Data)
			}
			if r.Status >= 500 {
				t.Fatalf("status %d", r.Status)
			}
		})
	}

	// mistyped is the key with its last character changed, as a typo would.
	mistyped := func(k string) string {
		if strings.HasSuffix(k, "x") {
			return k[:len(k)-1] + "y"
		}
		return k[:len(k)-1] + "x"
	}
	t.Run("no credential is UNAUTHENTICATED with HTTP 401", func(t *testing.T) {
		for _, tok := range []string{"", "khk_bogus", mistyped(e.Acme.APIKey)} {
			r := gql(t, e, tok, `{ listApiKeys { name } }`, nil)
			if r.Status != 401 || r.code() != "UNAUTHENTICATED" {
				t.Fatalf("token %q: %d %q", tok, r.Status, r.code())
			}
		}
	})
	t.Run("another tenant's key is FORBIDDEN with HTTP 403", func(t *testing.T) {
		other, err := e.Svc.CreateTenant(context.Background(), "other", "a@other.test")
		if err != nil {
			t.Fatal(err)
		}
		r := gql(t, e, other.APIKey, `{ listApiKeys { name } }`, nil)
		if r.Status != 403 || r.code() != "FORBIDDEN" || r.Data != nil {
			t.Fatalf("%d %q %s", r.Status, r.code(), r.Data)
		}
	})
	t.Run("an API key works on REST with exactly its permissions", func(t *testing.T) {
		key := createKey(t, e, admin, "USERS_ONLY", "USER_MANAGEMENT")
		if st := e.Do("GET", "/api/acme/users", key, nil).Status; st != 200 {
			t.Fatalf("USER_MANAGEMENT key lists users: %d", st)
		}
		if st := e.Do("GET", "/api/acme/audit", key, nil).Status; st != 403 {
			t.Fatalf("USER_MANAGEMENT key reads the audit log: %d, want 403", st)
		}
		if r := gql(t, e, key, `{ listApiKeys { name } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("USER_MANAGEMENT key lists API keys: %q", r.code())
		}
		var me apitest.Me
		e.Do("GET", "/api/acme/me", key, nil).Decode(t, &me)
		if fmt.Sprint(me.Permissions) != "[USER_MANAGEMENT]" || me.Kind != "api_key" {
			t.Fatalf("me = %+v", me)
		}
	})
	t.Run("inactive key authenticates nowhere", func(t *testing.T) {
		key := createKey(t, e, admin, "SOON_INACTIVE", "READ", "KEY_MANAGEMENT")
		gql(t, e, admin, `mutation { updateApiKey(name: "SOON_INACTIVE", api_key: {active: false}) { name } }`, nil)
		if st := e.Do("GET", "/api/acme/me", key, nil).Status; st != 401 {
			t.Fatalf("REST: %d", st)
		}
		if r := gql(t, e, key, `{ listApiKeys { name } }`, nil); r.Status != 401 {
			t.Fatalf("GraphQL: %d", r.Status)
		}
	})
	t.Run("expired key stops at once and is then deleted", func(t *testing.T) {
		exp := e.Clock.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339Nano)
		r := gql(t, e, admin, `mutation($e: DateTime) { createApiKey(api_key: {name: "TEMP", permissions: [READ], expires: $e}) { api_key } }`, map[string]any{"e": exp})
		var k struct {
			APIKey string `json:"api_key"`
		}
		json.Unmarshal(r.Data["createApiKey"], &k)
		if st := e.Do("GET", "/api/acme/me", k.APIKey, nil).Status; st != 200 {
			t.Fatalf("before expiry: %d", st)
		}
		e.Clock.Advance(10 * time.Minute)
		if st := e.Do("GET", "/api/acme/me", k.APIKey, nil).Status; st != 401 {
			t.Fatalf("at expiry: %d, want 401", st)
		}
		if strings.Contains(string(gql(t, e, admin, `{ listApiKeys { name } }`, nil).Data["listApiKeys"]), `"TEMP"`) {
			t.Fatal("expired key listed before the garbage collection ran")
		}
		if n, err := e.Svc.CollectGarbage(context.Background()); err != nil || n < 1 {
			t.Fatalf("CollectGarbage = %d, %v; want its row deleted", n, err)
		}
	})
	t.Run("no listing ever shows a secret", func(t *testing.T) {
		r := gql(t, e, admin, `{ listApiKeys { api_key name } }`, nil)
		if strings.Contains(string(r.Data["listApiKeys"]), managerKey) || strings.Contains(string(r.Data["listApiKeys"]), admin) {
			t.Fatal("listApiKeys shows a secret")
		}
		r = gql(t, e, admin, `mutation { updateApiKey(name: "SMALL", api_key: {active: true}) { api_key } }`, nil)
		if !strings.HasSuffix(string(r.Data["updateApiKey"]), `********"}`) {
			t.Fatalf("updateApiKey shows %s", r.Data["updateApiKey"])
		}
	})
	t.Run("every mutation is audited", func(t *testing.T) {
		if r := gql(t, e, admin, `mutation { deleteApiKey(name: "LATER") }`, nil); len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		e.RequireAudited(t, "api_key.update", "api_key.create", "api_key.update", "api_key.delete")
	})
}

// TestMalformed sends broken documents and variables: each gets a GraphQL error with a code,
// never a 500 or a panic.
func TestMalformed(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	key := e.Acme.APIKey
	deep := "{ listApiKeys " + strings.Repeat("{ name ", 20) + strings.Repeat("}", 21)
	var fields strings.Builder
	for i := range 600 {
		fmt.Fprintf(&fields, "a%d: listApiKeys { name } ", i)
	}
	bodies := []any{
		"{",
		"[]",
		`"query"`,
		`{"query": 42}`,
		`{"query": null}`,
		`{"query": ""}`,
		`{"query": "{ listApiKeys { name } }", "variables": "x"}`,
		`{"query": "{ listApiKeys { name } }", "variables": [1]}`,
		`{"query": "{ listApiKeys { name } }", "operationName": 7}`,
		map[string]any{"query": "{ listApiKeys { name "},
		map[string]any{"query": "{ listApiKeys }"},
		map[string]any{"query": "{ listApiKeys { nope } }"},
		map[string]any{"query": "{ nothing }"},
		map[string]any{"query": "mutation { createApiKey { name } }"},
		map[string]any{"query": "mutation { createApiKey(api_key: {name: 1, permissions: [READ]}) { name } }"},
		map[string]any{"query": "mutation { createApiKey(api_key: {name: \"X\", permissions: [ROOT]}) { name } }"},
		map[string]any{"query": "mutation { createApiKey(api_key: {name: \"X\", permissions: READ, extra: 1}) { name } }"},
		map[string]any{"query": "mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name } }"},
		map[string]any{"query": "mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name } }", "variables": map[string]any{"k": "x"}},
		map[string]any{"query": "mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name } }", "variables": map[string]any{"k": map[string]any{"name": "X", "permissions": []string{"read"}}}},
		map[string]any{"query": "mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name } }", "variables": map[string]any{"k": map[string]any{"name": "X", "permissions": []string{"READ"}, "expires": 12}}},
		map[string]any{"query": "mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name } }", "variables": map[string]any{"k": map[string]any{"name": "X'; DROP TABLE credentials;--", "permissions": []string{"READ"}}}},
		map[string]any{"query": "mutation { deleteApiKey(name: \"<script>alert(1)</script>\") }"},
		map[string]any{"query": "query A { listApiKeys { name } } query B { listApiKeys { name } }"},
		map[string]any{"query": "query A { listApiKeys { name } }", "operationName": "B"},
		map[string]any{"query": "subscription { listApiKeys { name } }"},
		map[string]any{"query": "fragment F on ApiKey { ...F } { listApiKeys { ...F } }"},
		map[string]any{"query": deep},
		map[string]any{"query": "{ " + fields.String() + "}"},
		map[string]any{"query": "{ __type(name: 1) { name } }"},
		map[string]any{"query": "{ listApiKeys(limit: 5) { name } }"},
		map[string]any{"query": "query($n: String!) { listApiKeys { name } }", "variables": map[string]any{"n": nil}},
	}
	for i, b := range bodies {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			r := post(t, e, key, b)
			if r.Status >= 500 {
				t.Fatalf("status %d", r.Status)
			}
			if len(r.Errors) == 0 || r.code() == "" || r.code() == "INTERNAL_SERVER_ERROR" {
				t.Fatalf("body %v: want an error with a code, got %d %+v %s", b, r.Status, r.Errors, r.Data)
			}
			for _, e := range r.Errors {
				if strings.Contains(e.Message, "runtime") || strings.Contains(e.Message, "sql") || strings.Contains(e.Message, ".go:") {
					t.Fatalf("error leaks internals: %s", e.Message)
				}
			}
		})
	}
	t.Run("body too large", func(t *testing.T) {
		r := post(t, e, key, map[string]any{"query": "{ listApiKeys { name } }", "variables": map[string]any{"pad": strings.Repeat("x", 70<<10)}})
		if r.Status != http.StatusRequestEntityTooLarge || r.code() == "" {
			t.Fatalf("%d %q", r.Status, r.code())
		}
	})
	t.Run("wrong content type", func(t *testing.T) {
		res := e.Do("POST", "/api/acme/graphql", key, `query=x`, "Content-Type", "application/x-www-form-urlencoded")
		if res.Status != http.StatusUnsupportedMediaType {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
	})
	t.Run("GET runs queries, never mutations", func(t *testing.T) {
		q := "/api/acme/graphql?query=" + strings.ReplaceAll("{ listApiKeys { name } }", " ", "%20")
		if r := e.Do("GET", q, key, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"bootstrap"`) {
			t.Fatalf("GET query: %d %s", r.Status, r.Body)
		}
		m := "/api/acme/graphql?query=" + strings.ReplaceAll(`mutation { deleteApiKey(name: "bootstrap") }`, " ", "%20")
		if r := e.Do("GET", m, key, nil); r.Status != http.StatusMethodNotAllowed {
			t.Fatalf("GET mutation: %d %s", r.Status, r.Body)
		}
		if st := e.Do("GET", "/api/acme/me", key, nil).Status; st != 200 {
			t.Fatal("the GET mutation deleted the key")
		}
	})
	t.Run("introspection is allowed", func(t *testing.T) {
		r := post(t, e, key, map[string]any{"query": introspectionQuery})
		if len(r.Errors) > 0 || !strings.Contains(string(r.Data["__schema"]), `"createApiKey"`) {
			t.Fatalf("introspection: %+v", r.Errors)
		}
	})
}

// introspectionQuery is the standard introspection query that GraphQL clients send.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

// TestBadKeysRefuseNoGoodOne: bad credentials sent to GraphQL from one address, past any
// burst, leave a good credential from that address working, here and on REST.
func TestBadKeysRefuseNoGoodOne(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	for range 200 {
		if r := gql(t, e, secret.Generate(secret.APIKey), `{ listApiKeys { name } }`, nil); r.Status != 401 || r.code() != "UNAUTHENTICATED" {
			t.Fatalf("bad key: %d %q, want 401 UNAUTHENTICATED", r.Status, r.code())
		}
	}
	if r := gql(t, e, e.Acme.APIKey, `{ listApiKeys { name } }`, nil); r.Status != 200 {
		t.Fatalf("good key after 200 bad ones: %d %q, want 200", r.Status, r.code())
	}
	if st := e.Do("GET", "/api/acme/me", e.Acme.APIKey, nil).Status; st != 200 {
		t.Fatalf("REST after GraphQL failures: %d, want 200", st)
	}
}
