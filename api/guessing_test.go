package api_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/node"
	"keyhaven.dev/keyhaven/secret"
)

// TestGoodSecretAfterOthersFailures: one gateway address sends 200 wrong secrets (to verify,
// as REST bearers and as GraphQL bearers) and then good ones: every good secret still works,
// since secrets of 128+ random bits need no guessing limit.
func TestGoodSecretAfterOthersFailures(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	session := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
	for i := range 200 {
		wrong := secret.Generate(secret.APIKey)
		if v := verifyKey(t, e, "", map[string]any{"key": wrong}); v.Code != "NOT_FOUND" {
			t.Fatalf("wrong key %d: code %s, want NOT_FOUND", i, v.Code)
		}
		if i%4 == 0 {
			mustStatus(t, e.Do("GET", "/api/acme/me", wrong, nil), http.StatusUnauthorized)
			mustStatus(t, e.Do("POST", "/api/acme/graphql", wrong, map[string]any{"query": `{ listApiKeys { name } }`}), http.StatusUnauthorized)
		}
	}
	for _, tc := range []struct{ name, key string }{{"api key", e.Acme.APIKey}, {"session", session}} {
		t.Run(tc.name, func(t *testing.T) {
			if v := verifyKey(t, e, "", map[string]any{"key": tc.key}); v.Code != "VALID" {
				t.Errorf("verify: code %s, want VALID", v.Code)
			}
			if v := verifyKey(t, e, tc.key, map[string]any{"key": e.Acme.APIKey}); v.Code != "VALID" {
				t.Errorf("verify with the key as bearer: code %s, want VALID", v.Code)
			}
			if r := e.Do("GET", "/api/acme/me", tc.key, nil); r.Status != http.StatusOK {
				t.Errorf("REST /me: status %d, want 200: %s", r.Status, r.Body)
			}
			if r := e.Do("POST", "/api/acme/graphql", tc.key, map[string]any{"query": `{ listApiKeys { name } }`}); r.Status != http.StatusOK {
				t.Errorf("GraphQL: status %d, want 200: %s", r.Status, r.Body)
			}
		})
	}
}

// TestLoginLimitPerEmail: wrong passwords for one email limit that email, not the address
// they came from: another user's right password from the same address signs in.
func TestLoginLimitPerEmail(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	e.CreateUser("bob@acme.test")
	login := func(email, password string) *apitest.Response {
		t.Helper()
		return e.Do("POST", "/api/acme/login", "", map[string]string{"email": email, "password": password})
	}
	for i := range 30 {
		if r := login("admin@acme.test", "wrong-password-123"); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d, want 401", i, r.Status)
		}
	}
	for _, s := range []struct {
		name, email, password string
		want                  int
	}{
		{"limited email, wrong password", "admin@acme.test", "wrong-password-123", http.StatusTooManyRequests},
		{"limited email, right password", "admin@acme.test", e.Acme.AdminPassword, http.StatusTooManyRequests},
		{"limited email, other case", "ADMIN@acme.test", e.Acme.AdminPassword, http.StatusTooManyRequests},
		{"other email, right password", "bob@acme.test", "correct-horse-battery", http.StatusOK},
		{"other email, wrong password", "bob@acme.test", "wrong-password-123", http.StatusUnauthorized},
	} {
		r := login(s.email, s.password)
		if r.Status != s.want {
			t.Errorf("%s: status %d, want %d: %s", s.name, r.Status, s.want, r.Body)
		}
		if s.want == http.StatusTooManyRequests && (r.Header.Get("Retry-After") == "" || r.JSON()["code"] != "rate_limited") {
			t.Errorf("%s: Retry-After %q, body %s", s.name, r.Header.Get("Retry-After"), r.Body)
		}
	}
}

