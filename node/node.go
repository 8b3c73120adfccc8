// Package node assembles one keyhaven node: the service over a store, its verification cache,
// last-use recorder and usage counter, the invalidation channel between nodes (PostgreSQL),
// the batch runner, the garbage collector and the HTTP handler. The program and the tests
// build nodes the same way.
package node

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/api"
	"keyhaven.dev/keyhaven/batch"
	"keyhaven.dev/keyhaven/console"
	"keyhaven.dev/keyhaven/graphql"
	"keyhaven.dev/keyhaven/internal/httpx"
	"keyhaven.dev/keyhaven/metrics"
	"keyhaven.dev/keyhaven/postgres"
	"keyhaven.dev/keyhaven/ratelimit"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/sqlite"
	"keyhaven.dev/keyhaven/sqlstore"
	"keyhaven.dev/keyhaven/usage"
	"keyhaven.dev/keyhaven/verify"
	"keyhaven.dev/keyhaven/webhook"
)

// Config configures a node. Zero values take the defaults.
type Config struct {
	Log *slog.Logger
	// PostgresDSN is set when the store is PostgreSQL: nodes then share invalidations.
	PostgresDSN    string
	Sealer         *secret.Sealer
	Clock          keyhaven.Clock // of the service and every background loop (default: the system's)
	PasswordParams secret.Argon2Params
	SessionTTL     time.Duration
	BatchRetention time.Duration
	BatchLease     time.Duration
	BatchPoll      time.Duration
	GCInterval     time.Duration
	// CacheSize is how many resolved credentials the verification cache holds.
	CacheSize int
	// HashSlots is how many slow password hashes may run at once (0: one per core).
	HashSlots int
	// UsageInterval is how often last-use times are written.
	UsageInterval time.Duration
	// UsageCountInterval is how often usage counts are added to the store
	// (keyhaven.UsageFlushInterval when zero).
	UsageCountInterval time.Duration
	// NoUsageCounting turns usage counting off: no verdict is counted. A benchmark and
	// emergency switch.
	NoUsageCounting bool
	// FailuresPerMinute and FailureBurst are the budget of failed sign-ins per email and per
	// client network (unknown emails only), and of failed device verifications per username
	// (keyhaven.GuessLimiter).
	FailuresPerMinute, FailureBurst int
	// PublicURL, when set, is where browsers reach keyhaven (console.Options), and the base
	// of the tenants' token issuers.
	PublicURL *url.URL
	// ListenAddr is the address the node listens on: without PublicURL, the issuers' base is
	// http:// + ListenAddr.
	ListenAddr string
	// SigningKeyMaxAge is how old a tenant's active signing key gets before garbage
	// collection rotates it (keyhaven.DefaultSigningKeyMaxAge when zero).
	SigningKeyMaxAge time.Duration
	// SQLiteCommitPoll, when set, is how often a node on SQLite checks whether another
	// process (the command line) committed to its database, and then empties its cache,
	// which no notification reaches.
	SQLiteCommitPoll time.Duration
	// TrustedProxies are the load balancers whose X-Forwarded-For and X-Forwarded-Proto are
	// believed.
	TrustedProxies []netip.Prefix
	// WebhookDestinations, when set, are the only destinations webhooks may send to.
	WebhookDestinations *keyhaven.Destinations
	// WebhookRetrySchedule is how long a failed webhook delivery waits before each retry
	// (keyhaven.DefaultRetrySchedule when empty).
	WebhookRetrySchedule []time.Duration
	// WebhookPoll is how often the webhook sender looks for messages it was not told about
	// (a second when zero).
	WebhookPoll time.Duration
	// MetricsAllow are the networks, besides loopback, whose clients may read /metrics.
	MetricsAllow []netip.Prefix
}

