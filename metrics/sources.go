package metrics

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics read from Sources at each scrape.
var (
	cacheHits = prometheus.NewDesc("keyhaven_verify_cache_hits_total",
		"Credential resolutions the verification cache answered.", nil, nil)
	cacheMisses = prometheus.NewDesc("keyhaven_verify_cache_misses_total",
		"Credential resolutions the verification cache sent to the database.", nil, nil)
	cacheEntries = prometheus.NewDesc("keyhaven_verify_cache_entries",
		"Resolved credentials the verification cache holds.", nil, nil)
	batchCreated = prometheus.NewDesc("keyhaven_batch_accesses_created_total",
		"Device accesses that batch tasks run on this node created.", nil, nil)
	batchQueue = prometheus.NewDesc("keyhaven_batch_queue_depth",
		"Batch tasks of every node and tenant that have not ended (acknowledged or in progress).", nil, nil)
	webhookDeliveries = prometheus.NewDesc("keyhaven_webhook_deliveries_total",
		"Webhook delivery attempts by outcome: delivered, failed (tried again) or exhausted (no attempt left).", []string{"outcome"}, nil)
	webhookPending = prometheus.NewDesc("keyhaven_webhook_deliveries_pending",
		"Webhook deliveries waiting to be made.", nil, nil)
	dbOpen = prometheus.NewDesc("keyhaven_db_connections_open",
		"Open connections of a database pool, in use or idle.", []string{"pool"}, nil)
	dbInUse = prometheus.NewDesc("keyhaven_db_connections_in_use",
		"Connections of a database pool in use.", []string{"pool"}, nil)
	dbIdle = prometheus.NewDesc("keyhaven_db_connections_idle",
		"Idle connections of a database pool.", []string{"pool"}, nil)
	dbMaxOpen = prometheus.NewDesc("keyhaven_db_connections_max_open",
		"Most connections a database pool opens (0: no limit).", []string{"pool"}, nil)
	dbWaits = prometheus.NewDesc("keyhaven_db_wait_count_total",
		"Times a request waited for a connection of a database pool.", []string{"pool"}, nil)
	dbWaited = prometheus.NewDesc("keyhaven_db_wait_duration_seconds_total",
		"Time requests waited for connections of a database pool.", []string{"pool"}, nil)
)

// scraped collects the metrics read from Sources.
type scraped struct{ m *Metrics }

func (s *scraped) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheHits, cacheMisses, cacheEntries, batchCreated, batchQueue,
		webhookDeliveries, webhookPending, dbOpen, dbInUse, dbIdle, dbMaxOpen, dbWaits, dbWaited} {
		ch <- d
	}
}

func (s *scraped) Collect(ch chan<- prometheus.Metric) {
	src := s.m.src
	var hits, misses uint64
	if src.CacheStats != nil {
		hits, misses = src.CacheStats()
	}
	ch <- prometheus.MustNewConstMetric(cacheHits, prometheus.CounterValue, float64(hits))
	ch <- prometheus.MustNewConstMetric(cacheMisses, prometheus.CounterValue, float64(misses))
	size := 0
	if src.CacheSize != nil {
		size = src.CacheSize()
	}
	ch <- prometheus.MustNewConstMetric(cacheEntries, prometheus.GaugeValue, float64(size))
	var created uint64
	if src.BatchCreated != nil {
		created = src.BatchCreated()
	}
	ch <- prometheus.MustNewConstMetric(batchCreated, prometheus.CounterValue, float64(created))
	ch <- count(batchQueue, "the batch queue", src.BatchQueue)

	var deliveries map[string]uint64
	if src.WebhookDeliveries != nil {
		deliveries = src.WebhookDeliveries()
	}
	outcomes := slices.Clone(WebhookOutcomes)
	for _, o := range slices.Sorted(maps.Keys(deliveries)) {
		if !slices.Contains(outcomes, o) {
			outcomes = append(outcomes, o)
		}
	}
	for _, o := range outcomes {
		ch <- prometheus.MustNewConstMetric(webhookDeliveries, prometheus.CounterValue, float64(deliveries[o]), o)
	}
	ch <- count(webhookPending, "the pending webhook deliveries", src.WebhookPending)

	if src.DBPools != nil {
		for name, st := range src.DBPools() {
			ch <- prometheus.MustNewConstMetric(dbOpen, prometheus.GaugeValue, float64(st.OpenConnections), name)
			ch <- prometheus.MustNewConstMetric(dbInUse, prometheus.GaugeValue, float64(st.InUse), name)
			ch <- prometheus.MustNewConstMetric(dbIdle, prometheus.GaugeValue, float64(st.Idle), name)
			ch <- prometheus.MustNewConstMetric(dbMaxOpen, prometheus.GaugeValue, float64(st.MaxOpenConnections), name)
			ch <- prometheus.MustNewConstMetric(dbWaits, prometheus.CounterValue, float64(st.WaitCount), name)
			ch <- prometheus.MustNewConstMetric(dbWaited, prometheus.CounterValue, st.WaitDuration.Seconds(), name)
		}
	}
}

// count returns the gauge d of what read counts (zero when read is nil), or, when the read
// fails, an invalid metric that drops d from this scrape and has the failure logged.
func count(d *prometheus.Desc, what string, read func(context.Context) (int, error)) prometheus.Metric {
	if read == nil {
		return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	n, err := read(ctx)
	if err != nil {
		return prometheus.NewInvalidMetric(d, fmt.Errorf("metrics: read %s: %w", what, err))
	}
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n))
}
