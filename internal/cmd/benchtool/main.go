// Command benchtool serves the verification benchmark (scripts/bench-verify.sh): it seeds a
// database with many API keys, runs the floor server that the benchmark compares keyhaven's
// verify against, and measures the SDK's offline verification of access tokens.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/postgres"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/sqlite"
	"keyhaven.dev/keyhaven/sqlstore"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool seed|floor|offline [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "seed":
		err = seed(os.Args[2:])
	case "floor":
		err = floor(os.Args[2:])
	case "offline":
		err = offline(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// floor serves the smallest useful JSON endpoint net/http can: the throughput ceiling any
// handler on this machine can reach.
func floor(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "address")
	fs.Parse(args)
	body := []byte(`{"valid":true,"code":"VALID"}` + "\n")
	return http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
}

// seed creates the tenant "bench" and n API keys in it, and writes the secrets of the first
// sample keys to out, one a line (the first line is the hot key).
func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	dsn := fs.String("db", "", "sqlite:PATH or postgres://...")
	n := fs.Int("keys", 1_000_000, "API keys to create")
	sample := fs.Int("sample", 100_000, "secrets to write out")
	out := fs.String("out", "keys.txt", "file for the sampled secrets")
	policies := fs.String("policies", "", "file for the secrets of keys with policies, one a line: NAME SECRET")
	fs.Parse(args)
	ctx := context.Background()
	var db *sqlstore.DB
	var err error
	if path, ok := strings.CutPrefix(*dsn, "sqlite:"); ok {
		db, err = sqlite.Open(ctx, path)
	} else {
		db, err = postgres.Open(ctx, *dsn)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	svc := keyhaven.NewService(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	created, err := svc.CreateTenant(ctx, "bench", "admin@bench.test")
	if err != nil {
		return err
	}
	p, err := svc.Authenticate(ctx, keyhaven.Use{Secret: created.APIKey})
	if err != nil {
		return err
	}
	if *policies != "" {
		// Through the service, before the bulk insert fills the tenant past its key limit.
		if err := seedPolicies(ctx, svc, p, *policies); err != nil {
			return err
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	start := time.Now()
	const perStatement, perTx = 500, 20_000
	perms := keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.WRITE).String()
	now := time.Now().UnixMicro()
	for done := 0; done < *n; {
		tx, err := db.SQL().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for end := min(done+perTx, *n); done < end; {
			rows := min(perStatement, end-done)
			var b strings.Builder
			b.WriteString(`INSERT INTO credentials (id, tenant_id, kind, owner_id, name, hash, display, permissions, active, created_at) VALUES `)
			vals := make([]any, 0, rows*10)
			for i := range rows {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, 'api_key', ?, ?, ?, ?, ?, TRUE, ?)")
				key := secret.Generate(secret.APIKey)
				if done+i < *sample {
					fmt.Fprintln(w, key)
				}
				vals = append(vals, keyhaven.NewID("key"), p.TenantID, p.UserID, fmt.Sprintf("BENCH_%d", done+i),
					secret.Hash(key), secret.Display(key), perms, now)
			}
			if _, err := tx.ExecContext(ctx, db.Rebind(b.String()), vals...); err != nil {
				tx.Rollback()
				return err
			}
			done += rows
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %d API keys in %v\n", *n, time.Since(start).Round(time.Millisecond))
	return f.Close()
}

// seedPolicies creates the keys whose policies the benchmark measures, through the service
// as any caller would, and writes their secrets to out: an IP allowlist of 20 ranges (the
// client's last) with a rate limit no run reaches, and credits no run uses up. It also makes
// the token endpoint's client, a key with no policies, whose line adds its id (the client id).
func seedPolicies(ctx context.Context, svc *keyhaven.Service, p *keyhaven.Principal, out string) error {
	var allow []string
	for i := range 19 {
		allow = append(allow, fmt.Sprintf("198.51.%d.0/24", i))
	}
	allow = append(allow, "10.0.0.0/8")
	keys := []struct {
		name   string
		policy keyhaven.PolicyInput
	}{
		{"allowlist_rate", keyhaven.PolicyInput{IPAllowlist: allow, RateLimit: &keyhaven.RateLimitInput{Limit: keyhaven.MaxRateLimit, PeriodSeconds: 60}}},
		{"credits", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Remaining: keyhaven.MaxCredits}}},
	}
	var b strings.Builder
	for _, k := range keys {
		_, key, err := svc.CreateAPIKey(ctx, p, keyhaven.APIKeyInput{Name: "POLICY_" + strings.ToUpper(k.name),
			Permissions: []string{"READ"}, Policy: k.policy})
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s\n", k.name, key)
	}
	c, key, err := svc.CreateAPIKey(ctx, p, keyhaven.APIKeyInput{Name: "TOKEN_CLIENT", Permissions: []string{"READ"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(&b, "token_client %s %s\n", key, c.ID)
	return os.WriteFile(out, []byte(b.String()), 0o600)
}
