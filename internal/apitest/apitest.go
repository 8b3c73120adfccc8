// Package apitest runs keyhaven's REST API over real HTTP on loopback against a real database,
// and reads tests as scenarios: a request and what must come back.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/node"
	"keyhaven.dev/keyhaven/secret"
	"net/netip"
)

// Env is a running API with one tenant, "acme", and its admin credentials.
type Env struct {
	T     testing.TB
	URL   string
	Svc   *keyhaven.Service
	Store keyhaven.Store // the node's store, for what tests set up or read beside the service
	Node  *node.Node
	Clock *keyhaven.ManualClock
	Acme  *keyhaven.TenantCreated
	log   *syncBuffer
	spec  *validator
}

// FastPasswords are cheap argon2id parameters for tests that create many users; the
// production parameters are exercised by the end-to-end tests.
var FastPasswords = secret.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

// UsageInterval is how often the node writes last-use times: a test that advances Env.Clock
// past it sees them written.
const UsageInterval = time.Minute

// NoGC is the node's garbage collection interval: longer than any test advances Env.Clock, so
// that garbage is collected only when a test calls Service.CollectGarbage, and a count it
// checks is not taken by the node's own run. The collector's loop is tested on its own
// (keyhaven's TestGarbageCollectionFollowsTheClock).
const NoGC = 100 * 365 * 24 * time.Hour

// New starts the API over a fresh store from open.
func New(t testing.TB, open testdb.Opener) *Env { return NewNode(t, open, func(*node.Config) {}) }

// NewBehind starts the API behind the trusted proxies.
func NewBehind(t testing.TB, open testdb.Opener, trusted ...netip.Prefix) *Env {
	t.Helper()
	return NewNode(t, open, func(c *node.Config) { c.TrustedProxies = trusted })
}

// NewNode starts the API on a node whose configuration configure may change.
func NewNode(t testing.TB, open testdb.Opener, configure func(*node.Config)) *Env {
	t.Helper()
	logBuf := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := keyhaven.NewManualClock(time.Now().Truncate(time.Microsecond))
	key, _ := secret.ParseKey(secret.NewKey())
	sealer, _ := secret.NewSealer(key)
	cfg := node.Config{Log: log, Sealer: sealer, Clock: clock, PasswordParams: FastPasswords,
		GCInterval: NoGC, UsageInterval: UsageInterval}
	// The listener comes first: its address is the default base of the token issuers.
	srv := httptest.NewUnstartedServer(nil)
	cfg.ListenAddr = srv.Listener.Addr().String()
	configure(&cfg)
	store := open(t)
	n := node.New(store, cfg)
	svc := n.Svc
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Run(ctx)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	acme, err := svc.CreateTenant(context.Background(), "acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = n.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	return &Env{T: t, URL: srv.URL, Svc: svc, Store: store, Node: n, Clock: clock, Acme: acme, log: logBuf, spec: newValidator(t, srv.URL)}
}

// Logs returns everything the server has logged so far, to check that no secret reaches it.
func (e *Env) Logs() string { return e.log.String() }

// Response is what came back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r *Response) JSON() map[string]any {
	var m map[string]any
	json.Unmarshal(r.Body, &m)
	return m
}

// Decode decodes the body into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request. body is sent as is when it is a string or []byte, else as JSON;
// headers are name, value pairs. A JSON content type is set unless headers name one.
func (e *Env) Do(method, path, token string, body any, headers ...string) *Response {
	e.T.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		raw = j
	}
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &Response{Status: res.StatusCode, Header: res.Header, Body: b}
	e.spec.check(e.T, req, raw, out)
	return out
}

// Login signs in and returns a session token.
func (e *Env) Login(tenant, email, password string) string {
	e.T.Helper()
	r := e.Do("POST", "/api/"+tenant+"/login", "", map[string]string{"email": email, "password": password})
	if r.Status != http.StatusOK {
		e.T.Fatalf("login %s: %d %s", email, r.Status, r.Body)
	}
	var s struct{ Token string }
	r.Decode(e.T, &s)
	return s.Token
}

// CreateUser creates a user of acme with the given permissions and returns its id and a
// session token for it.
func (e *Env) CreateUser(email string, perms ...keyhaven.Permission) (id, token string) {
	e.T.Helper()
	names := make([]string, 0, len(perms))
	for _, p := range perms {
		names = append(names, string(p))
	}
	const password = "correct-horse-battery"
	r := e.Do("POST", "/api/acme/users", e.Acme.APIKey, map[string]any{"email": email, "password": password, "permissions": names})
	if r.Status != http.StatusCreated {
		e.T.Fatalf("create user %s: %d %s", email, r.Status, r.Body)
	}
	var u struct{ ID string }
	r.Decode(e.T, &u)
	return u.ID, e.Login("acme", email, password)
}

