package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
)

func TestTenantLimits(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + testdb.SQLitePath(t)
	env := func(string) string { return "" }
	limits := func(args ...string) (string, error) {
		var out, errb strings.Builder
		err := run(ctx, append([]string{"tenant", "limits", "acme", "--db", dsn}, args...), env, &out, &errb)
		return strings.TrimSpace(out.String()), err
	}
	var out, errb strings.Builder
	if err := run(ctx, []string{"tenant", "create", "acme", "--admin-email", "a@acme.test", "--db", dsn}, env, &out, &errb); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // "" when the command must fail
	}{
		{"shows the defaults", nil, `{"maxApplications":10,"maxAccessKeysPerApplication":10,"maxApiKeys":1000,"accessTokenLifetime":300}`},
		{"sets the API key limit", []string{"--max-api-keys", "2"}, `{"maxApplications":10,"maxAccessKeysPerApplication":10,"maxApiKeys":2,"accessTokenLifetime":300}`},
		{"keeps it when another limit changes", []string{"--max-applications", "4"}, `{"maxApplications":4,"maxAccessKeysPerApplication":10,"maxApiKeys":2,"accessTokenLifetime":300}`},
		{"refuses a limit out of range", []string{"--max-api-keys", "100001"}, ""},
		{"shows what is set", nil, `{"maxApplications":4,"maxAccessKeysPerApplication":10,"maxApiKeys":2,"accessTokenLifetime":300}`},
		{"sets the access token lifetime", []string{"--access-token-lifetime", "900"}, `{"maxApplications":4,"maxAccessKeysPerApplication":10,"maxApiKeys":2,"accessTokenLifetime":900}`},
		{"refuses a lifetime past an hour", []string{"--access-token-lifetime", "3601"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := limits(tc.args...)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted: %s", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
	t.Run("the set limit holds", func(t *testing.T) {
		store, err := openStore(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		svc := keyhaven.NewService(store, slog.New(slog.DiscardHandler))
		u, _ := store.TenantByName(ctx, "acme")
		admin, err := store.UserByEmail(ctx, u.ID, "a@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		p := &keyhaven.Principal{TenantID: u.ID, TenantName: "acme", Kind: keyhaven.KindSession, UserID: admin.ID, Permissions: keyhaven.AllPermissions}
		// The bootstrap key is the first of two.
		if _, _, err := svc.CreateAPIKey(ctx, p, keyhaven.APIKeyInput{Name: "SECOND", Permissions: []string{"READ"}}); err != nil {
			t.Fatal(err)
		}
		_, _, err = svc.CreateAPIKey(ctx, p, keyhaven.APIKeyInput{Name: "THIRD", Permissions: []string{"READ"}})
		if keyhaven.ErrorCode(err) != keyhaven.ECONFLICT || keyhaven.ErrorReason(err) != "limit_reached" {
			t.Fatalf("third key: %v, want a conflict limit_reached", err)
		}
	})
}

// TestREADMETenantLimits: the README's row for `tenant limits` names every flag of the command.
func TestREADMETenantLimits(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `keyhaven tenant limits .*$").Find(readme)
	if row == nil {
		t.Fatal("README has no row for keyhaven tenant limits")
	}
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"tenant", "limits", "--help"}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^  (--[a-z-]+) `).FindAllStringSubmatch(errb.String(), -1)
	if len(flags) == 0 {
		t.Fatalf("no flags in the help: %s", errb.String())
	}
	for _, f := range flags {
		if f[1] != "--db" && !strings.Contains(string(row), f[1]) {
			t.Errorf("README's tenant limits row does not mention %s: %s", f[1], row)
		}
	}
}

// TestTenantRotateSigningKey: the command makes a new active signing key and keeps the old
// one listed for the tokens it signed.
func TestTenantRotateSigningKey(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + testdb.SQLitePath(t)
	env := func(string) string { return "" }
	var out, errb strings.Builder
	if err := run(ctx, []string{"tenant", "create", "acme", "--admin-email", "a@acme.test", "--db", dsn}, env, &out, &errb); err != nil {
		t.Fatal(err)
	}
	rotate := func(args ...string) (map[string]any, error) {
		var out, errb strings.Builder
		err := run(ctx, append([]string{"tenant", "rotate-signing-key", "--db", dsn, "--output", "json"}, args...), env, &out, &errb)
		var m map[string]any
		if err == nil {
			if err := json.Unmarshal([]byte(out.String()), &m); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
		}
		return m, err
	}
	first, err := rotate("acme")
	if err != nil || first["alg"] != "ES256" {
		t.Fatalf("rotate = %v, %v; want an ES256 key", first, err)
	}
	second, err := rotate("acme", "--alg", "EdDSA")
	if err != nil || second["alg"] != "EdDSA" || second["kid"] == first["kid"] {
		t.Fatalf("second rotate = %v, %v; want a new EdDSA key", second, err)
	}
	if _, err := rotate("nobody"); err == nil {
		t.Fatal("rotating an unknown tenant's key succeeded")
	}
	if _, err := rotate("acme", "--alg", "HS256"); err == nil {
		t.Fatal("rotating to HS256 succeeded")
	}
	store, err := openStore(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tn, _ := store.TenantByName(ctx, "acme")
	keys, err := store.SigningKeys(ctx, tn.ID, time.Time{})
	if err != nil || len(keys) != 2 || keys[0].ID != second["kid"] || !keys[0].RetiredAt.IsZero() || keys[1].ID != first["kid"] || keys[1].RetiredAt.IsZero() {
		t.Fatalf("stored keys = %+v, %v; want %v active, %v retired", keys, err, second["kid"], first["kid"])
	}
}
