package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestDatabaseUnavailable takes a running server's PostgreSQL database away (it stops
// accepting connections and its open ones are ended): calls that need the store answer 503
// with Retry-After and the problem code unavailable, never 500, and work again once the
// database is back.
func TestDatabaseUnavailable(t *testing.T) {
	dsn := testdb.PostgresDSN(t)
	e := apitest.New(t, testdb.PostgresAt(dsn))
	if r := e.Do("GET", "/api/acme/users", e.Acme.APIKey, nil); r.Status != http.StatusOK {
		t.Fatalf("before the outage: %d %s", r.Status, r.Body)
	}

	end := testdb.Outage(t, dsn)
	for _, s := range []struct {
		name, method, path, token string
		body                      any
	}{
		{"list users", "GET", "/api/acme/users", e.Acme.APIKey, nil},
		{"list applications", "GET", "/api/acme/applications", e.Acme.APIKey, nil},
		{"create an application", "POST", "/api/acme/applications", e.Acme.APIKey, map[string]any{"name": "during the outage"}},
		{"sign in", "POST", "/api/acme/login", "", map[string]string{"email": "admin@acme.test", "password": e.Acme.AdminPassword}},
		{"readiness", "GET", "/readyz", "", nil},
	} {
		t.Run(s.name, func(t *testing.T) {
			r := e.Do(s.method, s.path, s.token, s.body)
			if r.Status != http.StatusServiceUnavailable {
				t.Fatalf("%s %s with the database away: %d, want 503; body %s", s.method, s.path, r.Status, r.Body)
			}
			if got := r.Header.Get("Retry-After"); got == "" {
				t.Errorf("503 without Retry-After")
			}
			if got := r.JSON()["code"]; got != "unavailable" {
				t.Errorf("problem code %v, want unavailable", got)
			}
			if strings.Contains(string(r.Body), "kh_") || strings.Contains(string(r.Body), "connect") {
				t.Errorf("the problem tells internal detail: %s", r.Body)
			}
		})
	}

	end()
	eventually.Within(t, 30*time.Second, func() error {
		r := e.Do("GET", "/api/acme/users", e.Acme.APIKey, nil)
		if r.Status != http.StatusOK && r.Status != http.StatusServiceUnavailable {
			t.Fatalf("after the outage: %d %s, want 200", r.Status, r.Body)
		}
		if r.Status != http.StatusOK {
			return fmt.Errorf("after the outage: %d %s, want 200", r.Status, r.Body)
		}
		return nil
	})
}