// Node is one keyhaven node.
type Node struct {
	Svc     *keyhaven.Service
	Cache   *verify.Cache
	Usage   *verify.Usage
	Counter *usage.Counter // counts every verdict for usage analytics; nil when NoUsageCounting
	Runner  *batch.Runner
	// Webhooks sends the outbox's messages; its Deliveries count what its attempts came to.
	Webhooks *webhook.Sender
	Metrics  *metrics.Metrics
	Handler  http.Handler

	cfg      Config
	store    *sqlstore.DB
	notifier *postgres.Notifier
}

// New assembles a node over store.
func New(store *sqlstore.DB, cfg Config) *Node {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100_000
	}
	if cfg.UsageInterval <= 0 {
		cfg.UsageInterval = 30 * time.Second
	}
	if cfg.UsageCountInterval <= 0 {
		cfg.UsageCountInterval = keyhaven.UsageFlushInterval
	}
	if cfg.GCInterval <= 0 {
		cfg.GCInterval = time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = keyhaven.SystemClock()
	}
	svc := keyhaven.NewService(store, cfg.Log)
	svc.Sealer = cfg.Sealer
	svc.Clock = cfg.Clock
	svc.SigningKeyMaxAge = cfg.SigningKeyMaxAge
	if cfg.PublicURL != nil {
		svc.PublicURL = strings.TrimSuffix(cfg.PublicURL.String(), "/")
	} else if cfg.ListenAddr != "" {
		svc.PublicURL = "http://" + cfg.ListenAddr
	}
	if cfg.PasswordParams != (secret.Argon2Params{}) {
		svc.PasswordParams = cfg.PasswordParams
	}
	if cfg.SessionTTL > 0 {
		svc.SessionTTL = cfg.SessionTTL
	}
	if cfg.BatchRetention > 0 {
		svc.BatchRetention = cfg.BatchRetention
	}
	if cfg.HashSlots > 0 {
		svc.Hashes = keyhaven.NewHashLimiter(cfg.HashSlots)
	}
	svc.Hashes.Clock = cfg.Clock
	svc.Guesses = keyhaven.NewGuessLimiter(cfg.FailuresPerMinute, cfg.FailureBurst)
	n := &Node{Svc: svc, cfg: cfg, store: store}
	n.Cache = verify.NewCache(store, cfg.CacheSize)
	svc.Credentials = n.Cache
	n.Usage = verify.NewUsage(store, cfg.Clock, cfg.Log)
	svc.Used = n.Usage.Used
	if !cfg.NoUsageCounting {
		n.Counter = usage.New(store, cfg.Clock, cfg.Log)
	}
	if cfg.PostgresDSN != "" {
		// Nodes sharing a database lease their keys' rate limits from it: together they
		// admit no more than one node would (see package ratelimit).
		svc.Rates = ratelimit.NewLeased(store)
		n.notifier = &postgres.Notifier{DSN: cfg.PostgresDSN, DB: store.SQL(), Log: cfg.Log,
			Heard: n.heard, Listening: n.Cache.SetEnabled, Clock: cfg.Clock}
		// Until the listener is up, invalidations from other nodes could be missed.
		n.Cache.SetEnabled(false)
	}
	svc.Invalidated = n.invalidate
	n.Runner = batch.New(svc, cfg.Log)
	if cfg.BatchLease > 0 {
		n.Runner.Lease = cfg.BatchLease
	}
	if cfg.BatchPoll > 0 {
		n.Runner.Poll = cfg.BatchPoll
	}
	svc.BatchSubmitted = n.Runner.Wake
	svc.WebhookDestinations = cfg.WebhookDestinations
	svc.WebhookRetrySchedule = cfg.WebhookRetrySchedule
	n.Webhooks = webhook.New(svc, cfg.Log)
	if cfg.WebhookPoll > 0 {
		n.Webhooks.Poll = cfg.WebhookPoll
	}
	// A message queued on this node goes at once; others' are found by polling.
	store.Queued = n.Webhooks.Wake
	n.Metrics = metrics.New(metrics.Sources{
		CacheStats:        n.Cache.Stats,
		CacheSize:         n.Cache.Len,
		BatchCreated:      n.Runner.Created,
		BatchQueue:        store.UnfinishedBatchTasks,
		WebhookDeliveries: n.Webhooks.Deliveries,
		WebhookPending:    svc.CountPendingWebhookDeliveries,
		DBPools:           store.PoolStats,
	}, cfg.Log, apiCatchAll, consoleCatchAll)
	svc.Judged = n.Metrics.Judged
	if n.Counter != nil {
		// Every verdict is both counted for usage analytics and observed by the metrics.
		count, observe := n.Counter.Judged, n.Metrics.Judged
		svc.Judged = func(u *keyhaven.Use, v *keyhaven.Verdict) {
			observe(u, v)
			count(u, v)
		}
	}
	n.Handler = httpx.Wrap(cfg.Log, cfg.TrustedProxies, n.Metrics.Observe, routes(svc, cfg, n.Metrics))
	return n
}

