package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/api"
	"keyhaven.dev/keyhaven/node"
	"keyhaven.dev/keyhaven/secret"
)

func newServeCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "serve", Short: "Run the API and console", Args: noArgs,
		Long: "Serve the web console (/), the REST API (/api/...), GraphQL, /healthz, /readyz and /metrics, and run batch\n" +
			"tasks and webhook deliveries.\n" +
			"Pending migrations are applied first. On an empty database it creates the tenant \"default\" and prints its\n" +
			"admin's password and a bootstrap API key once, to stderr.",
	}
	fs := cmd.Flags()
	addr := addrFlag(fs, "addr", "127.0.0.1:8080", false, "address to listen on")
	db := dbFlag(fs)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := choiceFlag(fs, "log-format", []string{"json", "text"}, "log format: json or text")
	bootstrapEmail := fs.String("bootstrap-email", "admin@keyhaven.local", "admin email of the default tenant created on an empty database")
	sessionTTL := durationFlag(fs, "session-ttl", 12*time.Hour, "how long a login session lasts")
	gcInterval := durationFlag(fs, "gc-interval", time.Minute, "how often expired credentials, batch passwords past retention and old idempotency keys are removed")
	secretKey := fs.String("secret-key", "", "base64 32-byte key sealing batch passwords and idempotent answers at rest; required on PostgreSQL (the same on every node), kept in DBFILE.key on SQLite when empty")
	batchRetention := durationFlag(fs, "batch-retention", 24*time.Hour, "how long a finished batch task keeps its passwords")
	batchLease := durationFlag(fs, "batch-lease", 15*time.Second, "how long a node's claim on a batch task lasts without progress before another node may take it over")
	cacheSize := intFlag(fs, "cache-size", 100_000, 1, 100_000_000, "how many resolved credentials the verification cache holds")
	debugAddr := addrFlag(fs, "debug-addr", "", true, "address for the Go profiler (net/http/pprof); off when empty. Keep it on loopback")
	memoryLimit := intFlag(fs, "memory-limit-mb", 200, 0, 1<<30, "soft memory limit in MiB: the garbage collector works harder as the heap nears it (0: none; GOMEMLIMIT wins)")
	trustedProxies := fs.String("trusted-proxies", "", "comma-separated CIDRs of load balancers whose X-Forwarded-For and X-Forwarded-Proto are believed")
	publicURL := fs.String("public-url", "", "URL at which browsers and OAuth clients reach keyhaven, such as https://keyhaven.example.com; tenant T's token issuer is it + /api/T (default http:// + the listen address); when https, console cookies are always Secure")
	failuresPerMinute := intFlag(fs, "failures-per-minute", 60, 1, 1_000_000, "failed sign-ins allowed per email, and per client network for unknown emails, and failed device verifications per username, each minute after the burst")
	failureBurst := intFlag(fs, "failure-burst", 30, 1, 1_000_000, "failures allowed at once per email, client network (unknown emails) or device username before the limit applies")
	metricsAllow := fs.String("metrics-allow", "", "comma-separated CIDRs whose clients, besides loopback ones, may read /metrics (the client address as --trusted-proxies resolves it)")
	webhookAllow := fs.String("webhook-allow", "", "comma-separated CIDRs, addresses and host names (*.example.com for the names under example.com) webhooks may send to; any destination when empty. Names not listed must resolve into the CIDRs, checked on every connection")
	webhookRetries := fs.String("webhook-retry-schedule", formatSchedule(keyhaven.DefaultRetrySchedule), "comma-separated waits before each retry of a failed webhook delivery; given up after the last")
	usageCounting := fs.Bool("usage-counting", true, "count every verification and API use per key for usage analytics (GET /api/TENANT/usage, the console's charts); false, a benchmark and emergency switch, counts nothing while off")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, getenv, stderr := cmd.Context(), p.getenv, p.stderr
		log, err := newLogger(stderr, *logLevel, *logFormat)
		if err != nil {
			return err
		}
		if err := checkSecretKeyFlag(*secretKey, *db); err != nil {
			return err
		}
		if _, err := keyhaven.NormalizeEmail("--bootstrap-email", *bootstrapEmail); err != nil {
			return errors.New(keyhaven.ErrorMessage(err))
		}
		proxies, err := parsePrefixes(*trustedProxies)
		if err != nil {
			return fmt.Errorf("--trusted-proxies: %w", err)
		}
		metricsNets, err := parsePrefixes(*metricsAllow)
		if err != nil {
			return fmt.Errorf("--metrics-allow: %w", err)
		}
		public, err := parsePublicURL(*publicURL)
		if err != nil {
			return fmt.Errorf("--public-url: %w", err)
		}
		destinations, err := keyhaven.ParseDestinations(*webhookAllow)
		if err != nil {
			return fmt.Errorf("--webhook-allow: %w", err)
		}
		schedule, err := parseSchedule(*webhookRetries)
		if err != nil {
			return fmt.Errorf("--webhook-retry-schedule: %w", err)
		}
		if *memoryLimit > 0 && getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(int64(*memoryLimit) << 20)
		}

		store, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer store.Close()
		sealer, err := loadSealer(ctx, store, *secretKey, *db)
		if err != nil {
			return err
		}
		cfg := node.Config{
			Log: log, Sealer: sealer, SessionTTL: *sessionTTL, BatchRetention: *batchRetention, BatchLease: *batchLease,
			GCInterval: *gcInterval, CacheSize: *cacheSize, HashSlots: keyhaven.HashSlots(*memoryLimit, secret.OWASP.Memory),
			FailuresPerMinute: *failuresPerMinute, FailureBurst: *failureBurst, PublicURL: public,
			TrustedProxies: proxies, WebhookDestinations: destinations, WebhookRetrySchedule: schedule,
			NoUsageCounting: !*usageCounting, MetricsAllow: metricsNets,
		}
		if strings.HasPrefix(*db, "sqlite:") {
			// One node serves a SQLite database: leases left by an earlier process are dead.
			if err := store.ReleaseBatchLeases(ctx); err != nil {
				return err
			}
			if err := store.ReleaseWebhookLeases(ctx); err != nil {
				return err
			}
			// The command line may change credentials beside it (user reset-password).
			cfg.SQLiteCommitPoll = time.Second
		} else {
			cfg.PostgresDSN = *db
		}
		// Listening first gives the address the default token issuer names.
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		defer ln.Close()
		cfg.ListenAddr = ln.Addr().String()
		api.Version = version
		n := node.New(store, cfg)

		created, err := n.Svc.Bootstrap(ctx, *bootstrapEmail)
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		if created != nil {
			fmt.Fprintln(stderr, "==========================================================================")
			printCredentials(stderr, created)
			fmt.Fprintln(stderr, "==========================================================================")
		}

		if *debugAddr != "" {
			dl, err := net.Listen("tcp", *debugAddr)
			if err != nil {
				return err
			}
			go http.Serve(dl, http.DefaultServeMux) // net/http/pprof registers on the default mux
			log.Info("profiler listening", "addr", dl.Addr().String())
		}
		srv := &http.Server{
			Handler:           n.Handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
		defer stopBG()
		bgDone := make(chan struct{})
		go func() {
			defer close(bgDone)
			n.Run(bg)
		}()

		log.Info("listening", "addr", ln.Addr().String(), "version", version)
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		log.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		// A batch chunk in flight is rolled back and resumes at its stored progress; pending
		// last-use times are written.
		stopBG()
		<-bgDone
		log.Info("stopped")
		return nil
	}
	return cmd
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text")
}

// parsePrefixes parses comma-separated CIDRs or addresses.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// parsePublicURL parses the URL browsers reach keyhaven at: nil when empty, else an http or
// https URL with a host.
func parsePublicURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%q is not an http or https URL such as https://keyhaven.example.com", s)
	}
	return u, nil
}

// parseSchedule parses comma-separated positive durations.
func parseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive duration (such as 5s, 30m or 10h)", strings.TrimSpace(f))
		}
		out = append(out, d)
	}
	return out, nil
}

// formatSchedule writes a schedule as parseSchedule reads it.
func formatSchedule(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		s := d.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}
