package graphql_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"keyhaven.dev/keyhaven/internal/fuzzenv"
)

// FuzzGraphQL sends fuzzed documents and variables to the GraphQL endpoint, in process over a
// SQLite file, by POST and by GET, with each of the tenant's credentials. Every answer is a
// GraphQL response in JSON, never a 5xx (a panic answers 500 too), and no error is an
// internal one.
func FuzzGraphQL(f *testing.F) {
	e := fuzzenv.New(f)
	for _, s := range []struct{ query, vars string }{
		{`{ listApiKeys { name api_key permissions active expires created } }`, ``},
		{`mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name api_key permissions } }`,
			`{"k":{"name":"POWER_USER","permissions":["READ","WRITE"],"active":true,"expires":"2031-12-31T11:59:00Z"}}`},
		{`mutation($n: String!, $k: ApiKeyUpdateInput!) { updateApiKey(name: $n, api_key: $k) { name active } }`,
			`{"n":"POWER_USER","k":{"active":false,"permissions":["READ"],"expires":null}}`},
		{`mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name credits { remaining refill { amount interval } } meta } }`,
			`{"k":{"name":"GATEWAY","permissions":["READ"],"ip_allowlist":["203.0.113.0/24"],"rate_limit":{"limit":10,"period_seconds":60},"credits":{"remaining":1000000000000,"refill":{"amount":5,"interval":"DAILY"}},"meta":{"plan":"pro"}}}`},
		{`mutation($n: String!, $k: ApiKeyUpdateInput!) { updateApiKey(name: $n, api_key: $k) { ip_allowlist rate_limit { limit period_seconds } meta last_used } }`,
			`{"n":"GATEWAY","k":{"ip_allowlist":null,"credits":{"remaining":1.5},"meta":[1e400]}}`},
		{`mutation { rotateApiKey(name: "GATEWAY", grace_period_seconds: 60) { api_key } }`, `{}`},
		{`mutation { deleteApiKey(name: "POWER_USER") }`, `{}`},
		{`query Q { __schema { types { name fields { name args { name type { name ofType { name } } } } } } }`, `null`},
		{`{ a: listApiKeys { name } b: listApiKeys { name } }`, `{"x":[1,2,{"y":null}]}`},
		{`mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name } }`, `{"k":{"name":1e400,"permissions":"READ"}}`},
		{`{ listApiKeys { ...F } } fragment F on ApiKey { name ...F }`, ``},
		{`subscription { listApiKeys { name } }`, ``},
	} {
		f.Add(s.query, []byte(s.vars), uint8(0))
		f.Add(s.query, []byte(s.vars), uint8(fuzzenv.Session|4))
	}
	f.Fuzz(func(t *testing.T, query string, vars []byte, how uint8) {
		r := fuzzenv.Request{Path: "/api/{tenant}/graphql", Who: int(how & 3)}
		if how&4 == 0 {
			body := map[string]any{"query": query}
			if json.Valid(vars) {
				body["variables"] = json.RawMessage(vars)
			} else if len(vars) > 0 {
				body["variables"] = string(vars)
			}
			r.Method, r.ContentType = http.MethodPost, "application/json"
			r.Body, _ = json.Marshal(body)
		} else {
			r.Method = http.MethodGet
			r.Query = url.Values{"query": {query}, "variables": {string(vars)}}.Encode()
		}
		status, _, answer := e.Do(t, r)
		if status >= 500 {
			t.Fatalf("status %d: %s", status, answer)
		}
		var resp struct {
			Data   json.RawMessage
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(answer, &resp); err != nil {
			t.Fatalf("status %d with a body that is not JSON: %q", status, answer)
		}
		if resp.Data == nil && len(resp.Errors) == 0 {
			t.Fatalf("status %d without data or errors: %s", status, answer)
		}
		for _, ge := range resp.Errors {
			if ge.Extensions["code"] == "INTERNAL_SERVER_ERROR" {
				t.Fatalf("status %d with an internal error: %s", status, answer)
			}
		}
	})
}
