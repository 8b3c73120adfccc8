// Package metrics exposes a node's operational metrics in the Prometheus text format: HTTP
// requests by route, verifications by credential kind and verdict, the verification cache,
// batch tasks, webhook deliveries, the database pools, and the Go runtime and process.
//
// What other packages count they count themselves, with atomics on their own paths; metrics
// reads it through Sources when it is scraped, so that nothing on the hot path pays for a
// scrape, and a source that is not there yet (nil) still has its names, at zero. Only the
// counts that metrics is told of as they happen (requests, through Observe, and verdicts,
// through Judged) are Prometheus counters it updates itself, through children looked up once
// per label set.
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"keyhaven.dev/keyhaven"
)

// Sources are what metrics reads when it is scraped. A nil source reads as zero.
type Sources struct {
	// CacheStats returns how many resolutions the verification cache answered and how many
	// went to the store.
	CacheStats func() (hits, misses uint64)
	// CacheSize returns how many resolutions the verification cache holds.
	CacheSize func() int
	// BatchCreated returns how many accesses batch tasks created on this node.
	BatchCreated func() uint64
	// BatchQueue returns how many batch tasks, of every node, have not ended.
	BatchQueue func(ctx context.Context) (int, error)
	// WebhookDeliveries returns how many webhook deliveries ended each way (outcome →
	// count): "delivered", "failed" (an attempt failed; it is tried again), "exhausted" (no
	// attempt is left).
	WebhookDeliveries func() map[string]uint64
	// WebhookPending returns how many webhook deliveries wait to be made.
	WebhookPending func(ctx context.Context) (int, error)
	// DBPools returns the statistics of the store's connection pools by name.
	DBPools func() map[string]sql.DBStats
}

// WebhookOutcomes are the outcomes keyhaven_webhook_deliveries_total always has, at zero
// before any delivery.
var WebhookOutcomes = []string{"delivered", "failed", "exhausted"}

// Unmatched is the route label of requests that no route pattern matched.
const Unmatched = "unmatched"

// readTimeout bounds each read of the store a scrape makes.
const readTimeout = 5 * time.Second

// Metrics is one node's metrics, in a registry of their own.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger
	src Sources

	requests      *prometheus.CounterVec
	durations     *prometheus.HistogramVec
	verifications *prometheus.CounterVec

	routes   table[routeKey, routeChild]
	verdicts table[verdictKey, prometheus.Counter]
	// unmatched are route patterns that catch what no other route matched: their requests
	// count as Unmatched.
	unmatched map[string]bool
}

// New returns a node's metrics over src. Requests routed by one of the catch-all patterns
// count under the route label Unmatched, as do requests no pattern matched.
func New(src Sources, log *slog.Logger, catchAll ...string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), log: log, src: src, unmatched: map[string]bool{"": true}}
	for _, p := range catchAll {
		m.unmatched[p] = true
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyhaven_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyhaven_http_request_duration_seconds",
		Help:    "Time taken to answer HTTP requests, by route pattern and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method"})
	m.verifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyhaven_verifications_total",
		Help: "Verifications judged, by credential kind (unknown when none was found) and verdict code.",
	}, []string{"kind", "code"})
	m.reg.MustRegister(m.requests, m.durations, m.verifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scraped{m})
	return m
}

// Handler serves the metrics to the clients it admits: loopback clients and those in allow,
// judged by the client address keyhaven.RequestInfo carries (httpx.Wrap resolves it, believing
// X-Forwarded-For only from trusted proxies). Everyone else gets what fallback answers, the
// handler of paths that do not exist, so that the metrics' presence shows to no one else.
func (m *Metrics) Handler(allow []netip.Prefix, fallback http.Handler) http.Handler {
	var errLog promhttp.Logger
	if m.log != nil {
		errLog = slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)
	}
	serve := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A source that fails (the database is down) drops its metrics from the answer, not
		// the answer.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      errLog,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !admits(keyhaven.RequestInfoFrom(r.Context()).RemoteAddr, allow) {
			fallback.ServeHTTP(w, r)
			return
		}
		serve.ServeHTTP(w, r)
	})
}

// admits reports whether the client at addr may read the metrics: it is a loopback address
// or in allow.
func admits(addr string, allow []netip.Prefix) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// table is a map read without a lock on every request and written, rarely, by copying it:
// its keys are label sets, which code bounds.
type table[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

// get returns the value of k, made by mk the first time k is asked for.
func (t *table[K, V]) get(k K, mk func(K) V) V {
	if m := t.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	next := make(map[K]V, 1)
	if old != nil {
		next = make(map[K]V, len(*old)+1)
		for k, v := range *old {
			next[k] = v
		}
	}
	v := mk(k)
	next[k] = v
	t.m.Store(&next)
	return v
}
