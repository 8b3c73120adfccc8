package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestBadFlags: every command refuses a flag value it cannot use, naming the flag, before it
// opens anything; none is silently replaced by a default.
func TestBadFlags(t *testing.T) {
	ctx := context.Background()
	// A database with a tenant, for the commands that need one to get as far as judging values.
	existing := "sqlite:" + testdb.SQLitePath(t)
	var out, errb strings.Builder
	if err := run(ctx, []string{"tenant", "create", "acme", "--admin-email", "a@acme.test", "--db", existing}, noEnv, &out, &errb); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		flag string // the flag the message must name
	}{
		{"serve cache size zero", []string{"serve", "--cache-size", "0"}, nil, "cache-size"},
		{"serve cache size not a number", []string{"serve", "--cache-size", "lots"}, nil, "cache-size"},
		{"serve cache size from the environment", []string{"serve"}, map[string]string{"KEYHAVEN_CACHE_SIZE": "0"}, "cache-size"},
		{"serve negative memory limit", []string{"serve", "--memory-limit-mb", "-1"}, nil, "memory-limit-mb"},
		{"serve memory limit beyond int64 bytes", []string{"serve", "--memory-limit-mb", "99999999999999"}, nil, "memory-limit-mb"},
		{"serve failures per minute zero", []string{"serve", "--failures-per-minute", "0"}, nil, "failures-per-minute"},
		{"serve failure burst zero", []string{"serve", "--failure-burst", "0"}, nil, "failure-burst"},
		{"serve session ttl zero", []string{"serve", "--session-ttl", "0s"}, nil, "session-ttl"},
		{"serve gc interval negative", []string{"serve", "--gc-interval", "-1m"}, nil, "gc-interval"},
		{"serve batch retention not a duration", []string{"serve", "--batch-retention", "a day"}, nil, "batch-retention"},
		{"serve batch lease zero", []string{"serve", "--batch-lease", "0"}, nil, "batch-lease"},
		{"serve batch lease from the environment", []string{"serve"}, map[string]string{"KEYHAVEN_BATCH_LEASE": "-5s"}, "batch-lease"},
		{"serve address without port", []string{"serve", "--addr", "localhost"}, nil, "addr"},
		{"serve address port out of range", []string{"serve", "--addr", "127.0.0.1:99999"}, nil, "addr"},
		{"serve debug address not an address", []string{"serve", "--debug-addr", "pprof"}, nil, "debug-addr"},
		{"serve log format", []string{"serve", "--log-format", "xml"}, nil, "log-format"},
		{"serve log level", []string{"serve", "--log-level", "loud"}, nil, "log-level"},
		{"serve unknown database", []string{"serve", "--db", "mysql://db/keyhaven"}, nil, "db"},
		{"serve sqlite without a path", []string{"serve", "--db", "sqlite:"}, nil, "db"},
		{"serve postgres URL", []string{"serve", "--db", "postgres://host:port/db"}, nil, "db"},
		{"serve bootstrap email", []string{"serve", "--bootstrap-email", "nobody"}, nil, "bootstrap-email"},
		{"serve trusted proxies", []string{"serve", "--trusted-proxies", "300.1.1.1/8"}, nil, "trusted-proxies"},
		{"serve metrics allow", []string{"serve", "--metrics-allow", "10.0.0.0/8,10.1.2.3/33"}, nil, "metrics-allow"},
		{"serve metrics allow from the environment", []string{"serve"}, map[string]string{"KEYHAVEN_METRICS_ALLOW": "prometheus.internal"}, "metrics-allow"},
		{"serve secret key", []string{"serve", "--secret-key", "c2hvcnQ="}, nil, "secret-key"},
		{"serve webhook allow list", []string{"serve", "--webhook-allow", "10.0.0.0/33"}, nil, "webhook-allow"},
		{"serve webhook allow host", []string{"serve"}, map[string]string{"KEYHAVEN_WEBHOOK_ALLOW": "hooks.example.com,not a host"}, "webhook-allow"},
		{"serve webhook retry schedule", []string{"serve", "--webhook-retry-schedule", "5s,soon"}, nil, "webhook-retry-schedule"},
		{"serve webhook retry schedule zero", []string{"serve"}, map[string]string{"KEYHAVEN_WEBHOOK_RETRY_SCHEDULE": "0s"}, "webhook-retry-schedule"},
		{"serve usage counting not a boolean", []string{"serve", "--usage-counting=maybe"}, nil, "usage-counting"},
		{"serve usage counting from the environment", []string{"serve"}, map[string]string{"KEYHAVEN_USAGE_COUNTING": "sometimes"}, "usage-counting"},
		{"migrate unknown database", []string{"migrate", "--db", "mysql://db/keyhaven"}, nil, "db"},
		{"tenant create output", []string{"tenant", "create", "beta", "--admin-email", "a@beta.test", "--output", "yaml"}, nil, "output"},
		{"tenant create database", []string{"tenant", "create", "beta", "--admin-email", "a@beta.test", "--db", "beta.db"}, nil, "db"},
		{"tenant limits negative", []string{"tenant", "limits", "acme", "--max-applications", "-5", "--db", existing}, nil, "max-applications"},
		{"tenant limits too large", []string{"tenant", "limits", "acme", "--max-api-keys", "100001", "--db", existing}, nil, "max-api-keys"},
		{"tenant limits not a number", []string{"tenant", "limits", "acme", "--max-access-keys", "ten", "--db", existing}, nil, "max-access-keys"},
		{"user reset-password output", []string{"user", "reset-password", "acme", "a@acme.test", "--output", "yaml", "--db", existing}, nil, "output"},
		{"backup database", []string{"backup", "--db", "mysql://db/keyhaven", "out.db"}, nil, "db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fresh := filepath.Join(dir, "keyhaven.db")
			args := tc.args
			if !hasFlag(args, "--db") && tc.env["KEYHAVEN_DB"] == "" {
				args = append(args, "--db", "sqlite:"+fresh)
			}
			getenv := func(k string) string { return tc.env[k] }
			var out, errb strings.Builder
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			if args[0] == "serve" {
				cancel() // a serve that wrongly starts stops at once
			}
			err := run(ctx, args, getenv, &out, &errb)
			if err == nil {
				t.Fatalf("keyhaven %s accepted; output %q", strings.Join(args, " "), out.String())
			}
			if !strings.Contains(err.Error(), tc.flag) {
				t.Fatalf("error %q does not name --%s", err, tc.flag)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("a refused command created %v", entries)
			}
		})
	}
	t.Run("the limits are unchanged", func(t *testing.T) {
		var out, errb strings.Builder
		if err := run(ctx, []string{"tenant", "limits", "acme", "--db", existing}, noEnv, &out, &errb); err != nil ||
			strings.TrimSpace(out.String()) != `{"maxApplications":10,"maxAccessKeysPerApplication":10,"maxApiKeys":1000,"accessTokenLifetime":300}` {
			t.Fatalf("limits after refused changes: %s %v", out.String(), err)
		}
	})
	t.Run("the program exits non-zero", func(t *testing.T) {
		mustFail(t, `invalid value "0" for flag --cache-size: must be at least 1`, "serve", "--cache-size", "0", "--db", "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
		mustFail(t, "--max-applications must be between 0 and 100000", "tenant", "limits", "acme", "--max-applications", "-5", "--db", existing)
	})
}

