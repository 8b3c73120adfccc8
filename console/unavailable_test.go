package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestDatabaseUnavailable takes the database away from a signed-in user: pages answer the
// error page with 503 and Retry-After, and the session is kept rather than ended.
func TestDatabaseUnavailable(t *testing.T) {
	dsn := testdb.PostgresDSN(t)
	e := apitest.New(t, testdb.PostgresAt(dsn))
	token := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "kh_session", Value: token})
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	if res := get("/applications"); res.StatusCode != http.StatusOK {
		t.Fatalf("before the outage: %d", res.StatusCode)
	}

	testdb.Outage(t, dsn)
	res := get("/applications")
	body := readAll(res)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a page with the database away: %d, Retry-After %q, want 503 with Retry-After",
			res.StatusCode, res.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, "Service Unavailable") {
		t.Errorf("not the error page: %s", body)
	}
	for _, c := range res.Cookies() {
		if c.Name == "kh_session" {
			t.Errorf("the outage ended the session: Set-Cookie %v", c)
		}
	}

	req, _ := http.NewRequest("POST", e.URL+"/login", strings.NewReader(url.Values{"tenant": {"acme"},
		"email": {"admin@acme.test"}, "password": {e.Acme.AdminPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("sign-in with the database away: %d, want 503", res.StatusCode)
	}
}
