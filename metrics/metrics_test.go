package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/metrics"
	"keyhaven.dev/keyhaven/node"
	"keyhaven.dev/keyhaven/secret"
)

// listed are the names the contract ("Operations") and the node's operators rely on.
var listed = []string{
	"keyhaven_http_requests_total", "keyhaven_http_request_duration_seconds", "keyhaven_verifications_total",
	"keyhaven_verify_cache_hits_total", "keyhaven_verify_cache_misses_total", "keyhaven_verify_cache_entries",
	"keyhaven_batch_accesses_created_total", "keyhaven_batch_queue_depth",
	"keyhaven_webhook_deliveries_total", "keyhaven_webhook_deliveries_pending",
	"keyhaven_db_connections_open", "keyhaven_db_connections_in_use", "keyhaven_db_connections_idle",
	"keyhaven_db_connections_max_open", "keyhaven_db_wait_count_total", "keyhaven_db_wait_duration_seconds_total",
	"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes",
}

// scrape is one reading of /metrics.
type scrape map[string]*dto.MetricFamily

// scrapeOf fetches /metrics from e over loopback and parses it as Prometheus text.
func scrapeOf(t *testing.T, e *apitest.Env) scrape {
	t.Helper()
	res, err := http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /metrics from loopback: %d %s", res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type %q, want the Prometheus text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the value of name's series with exactly labels (name, value pairs): a
// counter's or gauge's value, a histogram's count. It is zero when there is no such series.
func (s scrape) value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(want) {
			continue
		}
		for _, l := range m.Label {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return 0
}

// wantMoved fails unless name{labels} moved by want between before and after.
func wantMoved(t *testing.T, before, after scrape, want float64, name string, labels ...string) {
	t.Helper()
	if got := after.value(name, labels...) - before.value(name, labels...); got != want {
		t.Errorf("%s%v moved by %v, want %v", name, labels, got, want)
	}
}

func verify(t *testing.T, e *apitest.Env, key string, want string) {
	t.Helper()
	r := e.Do("POST", "/api/verify", "", map[string]any{"key": key})
	if r.Status != http.StatusOK || r.JSON()["code"] != want {
		t.Fatalf("verify: %d %s, want code %s", r.Status, r.Body, want)
	}
}

// TestMetrics reads /metrics from a real node over real HTTP: every listed name is there, in
// the Prometheus text format, and the counters move with what the node does.
func TestMetrics(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			e.ActiveContract(t)
			// A request of every kind first, so that every labelled name has a series.
			verify(t, e, e.Acme.APIKey, "VALID")
			before := scrapeOf(t, e)
			for _, name := range listed {
				if before[name] == nil {
					t.Errorf("/metrics has no %s", name)
				}
			}
			if got := before["keyhaven_http_request_duration_seconds"].GetType(); got != dto.MetricType_HISTOGRAM {
				t.Errorf("keyhaven_http_request_duration_seconds is a %v, want a histogram", got)
			}
			for _, outcome := range metrics.WebhookOutcomes {
				if len(labelled(before, "keyhaven_webhook_deliveries_total", "outcome", outcome)) != 1 {
					t.Errorf("keyhaven_webhook_deliveries_total has no outcome %q", outcome)
				}
			}
			if len(before["keyhaven_db_connections_open"].GetMetric()) == 0 {
				t.Error("no database pool is measured")
			}
			// The sample dashboard charts only what is served.
			dashboard, err := os.ReadFile("../docs/grafana/keyhaven.json")
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range regexp.MustCompile(`\b(?:keyhaven|go|process)_[a-z_]+`).FindAllString(string(dashboard), -1) {
				if before[name] == nil && before[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] == nil {
					t.Errorf("the dashboard charts %s, which /metrics does not serve", name)
				}
			}

			t.Run("requests and verifications", func(t *testing.T) {
				before := scrapeOf(t, e)
				const valid, unknown = 3, 2
				for range valid {
					verify(t, e, e.Acme.APIKey, "VALID")
				}
				for range unknown {
					verify(t, e, secret.Generate(secret.APIKey), "NOT_FOUND")
				}
				created := e.Do("POST", "/api/acme/api-keys", e.Acme.APIKey, map[string]any{"name": "off", "permissions": []string{"READ"}})
				if created.Status != http.StatusCreated {
					t.Fatalf("create key: %d %s", created.Status, created.Body)
				}
				if r := e.Do("PATCH", "/api/acme/api-keys/off", e.Acme.APIKey, map[string]any{"active": false}); r.Status != http.StatusOK {
					t.Fatalf("disable key: %d %s", r.Status, r.Body)
				}
				off, _ := created.JSON()["key"].(string)
				verify(t, e, off, "DISABLED")
				// A device's username and password check is a verification too.
				device := e.Do("POST", "/api/acme/access", e.Acme.APIKey, map[string]any{"contractId": "contract-001"})
				if device.Status != http.StatusCreated {
					t.Fatalf("create access: %d %s", device.Status, device.Body)
				}
				username, _ := device.JSON()["username"].(string)
				if r := e.Do("POST", "/api/acme/access/verify", e.Acme.APIKey, map[string]string{"username": username, "password": "not the password"}); r.Status != http.StatusOK || r.JSON()["code"] != "INVALID_CREDENTIALS" {
					t.Fatalf("verify access: %d %s", r.Status, r.Body)
				}
				if r := e.Do("GET", "/api/acme/users", e.Acme.APIKey, nil); r.Status != http.StatusOK {
					t.Fatalf("list users: %d %s", r.Status, r.Body)
				}
				if r := e.Do("GET", "/api/acme/no-such-endpoint", e.Acme.APIKey, nil); r.Status != http.StatusNotFound {
					t.Fatalf("unknown endpoint: %d", r.Status)
				}
				if r := e.Do("GET", "/no-such-page", "", nil); r.Status != http.StatusNotFound {
					t.Fatalf("unknown page: %d", r.Status)
				}
				// Keyhaven's own API is no verification, however its bearer is judged.
				if r := e.Do("GET", "/api/acme/users", "khk_nonsense", nil); r.Status != http.StatusUnauthorized {
					t.Fatalf("bad bearer: %d", r.Status)
				}
				after := scrapeOf(t, e)

				wantMoved(t, before, after, valid, "keyhaven_verifications_total", "kind", "api_key", "code", "VALID")
				wantMoved(t, before, after, unknown, "keyhaven_verifications_total", "kind", "unknown", "code", "NOT_FOUND")
				wantMoved(t, before, after, 1, "keyhaven_verifications_total", "kind", "api_key", "code", "DISABLED")
				wantMoved(t, before, after, 1, "keyhaven_verifications_total", "kind", "device", "code", "INVALID_CREDENTIALS")
				var all float64
				for _, m := range after["keyhaven_verifications_total"].GetMetric() {
					all += m.Counter.GetValue()
				}
				for _, m := range before["keyhaven_verifications_total"].GetMetric() {
					all -= m.Counter.GetValue()
				}
				if all != valid+unknown+2 {
					t.Errorf("%v verifications counted, want %d: uses of keyhaven's API count too", all, valid+unknown+2)
				}

				wantMoved(t, before, after, valid+unknown+1, "keyhaven_http_requests_total", "route", "/api/verify", "method", "POST", "status", "200")
				wantMoved(t, before, after, valid+unknown+1, "keyhaven_http_request_duration_seconds", "route", "/api/verify", "method", "POST")
				wantMoved(t, before, after, 1, "keyhaven_http_requests_total", "route", "/api/{tenant}/api-keys", "method", "POST", "status", "201")
				wantMoved(t, before, after, 1, "keyhaven_http_requests_total", "route", "/api/{tenant}/api-keys/{name}", "method", "PATCH", "status", "200")
				wantMoved(t, before, after, 1, "keyhaven_http_requests_total", "route", "/api/{tenant}/users", "method", "GET", "status", "200")
				wantMoved(t, before, after, 1, "keyhaven_http_requests_total", "route", "/api/{tenant}/users", "method", "GET", "status", "401")
				wantMoved(t, before, after, 2, "keyhaven_http_requests_total", "route", metrics.Unmatched, "method", "GET", "status", "404")
				// The scrape before is counted too, under its own route.
				wantMoved(t, before, after, 1, "keyhaven_http_requests_total", "route", "/metrics", "method", "GET", "status", "200")
				for _, m := range after["keyhaven_http_requests_total"].GetMetric() {
					for _, l := range m.Label {
						if l.GetName() == "route" && strings.Contains(l.GetValue(), "acme") {
							t.Errorf("a route label holds a raw path: %q", l.GetValue())
						}
					}
				}
			})

			t.Run("an idempotent request counts under its route", func(t *testing.T) {
				before := scrapeOf(t, e)
				body := map[string]any{"name": "retried", "permissions": []string{"READ"}}
				for range 2 {
					if r := e.Do("POST", "/api/acme/api-keys", e.Acme.APIKey, body, "Idempotency-Key", "metrics-1"); r.Status != http.StatusCreated {
						t.Fatalf("create key: %d %s", r.Status, r.Body)
					}
				}
				after := scrapeOf(t, e)
				wantMoved(t, before, after, 2, "keyhaven_http_requests_total", "route", "/api/{tenant}/api-keys", "method", "POST", "status", "201")
			})

			t.Run("cache hits and misses", func(t *testing.T) {
				// On PostgreSQL the cache answers only once its invalidation listener is up.
				eventually.Within(t, 10*time.Second, func() error {
					before := scrapeOf(t, e)
					verify(t, e, e.Acme.APIKey, "VALID")
					verify(t, e, e.Acme.APIKey, "VALID")
					verify(t, e, secret.Generate(secret.APIKey), "NOT_FOUND")
					after := scrapeOf(t, e)
					hits := after.value("keyhaven_verify_cache_hits_total") - before.value("keyhaven_verify_cache_hits_total")
					misses := after.value("keyhaven_verify_cache_misses_total") - before.value("keyhaven_verify_cache_misses_total")
					if hits < 1 || misses < 1 {
						return fmt.Errorf("cache hits moved by %v and misses by %v, want both up", hits, misses)
					}
					if after.value("keyhaven_verify_cache_entries") < 1 {
						return fmt.Errorf("the cache holds %v entries", after.value("keyhaven_verify_cache_entries"))
					}
					return nil
				})
			})

			t.Run("batch tasks", func(t *testing.T) {
				var me apitest.Me
				e.Do("GET", "/api/acme/me", e.Acme.APIKey, nil).Decode(t, &me)
				// Stored without waking the runner, whose poll waits on the test's clock: the
				// task stays queued until the test takes its turns.
				const n = 7
				task := &keyhaven.BatchTask{ID: "job-" + keyhaven.NewID("b")[2:], TenantID: e.Acme.Tenant.ID, ContractID: "contract-001",
					CreatedBy: me.User.ID, Requested: n, State: keyhaven.BatchAcknowledged, CreatedAt: e.Clock.Now().UTC().Truncate(time.Microsecond)}
				before := scrapeOf(t, e)
				if err := e.Store.CreateBatchTask(context.Background(), task, nil); err != nil {
					t.Fatal(err)
				}
				queued := scrapeOf(t, e)
				wantMoved(t, before, queued, 1, "keyhaven_batch_queue_depth")
				e.WaitBatch(t, task.ID)
				after := scrapeOf(t, e)
				wantMoved(t, before, after, n, "keyhaven_batch_accesses_created_total")
				wantMoved(t, before, after, 0, "keyhaven_batch_queue_depth")
			})
		})
	}
}

