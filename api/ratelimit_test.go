package api_test

import (
	"net/http"
	"net/netip"
	"testing"

	"keyhaven/api"
	"keyhaven/internal/apitest"
	"keyhaven/internal/testdb"
)

// TestFailureLimitPerNetwork fails sign-ins through a trusted proxy from many client
// addresses: an IPv6 client holds a whole /64, so its addresses share one budget; IPv4
// addresses each have their own; an IPv4-mapped IPv6 address is its IPv4 address.
func TestFailureLimitPerNetwork(t *testing.T) {
	e := apitest.NewWith(t, testdb.SQLite, api.Options{FailuresPerMinute: 1, FailureBurst: 3,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	login := func(from, password string) int {
		t.Helper()
		return e.Do("POST", "/api/acme/login", "", map[string]string{"email": "admin@acme.test", "password": password},
			"X-Forwarded-For", from).Status
	}
	const wrong = "wrong-password-123"
	right := e.Acme.AdminPassword

	for _, from := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:fffe"} {
		if st := login(from, wrong); st != http.StatusUnauthorized {
			t.Fatalf("wrong password from %s: %d, want 401", from, st)
		}
	}
	for _, s := range []struct {
		from string
		want int
	}{
		{"2001:db8:1:2:abcd::9", http.StatusTooManyRequests}, // another address of the /64
		{"2001:db8:1:2::1", http.StatusTooManyRequests},
		{"2001:db8:1:3::1", http.StatusOK}, // the next /64
	} {
		if st := login(s.from, right); st != s.want {
			t.Errorf("right password from %s after the /64's failures: %d, want %d", s.from, st, s.want)
		}
	}

	for range 3 {
		if st := login("198.51.100.1", wrong); st != http.StatusUnauthorized {
			t.Fatalf("wrong password from 198.51.100.1: %d, want 401", st)
		}
	}
	for _, s := range []struct {
		from string
		want int
	}{
		{"198.51.100.1", http.StatusTooManyRequests},
		{"::ffff:198.51.100.1", http.StatusTooManyRequests}, // the same IPv4 client
		{"198.51.100.2", http.StatusOK},                     // IPv4 stays per address
		{"::ffff:198.51.100.3", http.StatusOK},
	} {
		if st := login(s.from, right); st != s.want {
			t.Errorf("right password from %s after 198.51.100.1's failures: %d, want %d", s.from, st, s.want)
		}
	}
}
