package console_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestSignInLimits fails console sign-ins from one network: wrong passwords limit their
// email, unknown emails limit the network for failures, and a right password of another
// email still signs in from there.
func TestSignInLimits(t *testing.T) {
	e := apitest.NewBehind(t, testdb.SQLite, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	e.CreateUser("bob@acme.test")
	signIn := func(from, email, password string) int {
		t.Helper()
		form := url.Values{"tenant": {"acme"}, "email": {email}, "password": {password}}
		req, _ := http.NewRequest("POST", e.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	const wrong = "wrong-password-123"
	for i := range 30 {
		from := fmt.Sprintf("2001:db8:7:7::%x", i) // one /64
		if st := signIn(from, "admin@acme.test", wrong); st != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i, st)
		}
		if st := signIn(from, fmt.Sprintf("nobody-%d@acme.test", i), wrong); st != http.StatusUnauthorized {
			t.Fatalf("unknown email %d: %d, want 401", i, st)
		}
	}
	for _, s := range []struct {
		name, from, email, password string
		want                        int
	}{
		{"guessed email, right password", "2001:db8:9::1", "admin@acme.test", e.Acme.AdminPassword, http.StatusTooManyRequests},
		{"unknown email from the network", "2001:db8:7:7::99", "nobody@acme.test", wrong, http.StatusTooManyRequests},
		{"another email, wrong password, from the network", "2001:db8:7:7::99", "bob@acme.test", wrong, http.StatusTooManyRequests},
		{"another email, right password, from the network", "2001:db8:7:7::99", "bob@acme.test", "correct-horse-battery", http.StatusSeeOther},
		{"unknown email from the next network", "2001:db8:7:8::1", "nobody@acme.test", wrong, http.StatusUnauthorized},
	} {
		if st := signIn(s.from, s.email, s.password); st != s.want {
			t.Errorf("%s: %d, want %d", s.name, st, s.want)
		}
	}
}