// labelled returns the series of name that carry label=value.
func labelled(s scrape, name, label, value string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range s[name].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == label && l.GetValue() == value {
				out = append(out, m)
			}
		}
	}
	return out
}

// TestMetricsClients: /metrics answers loopback clients and the allowed networks, judged by
// the client address the node resolved (X-Forwarded-For believed only from trusted proxies),
// and to everyone else exactly what a path that does not exist gets.
func TestMetricsClients(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	e := apitest.NewNode(t, testdb.SQLite, func(c *node.Config) {
		c.TrustedProxies = loopback
		c.MetricsAllow = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:5::/48")}
	})
	get := func(path, forwardedFor string) *apitest.Response {
		t.Helper()
		if forwardedFor == "" {
			return e.Do("GET", path, "", nil)
		}
		return e.Do("GET", path, "", nil, "X-Forwarded-For", forwardedFor)
	}
	unknown := get("/no-such-page", "198.51.100.7")
	if unknown.Status != http.StatusNotFound {
		t.Fatalf("unknown page: %d", unknown.Status)
	}
	tests := []struct {
		name, forwardedFor string
		want               int
	}{
		{"loopback", "", http.StatusOK},
		{"allowed network through the proxy", "203.0.113.40", http.StatusOK},
		{"allowed IPv6 network through the proxy", "2001:db8:5::9", http.StatusOK},
		{"another network through the proxy", "198.51.100.7", http.StatusNotFound},
		{"another network naming an allowed one first", "203.0.113.40, 198.51.100.7", http.StatusNotFound},
		{"another network claiming loopback first", "127.0.0.1, 198.51.100.7", http.StatusNotFound},
		{"a neighbour of the allowed network", "203.0.114.1", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get("/metrics", tc.forwardedFor)
			if r.Status != tc.want {
				t.Fatalf("GET /metrics for %q: %d, want %d", tc.forwardedFor, r.Status, tc.want)
			}
			if tc.want == http.StatusOK && !strings.Contains(string(r.Body), "keyhaven_http_requests_total") {
				t.Fatalf("GET /metrics answered without metrics: %.200s", r.Body)
			}
			if tc.want == http.StatusNotFound {
				if string(r.Body) != string(unknown.Body) || r.Header.Get("Content-Type") != unknown.Header.Get("Content-Type") {
					t.Fatalf("refused: %s %q, want what a path that does not exist gets: %s %q",
						r.Header.Get("Content-Type"), r.Body, unknown.Header.Get("Content-Type"), unknown.Body)
				}
			}
		})
	}

	// A client that is no trusted proxy is judged by its own address, whatever it forwards.
	t.Run("an outsider's X-Forwarded-For is not believed", func(t *testing.T) {
		for _, tc := range []struct {
			peer, forwardedFor string
			want               int
		}{
			{"198.51.100.7:40000", "127.0.0.1", http.StatusNotFound},
			{"198.51.100.7:40000", "203.0.113.40", http.StatusNotFound},
			{"203.0.113.41:40000", "", http.StatusOK},
			{"[2001:db8:5::1]:40000", "", http.StatusOK},
			{"[::ffff:198.51.100.7]:40000", "", http.StatusNotFound},
		} {
			req := httptest.NewRequest("GET", "/metrics", nil)
			req.RemoteAddr = tc.peer
			if tc.forwardedFor != "" {
				req.Header.Set("X-Forwarded-For", tc.forwardedFor)
			}
			w := httptest.NewRecorder()
			e.Node.Handler.ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Errorf("GET /metrics from %s forwarding %q: %d, want %d", tc.peer, tc.forwardedFor, w.Code, tc.want)
			}
		}
	})
}
