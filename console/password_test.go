package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestChangeOwnPassword changes the signed-in user's password on the console's page: a wrong
// current password or a mistyped repetition is refused on the page; a change keeps the
// console's session signed in, ends the user's other sessions, and only the new password
// signs in from then on.
func TestChangeOwnPassword(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testChangeOwnPassword(t, apitest.New(t, open)) })
	}
}

func testChangeOwnPassword(t *testing.T, e *apitest.Env) {
	u, _ := url.Parse(e.URL)
	v := newVisitor(t, u.Host, e.URL)
	v.signIn(e.Acme.AdminPassword)
	other := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
	const next = "a-brand-new-passphrase"

	if _, page := v.do("GET", "/applications", nil); !strings.Contains(page, `href="/password"`) {
		t.Fatal("the navigation has no link to the password page")
	}
	if res, page := v.do("GET", "/password", nil); res.StatusCode != http.StatusOK || !strings.Contains(page, `autocomplete="current-password"`) {
		t.Fatalf("GET /password: %d, want the form", res.StatusCode)
	}
	for _, s := range []struct {
		name                   string
		current, new, repeated string
		want                   int
		message                string
	}{
		{"wrong current password", "not-the-password", next, next, http.StatusForbidden, "the current password is wrong"},
		{"repetition differs", e.Acme.AdminPassword, next, next + "x", http.StatusBadRequest, "do not match"},
		{"new password too short", e.Acme.AdminPassword, "short", "short", http.StatusBadRequest, "New password: must be at least 12 characters"},
	} {
		t.Run(s.name, func(t *testing.T) {
			res, page := v.do("POST", "/password", url.Values{"current": {s.current}, "new": {s.new}, "confirm": {s.repeated}})
			if res.StatusCode != s.want || !strings.Contains(page, s.message) || !strings.Contains(page, `role="alert"`) {
				t.Fatalf("status %d, want %d with %q: %s", res.StatusCode, s.want, s.message, page)
			}
			if strings.Contains(page, s.current) || strings.Contains(page, s.new) {
				t.Fatal("the page shows a password sent")
			}
			if r := e.Do("GET", "/api/acme/me", other, nil); r.Status != http.StatusOK {
				t.Fatalf("another session after a refused change: %d, want 200", r.Status)
			}
		})
	}

	res, page := v.do("POST", "/password", url.Values{"current": {e.Acme.AdminPassword}, "new": {next}, "confirm": {next}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Your password was changed") {
		t.Fatalf("change: status %d: %s", res.StatusCode, page)
	}
	if res, _ := v.do("GET", "/applications", nil); res.StatusCode != http.StatusOK {
		t.Errorf("the console's session after the change: %d, want 200", res.StatusCode)
	}
	if r := e.Do("GET", "/api/acme/me", other, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("another session after the change: %d, want 401", r.Status)
	}
	login := func(password string) int {
		return e.Do("POST", "/api/acme/login", "", map[string]string{"email": "admin@acme.test", "password": password}).Status
	}
	if st := login(e.Acme.AdminPassword); st != http.StatusUnauthorized {
		t.Errorf("sign-in with the old password: %d, want 401", st)
	}
	if st := login(next); st != http.StatusOK {
		t.Errorf("sign-in with the new password: %d, want 200", st)
	}
}
