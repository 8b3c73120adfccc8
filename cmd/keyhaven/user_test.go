package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestResetPasswordBesideServer runs `keyhaven user reset-password` as its own process on the
// database of a running server: the user's sessions, warm in the server's cache, stop working
// within seconds and the printed password logs in through the REST API.
func TestResetPasswordBesideServer(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + testdb.SQLitePath(t) },
		"postgres": func(t *testing.T) string { return testdb.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) { testResetPasswordBesideServer(t, dsn(t)) })
	}
}

func testResetPasswordBesideServer(t *testing.T, db string) {
	p := start(t, "--db", db)
	base := p.addr()
	key := field(p.output(), "bootstrap key")
	api := base + "/api/default"
	mustRequest(t, "POST", api+"/users", key, `{"email":"bob@default.test","password":"a-long-password-1","permissions":["READ"]}`, 201)
	login := func(password string) (int, string) {
		return request(t, "POST", api+"/login", "", fmt.Sprintf(`{"email":"bob@default.test","password":%q}`, password))
	}
	status, body := login("a-long-password-1")
	if status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	session := jsonField(t, body, "token")
	for range 3 { // warm the server's cache
		mustRequest(t, "GET", api+"/me", session, "", 200)
	}

	out, err := runCmd(t, "user", "reset-password", "default", "Bob@Default.test", "--output", "json", "--db", db)
	if err != nil {
		t.Fatalf("reset-password: %v\n%s", err, out)
	}
	var reset map[string]string
	if err := json.Unmarshal([]byte(out), &reset); err != nil {
		t.Fatalf("reset-password --output json printed %q: %v", out, err)
	}
	if len(reset) != 3 || reset["tenant"] != "default" || reset["email"] != "bob@default.test" || len(reset["password"]) < 20 {
		t.Fatalf("reset-password printed %v", reset)
	}
	eventually.Within(t, 10*time.Second, func() error {
		if status, _ := request(t, "GET", api+"/me", session, ""); status != 401 {
			return fmt.Errorf("the session from before the reset still answers %d", status)
		}
		return nil
	})
	if status, _ := login("a-long-password-1"); status != 401 {
		t.Fatalf("the old password: %d, want 401", status)
	}
	if status, body := login(reset["password"]); status != 200 || !strings.Contains(body, `"token":"khs_`) {
		t.Fatalf("the new password: %d %s", status, body)
	}

	// The text form says what happened and shows the password on a line of its own.
	out, err = runCmd(t, "user", "reset-password", "default", "bob@default.test", "--db", db)
	password := field(out, "new password")
	if err != nil || password == "" || !strings.Contains(out, "every session of the user has ended") {
		t.Fatalf("reset-password: %v\n%s", err, out)
	}
	if status, _ := login(password); status != 200 {
		t.Fatalf("the password printed as text: %d", status)
	}

	mustFail(t, `there is no tenant "nowhere"`, "user", "reset-password", "nowhere", "bob@default.test", "--db", db)
	mustFail(t, `tenant "default" has no user "nobody@default.test"`, "user", "reset-password", "default", "nobody@default.test", "--db", db)
	mustFail(t, "needs a TENANT and an EMAIL", "user", "reset-password", "default", "--db", db)
	p.stop()
	if strings.Contains(p.output(), password) || strings.Contains(p.output(), reset["password"]) {
		t.Fatal("a new password reached the server's log")
	}
}
