package metrics

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

func TestRouteLabels(t *testing.T) {
	tests := []struct{ pattern, route string }{
		{"POST /api/verify", "/api/verify"},
		{"GET /api/{tenant}/access/{id}", "/api/{tenant}/access/{id}"},
		{"GET  \t/{$}", "/{$}"},
		{"/api/", "/api/"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := route(tc.pattern); got != tc.route {
			t.Errorf("route(%q) = %q, want %q", tc.pattern, got, tc.route)
		}
	}
	for m, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "BREW": "other", "get": "other", "": "other"} {
		if got := method(m); got != want {
			t.Errorf("method(%q) = %q, want %q", m, got, want)
		}
	}
}

func TestVerdictKind(t *testing.T) {
	tests := []struct {
		name string
		v    keyhaven.Verdict
		want string
	}{
		{"api key", keyhaven.Verdict{Credential: &keyhaven.Credential{Kind: keyhaven.KindAPIKey}}, "api_key"},
		{"access key", keyhaven.Verdict{Credential: &keyhaven.Credential{Kind: keyhaven.KindAccessKey}}, "access_key"},
		{"session", keyhaven.Verdict{Credential: &keyhaven.Credential{Kind: keyhaven.KindSession}}, "session"},
		{"device behind a token", keyhaven.Verdict{Access: &keyhaven.Access{}}, "device"},
		{"a kind no code knows", keyhaven.Verdict{Credential: &keyhaven.Credential{Kind: "mystery"}}, "unknown"},
		{"none found", keyhaven.Verdict{}, "unknown"},
	}
	for _, tc := range tests {
		if got := kind(&tc.v); got != tc.want {
			t.Errorf("%s: kind %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestAdmits(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true}, {"::ffff:127.0.0.1", true},
		{"10.20.3.4", true}, {"::ffff:10.20.3.4", true},
		{"10.21.0.1", false}, {"192.0.2.1", false}, {"", false}, {"localhost", false}, {"127.0.0.1:8080", false},
	}
	for _, tc := range tests {
		if got := admits(tc.addr, allow); got != tc.want {
			t.Errorf("admits(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// TestFailingSource: a source that cannot be read drops its own metric from the scrape, with
// the failure logged, and the rest is served.
func TestFailingSource(t *testing.T) {
	var log bytes.Buffer
	m := New(Sources{
		BatchQueue: func(context.Context) (int, error) { return 0, errors.New("database is down") },
		CacheStats: func() (uint64, uint64) { return 5, 2 },
	}, slog.New(slog.NewTextHandler(&log, nil)))
	req := httptest.NewRequest("GET", "/metrics", nil)
	req = req.WithContext(keyhaven.WithRequestInfo(req.Context(), keyhaven.RequestInfo{RemoteAddr: "127.0.0.1"}))
	w := httptest.NewRecorder()
	m.Handler(nil, http.NotFoundHandler()).ServeHTTP(w, req)
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "keyhaven_verify_cache_hits_total 5") ||
		!strings.Contains(body, "keyhaven_webhook_deliveries_pending 0") {
		t.Fatalf("scrape: %d\n%s", w.Code, body)
	}
	if strings.Contains(body, "keyhaven_batch_queue_depth ") {
		t.Errorf("a failed read was served as a value:\n%s", body)
	}
	if !strings.Contains(log.String(), "database is down") {
		t.Errorf("the failure was not logged: %q", log.String())
	}
}

// TestObserveAllocates nothing once a route's counter is known: the verification hot path
// pays a map read and two atomic updates per request.
func TestObserveAllocates(t *testing.T) {
	m := New(Sources{}, nil)
	req := httptest.NewRequest("POST", "/api/verify", nil)
	req.Pattern = "POST /api/verify"
	v := &keyhaven.Verdict{Code: keyhaven.CodeValid, Credential: &keyhaven.Credential{Kind: keyhaven.KindAPIKey}}
	u := &keyhaven.Use{Verification: true}
	m.Observe(req, 200, time.Millisecond)
	m.Judged(u, v)
	if n := testing.AllocsPerRun(100, func() {
		m.Observe(req, 200, time.Millisecond)
		m.Judged(u, v)
	}); n != 0 {
		t.Fatalf("%v allocations per observed verification, want 0", n)
	}
}

// BenchmarkObserveVerification measures what metrics add to one verification: its request's
// counter and histogram, and its verdict's counter.
func BenchmarkObserveVerification(b *testing.B) {
	m := New(Sources{}, nil)
	req := httptest.NewRequest("POST", "/api/verify", nil)
	req.Pattern = "POST /api/verify"
	v := &keyhaven.Verdict{Code: keyhaven.CodeValid, Credential: &keyhaven.Credential{Kind: keyhaven.KindAPIKey}}
	u := &keyhaven.Use{Verification: true}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(req, 200, time.Millisecond)
			m.Judged(u, v)
		}
	})
}