// apiCatchAll and consoleCatchAll are the REST API's and the console's patterns of the paths
// they have no endpoint at.
const (
	apiCatchAll     = "/api/"
	consoleCatchAll = "/"
)

// routes sends each request to its transport: the REST API (with verify and the health
// checks), GraphQL and the console, and /metrics to m. Transports know nothing of each other.
func routes(svc *keyhaven.Service, cfg Config, m *metrics.Metrics) http.Handler {
	rest := api.New(svc).Handler()
	mux := http.NewServeMux()
	mux.Handle("/api/", rest)
	// Verify, the hot path, by its own pattern: a prefix pattern's match costs allocations.
	mux.Handle("POST /api/verify", rest)
	mux.Handle("/healthz", rest)
	mux.Handle("/readyz", rest)
	mux.Handle("/.well-known/oauth-authorization-server/", rest)
	mux.Handle("/api/{tenant}/graphql", graphql.NewHandler(svc, cfg.Log))
	site := console.New(svc, cfg.Log, console.Options{PublicURL: cfg.PublicURL})
	mux.Handle("/", site)
	// A client that may not read the metrics gets what any path that does not exist gets.
	mux.Handle("GET /metrics", m.Handler(cfg.MetricsAllow, site))
	return mux
}

// heard drops what this node holds of ids, told by another node.
func (n *Node) heard(ids ...string) {
	n.Cache.Invalidate(ids...)
	n.Svc.ForgetKeySets(ids...)
}

// flush drops everything this node's caches hold.
func (n *Node) flush() {
	n.Cache.Flush()
	n.Svc.ForgetKeySets()
}

// invalidate drops what this node's cache holds of ids and tells the other nodes.
func (n *Node) invalidate(ctx context.Context, ids ...string) {
	n.Cache.Invalidate(ids...)
	if n.notifier == nil {
		return
	}
	if err := n.notifier.Publish(context.WithoutCancel(ctx), ids...); err != nil {
		// Other nodes may hold stale entries until verify.MaxAge bounds them.
		n.cfg.Log.ErrorContext(ctx, "publish invalidation", "err", err, "ids", ids)
	}
}

// Run runs the node's background work (batch runner, webhook sender, garbage collection,
// last-use writes, usage counts, invalidation listener) until ctx ends, then waits for it to
// stop.
func (n *Node) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { n.Runner.Run(ctx) })
	wg.Go(func() { n.Webhooks.Run(ctx) })
	wg.Go(func() { n.Svc.RunGarbageCollection(ctx, n.cfg.GCInterval) })
	wg.Go(func() { n.Usage.Run(ctx, n.cfg.UsageInterval) })
	if n.Counter != nil {
		wg.Go(func() { n.Counter.Run(ctx, n.cfg.UsageCountInterval) })
	}
	if n.notifier != nil {
		wg.Go(func() { n.notifier.Listen(ctx) })
	}
	if n.cfg.SQLiteCommitPoll > 0 {
		wg.Go(func() { sqlite.WatchCommits(ctx, n.cfg.Clock, n.store, n.cfg.SQLiteCommitPoll, n.flush) })
	}
	wg.Wait()
}