func noEnv(string) string { return "" }

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// TestURLCredentialsNotRepeated: a --url refused for holding a user's password or a query is
// not repeated whole in the error, which may end up in a log: the password and the query stay
// out of it, and the error still names the flag.
func TestURLCredentialsNotRepeated(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	secrets := []string{"hunter2", "khk_in_a_query"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"a password", []string{"apikey", "list", "--url", "https://ops:hunter2@keyhaven.example.com", "--token", "t"}, nil},
		{"a query", []string{"apikey", "list", "--url", "https://keyhaven.example.com/?token=khk_in_a_query", "--token", "t"}, nil},
		{"from the environment", []string{"app", "list", "--token", "t"}, map[string]string{"KEYHAVEN_URL": "https://ops:hunter2@keyhaven.example.com"}},
		{"at login", []string{"login", "--url", "https://ops:hunter2@keyhaven.example.com", "--with-token"}, nil},
		{"not http", []string{"apikey", "list", "--url", "ftp://ops:hunter2@keyhaven.example.com", "--token", "t"}, nil},
		{"no scheme", []string{"apikey", "list", "--url", "ops:hunter2@keyhaven.example.com", "--token", "t"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out, &errb)
			if err == nil {
				t.Fatalf("keyhaven %s accepted", strings.Join(tc.args, " "))
			}
			if !strings.Contains(err.Error(), "--url") {
				t.Errorf("error %q does not name --url", err)
			}
			for _, s := range secrets {
				if strings.Contains(err.Error()+out.String()+errb.String(), s) {
					t.Errorf("the error repeats %q: %v", s, err)
				}
			}
		})
	}
}

// TestSecretsGivenByMistakeNotRepeated: a token or password given on the command line to a
// switch that reads it from standard input (--with-token, --password-stdin), glued to it or
// after it, or to such a switch's variable, is refused without being repeated.
func TestSecretsGivenByMistakeNotRepeated(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	secrets := []string{"khk_given_by_mistake", "hunter2"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"a token after --with-token", []string{"login", "--with-token", "khk_given_by_mistake"}, nil},
		{"a token glued to --with-token", []string{"login", "--with-token=khk_given_by_mistake"}, nil},
		{"a token in the switch's variable", []string{"login"}, map[string]string{"KEYHAVEN_WITH_TOKEN": "khk_given_by_mistake"}},
		{"a password after --password-stdin", []string{"access", "create", "--contract", "c", "--password-stdin", "hunter2"}, nil},
		{"a password glued to --password-stdin", []string{"user", "update", "u", "--password-stdin=hunter2"}, nil},
		{"a password glued to --current-password", []string{"user", "update", "u", "--password-stdin", "--current-password=hunter2"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out, &errb)
			if err == nil {
				t.Fatalf("keyhaven %s accepted", strings.Join(tc.args, " "))
			}
			for _, s := range secrets {
				if strings.Contains(err.Error()+out.String()+errb.String(), s) {
					t.Errorf("the error repeats %q: %v", s, err)
				}
			}
		})
	}
}
