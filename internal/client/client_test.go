package client_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/client"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestPagesAndProblems: All follows a list's pages to its end or to its max, and the API's
// problems read as "<title>: <detail> (<code>)" with each other invalid field on its own line,
// never with the token.
func TestPagesAndProblems(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	ctx := context.Background()
	c := client.New(e.URL, "acme", e.Acme.APIKey)
	for i := range 5 {
		if _, _, err := c.CreateUser(ctx, client.UserInput{Email: fmt.Sprintf("u%d@acme.test", i), Permissions: []string{"READ"}}); err != nil {
			t.Fatal(err)
		}
	}
	users := func(max int) *client.Page[client.User] {
		t.Helper()
		// Pages of 2 whatever All asks for, to make it follow cursors.
		p, err := client.All(max, func(cursor string, limit int) (*client.Page[client.User], error) {
			return c.Users(ctx, cursor, min(limit, 2))
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if all := users(0); len(all.Items) != 6 || len(all.Raw) != 6 || all.NextCursor != "" {
		t.Fatalf("all pages: %d items (%d raw), next %q; want the 6 users", len(all.Items), len(all.Raw), all.NextCursor)
	}
	if some := users(3); len(some.Items) != 3 || some.NextCursor == "" {
		t.Fatalf("max 3: %d items, next %q; want 3 and the cursor of the rest", len(some.Items), some.NextCursor)
	}

	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		want   string
	}{
		{"not found", func() error { _, _, err := c.APIKey(ctx, "nope"); return err }, 404,
			"Not Found: no API key named nope (not_found)"},
		{"invalid fields", func() error {
			_, _, err := c.CreateAPIKey(ctx, client.APIKeyInput{Name: "k", Permissions: []string{"READ"},
				Policy: client.Policy{RateLimit: &client.RateLimit{Limit: 0, PeriodSeconds: 1}, Credits: &client.Credits{Remaining: -1}}})
			return err
		}, 400, "Bad Request: invalid input: "},
		{"bad token", func() error {
			_, _, err := client.New(e.URL, "acme", "khk_not-a-key-at-all").Me(ctx)
			return err
		}, 401, "Unauthorized: "},
		{"no server", func() error {
			_, _, err := client.New("http://127.0.0.1:1", "acme", e.Acme.APIKey).Me(ctx)
			return err
		}, 0, "cannot reach keyhaven at http://127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || client.StatusOf(err) != tc.status || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), e.Acme.APIKey) {
				t.Fatalf("err = %v (status %d), want status %d and %q first", err, client.StatusOf(err), tc.status, tc.want)
			}
		})
	}
	_, _, err := c.CreateAPIKey(ctx, client.APIKeyInput{Name: "k", Permissions: []string{"READ"},
		Policy: client.Policy{RateLimit: &client.RateLimit{Limit: 0, PeriodSeconds: 1}, Credits: &client.Credits{Remaining: -1}}})
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "  ") {
		t.Fatalf("two invalid fields read as %q: want the second on a line of its own", err)
	}
}
