// Package fuzzenv serves a keyhaven node in process over a database, for fuzz targets: no
// listener and no background work, each request one call of the node's handler. A tenant
// with one object of every kind gives the operations something to find; when a fuzzed
// request takes the tenant's credentials away, the next request gets a fresh tenant.
package fuzzenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/node"
	"keyhaven.dev/keyhaven/secret"
)

// Op is an operation of the OpenAPI document.
type Op struct {
	Method, Path, ID string
	// Body reports whether the operation takes a request body.
	Body bool
}

// Credentials a request may carry.
const (
	APIKey    = iota // the tenant's bootstrap API key: every permission
	Session          // the admin's session token
	AccessKey        // an access key with READ
	Anonymous        // no Authorization header
	numWho
)

// Env is a node serving requests in process.
type Env struct {
	handler http.Handler
	svc     *keyhaven.Service
	// Ops are the OpenAPI document's operations, in a stable order.
	Ops []Op
	fx  *fixture
	n   int
	// spent is set when a request deleted, revoked, rotated or logged out one of the tenant's
	// objects: the next request gets a fresh tenant.
	spent bool
}

// fixture is a tenant with one object of every kind.
type fixture struct {
	tenant                     string
	apiKey, session, accessKey string
	// ids by the path segment before a parameter: "users" names a user other than the admin.
	ids map[string]string
}

// New starts a node over a fresh SQLite file with a first tenant; over a fresh PostgreSQL
// database instead when KEYHAVEN_FUZZ_DB is "postgres" (with KEYHAVEN_TEST_POSTGRES naming
// the server), since what a database refuses differs.
func New(tb testing.TB) *Env {
	tb.Helper()
	key, _ := secret.ParseKey(secret.NewKey())
	sealer, _ := secret.NewSealer(key)
	open := testdb.SQLite
	if os.Getenv("KEYHAVEN_FUZZ_DB") == "postgres" {
		open = testdb.Postgres
	}
	n := node.New(open(tb), node.Config{
		Log: slog.New(slog.DiscardHandler), Sealer: sealer, Clock: keyhaven.SystemClock(), PasswordParams: apitest.FastPasswords,
		// Fuzzed credentials fail all the time: a failure limit would soon refuse everything.
		FailuresPerMinute: 1 << 30, FailureBurst: 1 << 30,
	})
	e := &Env{handler: n.Handler, svc: n.Svc}
	status, body := e.serve("GET", "/api/openapi.json", "", "", nil, nil)
	if status != http.StatusOK {
		tb.Fatalf("openapi.json: %d", status)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string          `json:"operationId"`
			RequestBody json.RawMessage `json:"requestBody"`
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		tb.Fatal(err)
	}
	for path, item := range doc.Paths {
		for method, o := range item {
			e.Ops = append(e.Ops, Op{Method: strings.ToUpper(method), Path: path, ID: o.OperationID, Body: o.RequestBody != nil})
		}
	}
	sort.Slice(e.Ops, func(i, j int) bool { return e.Ops[i].ID < e.Ops[j].ID })
	e.fresh(tb)
	return e
}

// Request is one request to send: Path is an operation's path template, whose last
// parameter is Param when that is set, and a known object's id otherwise.
type Request struct {
	Method, Path, Param, Query string
	ContentType                string
	Header                     http.Header
	Who                        int
	Body                       []byte
}

// Do serves r and returns the status, header and body of the answer. After a request that
// deleted, revoked, rotated or logged out one of the tenant's objects, and now and then, the tenant is
// replaced; when the tenant's own credential is refused, it is checked and replaced if a
// request took away its credentials.
func (e *Env) Do(t testing.TB, r Request) (int, http.Header, []byte) {
	t.Helper()
	e.n++
	if e.spent || e.n%256 == 0 || (e.n%32 == 0 && !e.healthy()) {
		e.fresh(t)
	}
	status, header, body := e.do(r)
	if status == http.StatusUnauthorized && (r.Who == APIKey || r.Who == Session) && !e.healthy() {
		e.fresh(t)
	}
	if status/100 == 2 && (r.Method == http.MethodDelete || strings.HasSuffix(r.Path, "/revoke") || strings.HasSuffix(r.Path, "/logout") ||
		strings.HasSuffix(r.Path, "/rotate")) {
		e.spent = true
	}
	return status, header, body
}

