package graphql_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// gqlAnswer checks that a response is a GraphQL response in JSON whose errors each carry
// extensions.code, and returns it.
func gqlAnswer(t *testing.T, status int, header http.Header, body []byte) gqlResponse {
	t.Helper()
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var r gqlResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%d: the body is not JSON: %s", status, body)
	}
	r.Status = status
	for _, e := range r.Errors {
		if c, _ := e.Extensions["code"].(string); c == "" || e.Message == "" {
			t.Errorf("an error without a message or extensions.code: %s", body)
		}
	}
	return r
}

// TestEveryAnswerIsGraphQL: whatever is wrong with a request, the endpoint answers with a
// GraphQL response in JSON whose errors carry extensions.code.
func TestEveryAnswerIsGraphQL(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	key := e.Acme.APIKey
	list := `{"query": "{ listApiKeys { name } }"}`
	get := func(q url.Values) string { return "/api/acme/graphql?" + q.Encode() }
	tests := []struct {
		name    string
		method  string
		path    string
		token   string
		body    string
		headers []string
		status  int
		code    string // "" for a successful answer
		allow   string
	}{
		{"malformed content type", "POST", "", key, list, []string{"Content-Type", "application/json;;;"}, 415, "BAD_USER_INPUT", ""},
		{"content type with a bad parameter", "POST", "", key, list, []string{"Content-Type", "application/json; charset"}, 415, "BAD_USER_INPUT", ""},
		{"text content type", "POST", "", key, list, []string{"Content-Type", "text/plain"}, 415, "BAD_USER_INPUT", ""},
		{"GraphQL content type", "POST", "", key, list, []string{"Content-Type", "application/graphql"}, 415, "BAD_USER_INPUT", ""},
		{"no content type", "POST", "", key, list, []string{"Content-Type", ""}, 415, "BAD_USER_INPUT", ""},
		{"JSON with a charset", "POST", "", key, list, []string{"Content-Type", "application/json; charset=utf-8"}, 200, "", ""},
		{"an Upgrade header", "POST", "", key, list, []string{"Upgrade", "websocket", "Connection", "Upgrade"}, 200, "", ""},
		{"PUT", "PUT", "", key, list, nil, 405, "BAD_USER_INPUT", "GET, POST"},
		{"DELETE", "DELETE", "", key, "", nil, 405, "BAD_USER_INPUT", "GET, POST"},
		{"OPTIONS", "OPTIONS", "", key, "", nil, 405, "BAD_USER_INPUT", "GET, POST"},
		{"body too large", "POST", "", key, `{"query": "` + strings.Repeat(" ", 70<<10) + `{ listApiKeys { name } }"}`, nil, 413, "BAD_USER_INPUT", ""},
		{"no credential", "POST", "", "", list, nil, 401, "UNAUTHENTICATED", ""},
		{"GET query", "GET", get(url.Values{"query": {"{ listApiKeys { name } }"}}), key, "", nil, 200, "", ""},
		{"GET with a bad escape", "GET", "/api/acme/graphql?query=%zz", key, "", nil, 400, "BAD_USER_INPUT", ""},
		{"GET with variables that are not JSON", "GET", get(url.Values{"query": {"{ listApiKeys { name } }"}, "variables": {"{nope"}}), key, "", nil, 400, "BAD_USER_INPUT", ""},
		{"GET with extensions that are not JSON", "GET", get(url.Values{"query": {"{ listApiKeys { name } }"}, "extensions": {"[1"}}), key, "", nil, 400, "BAD_USER_INPUT", ""},
		{"GET mutation", "GET", get(url.Values{"query": {`mutation { deleteApiKey(name: "bootstrap") }`}}), key, "", nil, 405, "BAD_USER_INPUT", "POST"},
		{"GET mutation chosen by name", "GET", get(url.Values{"query": {`query Q { listApiKeys { name } } mutation M { deleteApiKey(name: "bootstrap") }`}, "operationName": {"M"}}), key, "", nil, 405, "BAD_USER_INPUT", "POST"},
		{"GET query chosen by name beside a mutation", "GET", get(url.Values{"query": {`query Q { listApiKeys { name } } mutation M { deleteApiKey(name: "bootstrap") }`}, "operationName": {"Q"}}), key, "", nil, 200, "", ""},
		{"GET without a query", "GET", "/api/acme/graphql", key, "", nil, 422, "GRAPHQL_VALIDATION_FAILED", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/api/acme/graphql"
			}
			var body any
			if tc.body != "" {
				body = tc.body
			}
			res := e.Do(tc.method, path, tc.token, body, tc.headers...)
			r := gqlAnswer(t, res.Status, res.Header, res.Body)
			if r.Status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.Status, r.code(), tc.status, tc.code, res.Body)
			}
			if tc.code == "" && r.Data == nil {
				t.Fatalf("no data: %s", res.Body)
			}
			if got := res.Header.Get("Allow"); got != tc.allow {
				t.Fatalf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
	if st := e.Do("GET", "/api/acme/me", key, nil).Status; st != 200 {
		t.Fatal("a GET mutation deleted the key")
	}
	t.Run("a body that cannot be read", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/acme/graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"que\r\nzz\r\n", key)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if r := gqlAnswer(t, res.StatusCode, res.Header, b); r.Status != 400 || r.code() != "BAD_USER_INPUT" {
			t.Fatalf("got %d %q, want 400 BAD_USER_INPUT: %s", r.Status, r.code(), b)
		}
	})
}

