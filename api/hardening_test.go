package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/node"
)

// TestSlowHashesAreBounded: 120 concurrent device verifications with wrong answers run at
// most the configured number of argon2id hashes at once (each costs 19 MiB in production), and
// every answer is a verdict or a 503 with Retry-After, never a queue without end.
func TestSlowHashesAreBounded(t *testing.T) {
	e := apitest.NewNode(t, testdb.SQLite, func(c *node.Config) { c.HashSlots = 2 })
	contracts(t, e)
	createAccess(t, e, map[string]any{"contractId": "contract-001", "username": "chosen-device", "password": "a-chosen-password"})
	var wg sync.WaitGroup
	statuses := make(chan *apitest.Response, 120)
	for i := range 120 {
		// Distinct usernames, known and unknown: each wrong answer costs one argon2id check,
		// and no username reaches its own guessing limit.
		username := "chosen-device"
		if i > 0 {
			username = fmt.Sprintf("no-such-device-%d", i)
		}
		wg.Go(func() {
			statuses <- e.Do("POST", "/api/acme/access/verify", e.Acme.APIKey, map[string]string{"username": username, "password": "wrong-password-guess"})
		})
	}
	wg.Wait()
	close(statuses)
	for r := range statuses {
		switch {
		case r.Status == http.StatusOK:
		case r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") != "":
		default:
			t.Fatalf("status %d (Retry-After %q): %s", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	if peak := e.Svc.Hashes.Peak(); peak < 1 || peak > 2 {
		t.Fatalf("%d slow hashes ran at once, want at most 2", peak)
	}
}

// TestDeviceVerifyTimingTellsNoUsernameApart: every wrong answer costs exactly one argon2id
// check, whether the username is unknown, known with a chosen password or known with a
// generated one; only a right generated password skips it.
func TestDeviceVerifyTimingTellsNoUsernameApart(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			contracts(t, e)
			createAccess(t, e, map[string]any{"contractId": "contract-001", "username": "chosen-device", "password": "a-chosen-password"})
			generated := createAccess(t, e, map[string]any{"contractId": "contract-001", "username": "generated-device"})
			for _, c := range []struct {
				name, username, password string
				code                     string
				hashes                   uint64
			}{
				{"unknown username", "no-such-device", "a-chosen-password", "INVALID_CREDENTIALS", 1},
				{"chosen, wrong", "chosen-device", "wrong-password-1", "INVALID_CREDENTIALS", 1},
				{"generated, wrong", "generated-device", "wrong-password-1", "INVALID_CREDENTIALS", 1},
				{"chosen, right", "chosen-device", "a-chosen-password", "VALID", 1},
				{"generated, right", "generated-device", generated.Password, "VALID", 0},
			} {
				before := e.Svc.Hashes.Computed()
				if got := verify(t, e, c.username, c.password); got != c.code {
					t.Fatalf("%s: code %s, want %s", c.name, got, c.code)
				}
				if n := e.Svc.Hashes.Computed() - before; n != c.hashes {
					t.Errorf("%s: %d argon2id checks, want %d", c.name, n, c.hashes)
				}
			}
		})
	}
}

// TestControlCharactersInPasswords: passwords (device and user, single and batch) with NUL or
// other control characters are refused.
func TestControlCharactersInPasswords(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	contracts(t, e)
	key := e.Acme.APIKey
	for _, s := range []apitest.Scenario{
		{Name: "device password with NUL", Method: "POST", URL: "/api/acme/access", Token: key,
			Body: map[string]any{"contractId": "contract-001", "password": "twelve-chars\x00-and-more"}, ExpectedStatus: 400, ExpectedCode: "invalid_input",
			ExpectedContent: []string{"control characters"}, NotExpectedContent: []string{"twelve-chars"}},
		{Name: "batch item password with a control character", Method: "POST", URL: "/api/acme/access/batch", Token: key,
			Body:           map[string]any{"contractId": "contract-001", "accesses": []map[string]any{{"password": "twelve-chars\x1b-and-more"}}},
			ExpectedStatus: 400, ExpectedContent: []string{"accesses[0].password"}},
		{Name: "user password with a newline", Method: "POST", URL: "/api/acme/users", Token: key,
			Body: map[string]any{"email": "nl@acme.test", "password": "twelve-chars\n-and-more", "permissions": []string{}}, ExpectedStatus: 400},
		{Name: "a password with spaces and symbols is fine", Method: "POST", URL: "/api/acme/access", Token: key,
			Body: map[string]any{"contractId": "contract-001", "password": "correct horse €✓ battery"}, ExpectedStatus: 201},
	} {
		s.Run(t, e)
	}
}

// TestFailedLoginsAreAudited: a failed login is audited for a known and an unknown email
// alike, never with the password tried.
func TestFailedLoginsAreAudited(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	for _, email := range []string{"admin@acme.test", "nobody@acme.test"} {
		if r := e.Do("POST", "/api/acme/login", "", map[string]string{"email": email, "password": "wrong-password-123"}); r.Status != 401 {
			t.Fatalf("login %s: %d", email, r.Status)
		}
	}
	seen := map[string]bool{}
	for _, ev := range e.Audit("action=session.create&outcome=denied") {
		email, _ := ev.Detail["email"].(string)
		seen[email] = true
		if ev.Detail["password"] != nil {
			t.Fatalf("audit event holds a password: %+v", ev)
		}
	}
	if !seen["admin@acme.test"] || !seen["nobody@acme.test"] {
		t.Fatalf("denied logins audited for %v, want both emails", seen)
	}
}