func (e *Env) do(r Request) (int, http.Header, []byte) {
	token := map[int]string{APIKey: e.fx.apiKey, Session: e.fx.session, AccessKey: e.fx.accessKey}[r.Who%numWho]
	rec := e.record(r.Method, e.fill(r.Path, r.Param), r.Query, token, r.ContentType, r.Header, r.Body)
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

var paramRE = regexp.MustCompile(`\{[^}]+\}`)

// fill puts ids into a path template: the tenant's name, then the id of the object the path
// segment before each parameter names; the last parameter is param when that is set.
func (e *Env) fill(path, param string) string {
	params := paramRE.FindAllStringIndex(path, -1)
	var b strings.Builder
	last := 0
	for i, m := range params {
		b.WriteString(path[last:m[0]])
		last = m[1]
		name := path[m[0]+1 : m[1]-1]
		segments := strings.Split(strings.Trim(path[:m[0]], "/"), "/")
		v := e.fx.ids[segments[len(segments)-1]]
		switch {
		case i == len(params)-1 && param != "":
			v = param
		case name == "tenant":
			v = e.fx.tenant
		}
		b.WriteString(url.PathEscape(v))
	}
	b.WriteString(path[last:])
	return b.String()
}

func (e *Env) serve(method, path, token, contentType string, header http.Header, body []byte) (int, []byte) {
	rec := e.record(method, path, "", token, contentType, header, body)
	return rec.Code, rec.Body.Bytes()
}

func (e *Env) record(method, path, query, token, contentType string, header http.Header, body []byte) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequestWithContext(context.Background(), method, "http://keyhaven.test/", rd)
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = "", "", query
	if u, err := url.Parse(path); err == nil {
		req.URL.Path, req.URL.RawPath = u.Path, u.RawPath
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:40000"
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// healthy reports whether the tenant's API key and session still hold every permission.
func (e *Env) healthy() bool {
	for _, token := range []string{e.fx.apiKey, e.fx.session} {
		status, body := e.serve("GET", "/api/"+e.fx.tenant+"/me", token, "", nil, nil)
		var me struct{ Permissions []string }
		if status != http.StatusOK || json.Unmarshal(body, &me) != nil || len(me.Permissions) < len(keyhaven.Permissions) {
			return false
		}
	}
	return true
}

// fresh makes a new tenant with one object of every kind.
func (e *Env) fresh(tb testing.TB) {
	tb.Helper()
	name := fmt.Sprintf("fz-%d", time.Now().UnixNano())
	created, err := e.svc.CreateTenant(context.Background(), name, "admin@"+name+".test")
	if err != nil {
		tb.Fatal(err)
	}
	fx := &fixture{tenant: name, apiKey: created.APIKey, ids: map[string]string{}}
	e.fx, e.spent = fx, false
	base := "/api/" + name
	post := func(path string, v any, token string) map[string]any {
		tb.Helper()
		body, _ := json.Marshal(v)
		status, out := e.serve("POST", base+path, token, "application/json", nil, body)
		var m map[string]any
		json.Unmarshal(out, &m)
		if status/100 != 2 {
			tb.Fatalf("POST %s: %d %s", path, status, out)
		}
		return m
	}
	now := time.Now().UTC()
	fx.session = post("/login", map[string]any{"email": created.AdminEmail, "password": created.AdminPassword}, "")["token"].(string)
	fx.ids["users"] = post("/users", map[string]any{"email": "user@" + name + ".test", "password": "correct-horse-battery", "permissions": []string{"READ"}}, fx.apiKey)["id"].(string)
	fx.ids["product-offerings"] = post("/product-offerings", map[string]any{"id": "gold", "name": "Gold", "accessValidityDays": 30}, fx.apiKey)["id"].(string)
	fx.ids["contracts"] = post("/contracts", map[string]any{"id": "contract-001", "productOfferingId": "gold",
		"startDate": now.Add(-time.Hour).Format(time.RFC3339), "endDate": now.Add(24 * time.Hour).Format(time.RFC3339)}, fx.apiKey)["id"].(string)
	fx.ids["access"] = post("/access", map[string]any{"contractId": "contract-001"}, fx.apiKey)["id"].(string)
	fx.ids["batch"] = post("/access/batch", map[string]any{"contractId": "contract-001", "numberOfAccesses": 2}, fx.apiKey)["id"].(string)
	fx.ids["applications"] = post("/applications", map[string]any{"name": "app"}, fx.apiKey)["id"].(string)
	k := post("/applications/"+fx.ids["applications"]+"/access-keys", map[string]any{"name": "key", "scopes": []string{"READ"}}, fx.apiKey)
	fx.ids["access-keys"], fx.accessKey = k["id"].(string), k["key"].(string)
	fx.ids["api-keys"] = post("/api-keys", map[string]any{"name": "fixture", "permissions": []string{"READ"}}, fx.apiKey)["name"].(string)
}