// TestErrorsEchoNoInput: a body that is not a GraphQL request, or variables that do not fit
// their types, get a short error that repeats none of what was sent (it may hold a secret).
func TestErrorsEchoNoInput(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	key := e.Acme.APIKey
	const secret = "Sup3rS3cretPassw0rd"
	create := "mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { name } }"
	vars := func(k map[string]any) string {
		b, _ := json.Marshal(map[string]any{"query": create, "variables": map[string]any{"k": k}})
		return string(b)
	}
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"JSON cut short", `{"query": "{ listApiKeys { name } }", "password": "` + secret + `"`, 400, "BAD_USER_INPUT"},
		{"invalid JSON", `{"password": ` + secret + `}`, 400, "BAD_USER_INPUT"},
		{"query of the wrong type", `{"query": {"password": "` + secret + `"}}`, 400, "BAD_USER_INPUT"},
		{"query a number", `{"query": 1234567890, "password": "` + secret + `"}`, 400, "BAD_USER_INPUT"},
		{"variables of the wrong type", `{"query": "{ listApiKeys { name } }", "variables": "` + secret + `"}`, 400, "BAD_USER_INPUT"},
		{"operationName of the wrong type", `{"query": "{ listApiKeys { name } }", "operationName": ["` + secret + `"]}`, 400, "BAD_USER_INPUT"},
		{"an array", `["` + secret + `"]`, 400, "BAD_USER_INPUT"},
		{"trailing data", `{"query": "{ listApiKeys { name } }"} "` + secret + `"`, 400, "BAD_USER_INPUT"},
		{"an enum variable that is no value of its type", vars(map[string]any{"name": "X", "permissions": []string{secret}}), 422, "GRAPHQL_VALIDATION_FAILED"},
		{"an enum variable in the wrong case", vars(map[string]any{"name": "X", "permissions": []string{"rEaD"}}), 200, "BAD_USER_INPUT"},
		{"a DateTime variable that is no date", vars(map[string]any{"name": "X", "permissions": []string{"READ"}, "expires": secret}), 200, "BAD_USER_INPUT"},
		{"a String variable that is an object", vars(map[string]any{"name": map[string]any{"password": secret}, "permissions": []string{"READ"}}), 422, "GRAPHQL_VALIDATION_FAILED"},
		{"an input variable that is a string", `{"query": "` + strings.ReplaceAll(create, `"`, `\"`) + `", "variables": {"k": "` + secret + `"}}`, 422, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.Do("POST", "/api/acme/graphql", key, tc.body)
			r := gqlAnswer(t, res.Status, res.Header, res.Body)
			if r.Status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.Status, r.code(), tc.status, tc.code, res.Body)
			}
			if strings.Contains(string(res.Body), secret) || strings.Contains(string(res.Body), "rEaD") {
				t.Fatalf("the answer repeats the input: %s", res.Body)
			}
			for _, e := range r.Errors {
				if len(e.Message) > 120 {
					t.Fatalf("message of %d bytes: %s", len(e.Message), e.Message)
				}
			}
		})
	}
	if strings.Contains(e.Logs(), secret) {
		t.Fatal("the log holds the input")
	}
}