// Scenario is one request and what must come back.
type Scenario struct {
	Name   string
	Method string
	URL    string
	Token  string
	Body   any
	// Headers are name, value pairs.
	Headers []string
	// ExpectedStatus is the status that must come back.
	ExpectedStatus int
	// ExpectedCode, when set, is the problem code that must come back.
	ExpectedCode string
	// ExpectedContent are strings the body must contain; NotExpectedContent must not.
	ExpectedContent    []string
	NotExpectedContent []string
}

// Run runs the scenario as a subtest.
func (s Scenario) Run(t *testing.T, e *Env) {
	t.Run(s.Name, func(t *testing.T) {
		method := s.Method
		if method == "" {
			method = http.MethodGet
		}
		r := e.Do(method, s.URL, s.Token, s.Body, s.Headers...)
		if r.Status != s.ExpectedStatus {
			t.Fatalf("%s %s: status %d, want %d; body %s", method, s.URL, r.Status, s.ExpectedStatus, r.Body)
		}
		if s.ExpectedStatus >= 400 {
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("error content type %q, want application/problem+json", ct)
			}
			code, _ := r.JSON()["code"].(string)
			if code == "" {
				t.Errorf("problem has no code: %s", r.Body)
			}
			if s.ExpectedCode != "" && code != s.ExpectedCode {
				t.Errorf("code %q, want %q; body %s", code, s.ExpectedCode, r.Body)
			}
		}
		for _, want := range s.ExpectedContent {
			if !bytes.Contains(r.Body, []byte(want)) {
				t.Errorf("body lacks %q: %s", want, r.Body)
			}
		}
		for _, bad := range s.NotExpectedContent {
			if bytes.Contains(r.Body, []byte(bad)) {
				t.Errorf("body holds %q: %s", bad, r.Body)
			}
		}
	})
}

// Me is the body of GET /api/{tenant}/me.
type Me struct {
	Kind        string
	Tenant      string
	User        struct{ ID, Email string }
	Permissions []string
}

// Audit returns acme's audit events matching query (e.g. "action=user.create&outcome=denied").
func (e *Env) Audit(query string) []keyhaven.AuditEvent {
	e.T.Helper()
	var page struct{ Items []keyhaven.AuditEvent }
	e.Do("GET", "/api/acme/audit?limit=1000&"+query, e.Acme.APIKey, nil).Decode(e.T, &page)
	return page.Items
}

// RequireAudited fails unless every action has a successful event and denied has a refused one.
func (e *Env) RequireAudited(t testing.TB, denied string, actions ...string) {
	t.Helper()
	for _, action := range actions {
		if len(e.Audit("action="+action+"&outcome=success")) == 0 {
			t.Errorf("no successful %s event", action)
		}
	}
	if len(e.Audit("action="+denied+"&outcome=denied")) == 0 {
		t.Errorf("refused %s attempts are not audited", denied)
	}
}

// WaitBatch runs acme's batch task id to a final state and returns the task's first page as
// JSON. Rather than wait for the node's batch runner, it takes the runner's turns itself,
// beside the runner's own loop: each is a turn the loop would have taken.
func (e *Env) WaitBatch(t testing.TB, id string) *Response {
	t.Helper()
	for idle := 0; ; {
		r := e.Do("GET", "/api/acme/access/batch/"+id, e.Acme.APIKey, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("batch %s: %d %s", id, r.Status, r.Body)
		}
		state := r.JSON()["state"]
		switch state {
		case "DONE", "FAILED", "REJECTED":
			return r
		}
		ran, err := e.Node.Runner.RunOnce(context.Background())
		if err != nil {
			t.Fatalf("batch %s: %v", id, err)
		}
		if ran {
			idle = 0
		} else if idle++; idle == 2 { // the loop may have ended it just before the first
			t.Fatalf("batch %s still %v, with no turn left to run", id, state)
		}
	}
}

// ActiveContract creates acme's product offering "plain" and the contract "contract-001" on
// it, valid from an hour ago until tomorrow.
func (e *Env) ActiveContract(t testing.TB) {
	t.Helper()
	now := time.Now().UTC()
	if r := e.Do("POST", "/api/acme/product-offerings", e.Acme.APIKey, map[string]any{"id": "plain", "name": "Plain"}); r.Status != http.StatusCreated {
		t.Fatal(r.Status, string(r.Body))
	}
	if r := e.Do("POST", "/api/acme/contracts", e.Acme.APIKey, map[string]any{"id": "contract-001", "productOfferingId": "plain",
		"startDate": now.Add(-time.Hour).Format(time.RFC3339), "endDate": now.Add(24 * time.Hour).Format(time.RFC3339)}); r.Status != http.StatusCreated {
		t.Fatal(r.Status, string(r.Body))
	}
}
