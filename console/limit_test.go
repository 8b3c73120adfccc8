package console_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"keyhaven/api"
	"keyhaven/internal/apitest"
	"keyhaven/internal/testdb"
)

// TestSignInLimitPerNetwork fails console sign-ins from several addresses of one IPv6 /64:
// they share one budget, so another address of it is refused even the right password.
func TestSignInLimitPerNetwork(t *testing.T) {
	e := apitest.NewWith(t, testdb.SQLite, api.Options{FailuresPerMinute: 1, FailureBurst: 3,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	csrf := strings.Repeat("c", 32)
	signIn := func(from, password string) int {
		t.Helper()
		form := url.Values{"csrf": {csrf}, "tenant": {"acme"}, "email": {"admin@acme.test"}, "password": {password}}
		req, _ := http.NewRequest("POST", e.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		req.AddCookie(&http.Cookie{Name: "kh_csrf", Value: csrf})
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, from := range []string{"2001:db8:7:7::1", "2001:db8:7:7::2", "2001:db8:7:7:1:2:3:4"} {
		if st := signIn(from, "wrong-password-123"); st != http.StatusUnauthorized {
			t.Fatalf("wrong password from %s: %d, want 401", from, st)
		}
	}
	if st := signIn("2001:db8:7:7::99", e.Acme.AdminPassword); st != http.StatusTooManyRequests {
		t.Fatalf("right password from another address of the /64: %d, want 429", st)
	}
	if st := signIn("2001:db8:7:8::1", e.Acme.AdminPassword); st != http.StatusSeeOther {
		t.Fatalf("right password from the next /64: %d, want 303", st)
	}
}
