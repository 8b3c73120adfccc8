package sdk_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/sdk"
)

// clock is a clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// counter is a proxy in front of a server that counts the requests reaching it by path.
type counter struct {
	URL string
	mu  sync.Mutex
	n   map[string]int
}

func newCounter(t *testing.T, target string) *counter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{n: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.n[r.URL.Path]++
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func (c *counter) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

// answer is what the service behind the middleware saw, or the middleware's refusal.
type answer struct {
	Status  int
	Header  http.Header
	Verdict sdk.Verdict // the verdict in the request's context, when the service was reached
	Problem struct {
		Status int
		Code   string
	}
}

// echo is a service answering the verdict its request's context carries.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	v, ok := sdk.VerdictFrom(r.Context())
	if !ok {
		http.Error(w, "no verdict in the context", http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(v)
})

// call sends GET / with the bearer credential (none when empty) to h.
func call(t *testing.T, h http.Handler, credential string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{Status: rec.Code, Header: rec.Header()}
	var err error
	if rec.Code == http.StatusOK {
		err = json.Unmarshal(rec.Body.Bytes(), &a.Verdict)
	} else {
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("refusal content type %q, want application/problem+json", ct)
		}
		err = json.Unmarshal(rec.Body.Bytes(), &a.Problem)
		if a.Problem.Code == "" || a.Problem.Status != rec.Code {
			t.Errorf("refusal %d without a code or its status: %s", rec.Code, rec.Body)
		}
	}
	if err != nil {
		t.Fatalf("answer %d %s: %v", rec.Code, rec.Body, err)
	}
	return a
}

// mustRefuse fails unless a is a refusal with status and code.
func mustRefuse(t *testing.T, a answer, status int, code string) {
	t.Helper()
	if a.Status != status || a.Problem.Code != code {
		t.Fatalf("got %d %s, want %d %s", a.Status, a.Problem.Code, status, code)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 with WWW-Authenticate %q, want Bearer", a.Header.Get("WWW-Authenticate"))
	}
}