// TestUnknownEmailLimitPerNetwork signs in with unknown emails through a trusted proxy: they
// count against the client's network (an IPv6 /64, an IPv4 address, an IPv4-mapped address as
// its IPv4 address), and past its budget only failures are refused there. A right password
// from that network still signs in, and a wrong one is refused exactly like an unknown email.
func TestUnknownEmailLimitPerNetwork(t *testing.T) {
	e := apitest.NewBehind(t, testdb.SQLite, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	n := 0
	login := func(from, email, password string) int {
		t.Helper()
		return e.Do("POST", "/api/acme/login", "", map[string]string{"email": email, "password": password},
			"X-Forwarded-For", from).Status
	}
	unknown := func() string { n++; return fmt.Sprintf("nobody-%d@acme.test", n) }
	const wrong = "wrong-password-123"
	for _, net := range []struct {
		addrs         []string // take turns failing
		same, another string
	}{
		{[]string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:fffe"}, "2001:db8:1:2:abcd::9", "2001:db8:1:3::1"},
		{[]string{"198.51.100.1"}, "::ffff:198.51.100.1", "198.51.100.2"},
	} {
		for i := range 30 {
			from := net.addrs[i%len(net.addrs)]
			if st := login(from, unknown(), wrong); st != http.StatusUnauthorized {
				t.Fatalf("unknown email %d from %s: status %d, want 401", i, from, st)
			}
		}
		for _, s := range []struct {
			name, from, email, password string
			want                        int
		}{
			{"unknown email", net.same, unknown(), wrong, http.StatusTooManyRequests},
			{"known email, wrong password", net.same, "admin@acme.test", wrong, http.StatusTooManyRequests},
			{"known email, right password", net.same, "admin@acme.test", e.Acme.AdminPassword, http.StatusOK},
			{"unknown email from another network", net.another, unknown(), wrong, http.StatusUnauthorized},
		} {
			if st := login(s.from, s.email, s.password); st != s.want {
				t.Errorf("%s from %s after %v failed: status %d, want %d", s.name, s.from, net.addrs, st, s.want)
			}
		}
	}
}

// TestDeviceVerifyLimitPerUsername: wrong passwords for one device username limit that
// username, right password included, and no other.
func TestDeviceVerifyLimitPerUsername(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	contracts(t, e)
	a := createAccess(t, e, map[string]any{"contractId": "contract-001", "username": "device-a", "password": "a-chosen-password"})
	b := createAccess(t, e, map[string]any{"contractId": "contract-001", "username": "device-b", "password": "b-chosen-password"})
	for i := range 30 {
		if c := verify(t, e, a.Username, "wrong-password-123"); c != "INVALID_CREDENTIALS" {
			t.Fatalf("wrong password %d: code %s", i, c)
		}
	}
	r := e.Do("POST", "/api/acme/access/verify", e.Acme.APIKey, map[string]string{"username": a.Username, "password": a.Password})
	if r.Status != http.StatusTooManyRequests || r.JSON()["code"] != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Errorf("right password of the guessed username: status %d, want 429 rate_limited: %s", r.Status, r.Body)
	}
	if c := verify(t, e, b.Username, b.Password); c != "VALID" {
		t.Errorf("another username: code %s, want VALID", c)
	}
	e.Clock.Advance(2 * time.Second)
	if c := verify(t, e, a.Username, a.Password); c != "VALID" {
		t.Errorf("after the budget refilled: code %s, want VALID", c)
	}
}

// TestDeviceGuessesAtOnce: wrong passwords for one username sent at once are checked no more
// often than the username's budget allows; the rest are refused before any check.
func TestDeviceGuessesAtOnce(t *testing.T) {
	e := apitest.NewNode(t, testdb.SQLite, func(c *node.Config) {
		c.FailuresPerMinute, c.FailureBurst = 1, 10
		c.PasswordParams = secret.Argon2Params{Memory: 4 << 10, Time: 2, Threads: 1} // a few ms a check
		c.HashSlots = 64                                                             // none shed: every check waits its turn
	})
	contracts(t, e)
	a := createAccess(t, e, map[string]any{"contractId": "contract-001", "username": "device-a", "password": "a-chosen-password"})
	const n = 40
	codes := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := e.Do("POST", "/api/acme/access/verify", e.Acme.APIKey, map[string]string{"username": a.Username, "password": "wrong-password-123"})
			if r.Status == http.StatusTooManyRequests {
				codes <- "429"
				return
			}
			codes <- r.JSON()["code"].(string)
		})
	}
	wg.Wait()
	close(codes)
	count := map[string]int{}
	for c := range codes {
		count[c]++
	}
	// The node's clock stands still, so the budget does not refill meanwhile.
	if c := count["INVALID_CREDENTIALS"]; c != 10 || c+count["429"] != n {
		t.Fatalf("answers to %d wrong passwords at once: %v, want the budget's 10 checked and the rest 429", n, count)
	}
}

// TestCurrentPasswordGuessing: wrong current passwords given to change one's own password
// count against the user's sign-in budget, so that a stolen session cannot guess the password
// it would need to take the account over; past it, the right one is refused too, and so is
// signing in as the user.
func TestCurrentPasswordGuessing(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	admin := userID(t, e, e.Acme.APIKey)
	session := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
	change := func(current string) *apitest.Response {
		return e.Do("PATCH", "/api/acme/users/"+admin, session, map[string]any{"password": "a-new-long-password", "currentPassword": current})
	}
	for i := range 30 {
		if r := change(fmt.Sprintf("guess-number-%d", i)); r.Status != http.StatusForbidden {
			t.Fatalf("wrong current password %d: %d, want 403", i, r.Status)
		}
	}
	if r := change(e.Acme.AdminPassword); r.Status != http.StatusTooManyRequests || r.JSON()["code"] != "rate_limited" {
		t.Errorf("right current password after 30 wrong ones: %d %s, want 429 rate_limited", r.Status, r.Body)
	}
	if r := e.Do("POST", "/api/acme/login", "", map[string]string{"email": "admin@acme.test", "password": e.Acme.AdminPassword}); r.Status != http.StatusTooManyRequests {
		t.Errorf("signing in after 30 wrong current passwords: %d, want 429", r.Status)
	}
	if r := e.Do("GET", "/api/acme/me", session, nil); r.Status != http.StatusOK {
		t.Errorf("the session itself: %d, want 200", r.Status)
	}
}
