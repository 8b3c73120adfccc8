package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// The management commands are tested as people and scripts use them: the real binary, built
// once per test run, against a real server process on SQLite, with the login saved under a
// temporary home.

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// binary builds the keyhaven program once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "keyhaven-cli-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "keyhaven")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// cliUser is a person at a shell: a home of their own and every output they were shown.
type cliUser struct {
	t       *testing.T
	bin     string
	home    string
	env     []string
	mu      sync.Mutex
	outputs []string
}

func newCLIUser(t *testing.T, env ...string) *cliUser {
	home := t.TempDir()
	u := &cliUser{t: t, bin: binary(t), home: home}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYHAVEN_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			u.env = append(u.env, kv)
		}
	}
	u.env = append(u.env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	u.env = append(u.env, env...)
	return u
}

// configFile is where the user's login is saved.
func (u *cliUser) configFile() string {
	return filepath.Join(u.home, ".config", "keyhaven", "config.json")
}

// run runs keyhaven with args and stdin; it returns stdout, stderr and whether it exited 0.
func (u *cliUser) run(stdin string, args ...string) (string, string, bool) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.bin, args...)
	cmd.Env = u.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		u.t.Fatalf("keyhaven %s still ran after a minute:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		u.t.Fatal(err)
	}
	u.mu.Lock()
	u.outputs = append(u.outputs, stdout.String(), stderr.String())
	u.mu.Unlock()
	return stdout.String(), stderr.String(), err == nil
}

// ok runs a command that must succeed and returns its stdout.
func (u *cliUser) ok(stdin string, args ...string) string {
	u.t.Helper()
	out, errOut, ok := u.run(stdin, args...)
	if !ok {
		u.t.Fatalf("keyhaven %s failed:\n%s%s", strings.Join(args, " "), out, errOut)
	}
	return out
}

// json runs a command with --output json that must succeed and decodes its one JSON value.
func (u *cliUser) json(args ...string) map[string]any {
	u.t.Helper()
	out := u.ok("", append(args, "--output", "json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	var v map[string]any
	if err := dec.Decode(&v); err != nil || dec.More() {
		u.t.Fatalf("keyhaven %s --output json printed %q, want one JSON object (%v)", strings.Join(args, " "), out, err)
	}
	return v
}

// fail runs a command that must exit non-zero, saying every one of want on stderr.
func (u *cliUser) fail(want []string, args ...string) string {
	u.t.Helper()
	return u.failWith("", want, args...)
}

// failWith is fail with stdin.
func (u *cliUser) failWith(stdin string, want []string, args ...string) string {
	u.t.Helper()
	out, errOut, ok := u.run(stdin, args...)
	if ok {
		u.t.Fatalf("keyhaven %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			u.t.Fatalf("keyhaven %s said:\n%s\nwant it to say %q", strings.Join(args, " "), errOut, w)
		}
	}
	return errOut
}

// neverShown fails if any output the user was shown holds one of secrets.
func (u *cliUser) neverShown(secrets ...string) {
	u.t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range secrets {
		for _, out := range u.outputs {
			if s != "" && strings.Contains(out, s) {
				u.t.Fatalf("a credential the user logged in with was printed:\n%s", out)
			}
		}
	}
}

// items returns the items of a list printed as JSON.
func items(t *testing.T, v map[string]any) []map[string]any {
	t.Helper()
	raw, ok := v["items"].([]any)
	if !ok {
		t.Fatalf("no items in %v", v)
	}
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = it.(map[string]any)
	}
	return out
}

// secretLine finds the labelled line a secret is shown on, in text output.
func secretLine(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + label + `:\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "is shown only now") {
		t.Fatalf("no labelled %s shown once in:\n%s", label, out)
	}
	return m[1]
}

func str(v any) string { s, _ := v.(string); return s }

// TestCLI drives the management commands against a real server: login with a key, then API
// keys, applications, access keys, users, offerings, contracts, accesses and batches, in text
// and in JSON, and their errors; the credential logged in with is never printed.
func TestCLI(t *testing.T) {
	p := start(t, "--db", "sqlite:"+testdb.SQLitePath(t))
	url := p.addr()
	key := field(p.output(), "bootstrap key")
	adminPassword := field(p.output(), "admin password")
	u := newCLIUser(t)

	t.Run("not logged in", func(t *testing.T) {
		u.fail([]string{"not logged in", "keyhaven login"}, "apikey", "list")
	})

	t.Run("login with a token", func(t *testing.T) {
		_, said, ok := u.run(key+"\n", "login", "--url", url, "--with-token")
		if !ok || !strings.Contains(said, "Logged in to "+url) || !strings.Contains(said, `API key "bootstrap"`) {
			t.Fatalf("login said %q", said)
		}
		fi, err := os.Stat(u.configFile())
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("config file: %v, mode %v; want 0600", err, fi.Mode())
		}
		if di, err := os.Stat(filepath.Dir(u.configFile())); err != nil || di.Mode().Perm() != 0o700 {
			t.Fatalf("config directory: %v, mode %v; want 0700", err, di.Mode())
		}
		var saved config
		b, _ := os.ReadFile(u.configFile())
		if err := json.Unmarshal(b, &saved); err != nil || saved != (config{URL: url, Tenant: "default", Token: key}) {
			t.Fatalf("saved %s (%v)", b, err)
		}
		u.failWith("khk_not_a_key\n", []string{"the credential was refused, nothing is saved: Unauthorized"}, "login", "--with-token", "--url", url)
		u.fail([]string{"--with-token reads one token from standard input, and found none"}, "login", "--with-token", "--url", url)
		if b2, _ := os.ReadFile(u.configFile()); !bytes.Equal(b, b2) {
			t.Fatal("a refused login changed the saved one")
		}
	})

	t.Run("API keys", func(t *testing.T) {
		k := u.json("apikey", "create", "billing_sync", "--permissions", "READ,WRITE", "--rate-limit", "100/1m",
			"--meta", `{"plan":"gold"}`, "--ip-allowlist", "127.0.0.1,::1")
		secret := str(k["key"])
		if !strings.HasPrefix(secret, "khk_") || k["name"] != "billing_sync" || fmt.Sprint(k["permissions"]) != "[READ WRITE]" ||
			fmt.Sprint(k["rateLimit"]) != "map[limit:100 periodSeconds:60]" || fmt.Sprint(k["meta"]) != "map[plan:gold]" {
			t.Fatalf("created %v", k)
		}
		if status, _ := request(t, "GET", url+"/api/default/me", secret, ""); status != 200 {
			t.Fatalf("the created key: %d", status)
		}
		text := u.ok("", "apikey", "create", "reporting", "--permissions", "READ", "--expires-at", "30d")
		if s := secretLine(t, text, "key"); !strings.HasPrefix(s, "khk_") || !strings.Contains(text, "name:") {
			t.Fatalf("created in text:\n%s", text)
		}

		list := items(t, u.json("apikey", "list"))
		if len(list) != 3 || list[0]["name"] == nil || list[0]["key"] != nil {
			t.Fatalf("listed %v", list)
		}
		page := u.json("apikey", "list", "--limit", "2")
		if len(items(t, page)) != 2 || str(page["nextCursor"]) == "" {
			t.Fatalf("a list cut by --limit: %v", page)
		}
		table := u.ok("", "apikey", "list")
		if !regexp.MustCompile(`(?m)^NAME\s+KEY\s+PERMISSIONS`).MatchString(table) || !regexp.MustCompile(`(?m)^billing_sync\s+khk_`).MatchString(table) {
			t.Fatalf("the table:\n%s", table)
		}
		if got := u.json("apikey", "get", "billing_sync"); got["id"] != k["id"] || got["key"] != nil {
			t.Fatalf("get %v", got)
		}

		rotated := u.json("apikey", "rotate", "billing_sync")
		if s := str(rotated["key"]); !strings.HasPrefix(s, "khk_") || s == secret || rotated["id"] != k["id"] {
			t.Fatalf("rotated %v", rotated)
		}
		if status, _ := request(t, "GET", url+"/api/default/me", secret, ""); status != 401 {
			t.Fatalf("the old secret after a rotation without grace: %d", status)
		}
		text = u.ok("", "apikey", "rotate", "billing_sync", "--grace-period", "1h")
		if s := secretLine(t, text, "key"); s == str(rotated["key"]) || !strings.Contains(text, "works for 1h0m0s more") {
			t.Fatalf("rotated in text:\n%s", text)
		}

		updated := u.json("apikey", "update", "billing_sync", "--active=false", "--credits", "5", "--refill", "10/DAILY", "--rate-limit", "none")
		if updated["active"] != false || updated["rateLimit"] != nil || fmt.Sprint(updated["credits"]) != "map[refill:map[amount:10 interval:DAILY] remaining:5]" ||
			fmt.Sprint(updated["permissions"]) != "[READ WRITE]" {
			t.Fatalf("updated %v", updated)
		}
		if out := u.ok("", "apikey", "delete", "billing_sync"); !strings.Contains(out, `Deleted API key "billing_sync"`) {
			t.Fatalf("delete said %q", out)
		}
		u.fail([]string{`keyhaven: Not Found: no API key named billing_sync (not_found)`}, "apikey", "get", "billing_sync")
	})

	t.Run("invalid input names the fields", func(t *testing.T) {
		said := u.fail([]string{"keyhaven: Bad Request: ", "(invalid_input)", "rateLimit.limit", "credits.remaining"},
			"apikey", "create", "bad_key", "--permissions", "READ", "--rate-limit", "0/1s", "--credits", "-1")
		if n := strings.Count(said, "\n"); n != 2 {
			t.Fatalf("want the message and one more field on a line of its own:\n%s", said)
		}
		u.fail([]string{"invalid value", "--rate-limit", "LIMIT/PERIOD"}, "apikey", "create", "k", "--permissions", "READ", "--rate-limit", "lots")
	})

	var appID string
	t.Run("applications and access keys", func(t *testing.T) {
		app := u.json("app", "create", "billing", "--description", "the billing service")
		appID = str(app["id"])
		if !strings.HasPrefix(appID, "app_") || app["status"] != "ACTIVE" {
			t.Fatalf("created %v", app)
		}
		if table := u.ok("", "app", "list"); !strings.Contains(table, appID) || !strings.Contains(table, "the billing service") {
			t.Fatalf("the table:\n%s", table)
		}
		if got := u.json("app", "update", appID, "--description", "billing, renamed"); got["description"] != "billing, renamed" || got["name"] != "billing" {
			t.Fatalf("updated %v", got)
		}
		u.fail([]string{"--app ID"}, "accesskey", "list")

		ak := u.json("accesskey", "create", "ci", "--app", appID, "--scopes", "READ", "--expires-at", "2099-01-01")
		keyID, secret := str(ak["id"]), str(ak["key"])
		if !strings.HasPrefix(secret, "kha_") || fmt.Sprint(ak["scopes"]) != "[READ]" || ak["expiresAt"] != "2099-01-01T00:00:00Z" {
			t.Fatalf("created %v", ak)
		}
		if list := items(t, u.json("accesskey", "list", "--app", appID)); len(list) != 1 || list[0]["id"] != keyID {
			t.Fatalf("listed %v", list)
		}
		if got := u.json("accesskey", "get", keyID, "--app", appID); got["name"] != "ci" || got["key"] != nil {
			t.Fatalf("get %v", got)
		}
		text := u.ok("", "accesskey", "rotate", keyID, "--app", appID)
		rotated := secretLine(t, text, "key")
		if !strings.HasPrefix(rotated, "kha_") || rotated == secret {
			t.Fatalf("rotated:\n%s", text)
		}
		if status, _ := request(t, "GET", url+"/api/default/me", rotated, ""); status != 200 {
			t.Fatalf("the rotated access key: %d", status)
		}
		if got := u.json("accesskey", "update", keyID, "--app", appID, "--name", "ci-2", "--meta", `{"team":"ops"}`); got["name"] != "ci-2" || fmt.Sprint(got["meta"]) != "map[team:ops]" {
			t.Fatalf("updated %v", got)
		}
		if got := u.json("accesskey", "revoke", keyID, "--app", appID); got["status"] != "REVOKED" {
			t.Fatalf("revoked %v", got)
		}
		if status, _ := request(t, "GET", url+"/api/default/me", rotated, ""); status != 401 {
			t.Fatalf("a revoked access key: %d", status)
		}
		if list := items(t, u.json("accesskey", "list", "--app", appID)); len(list) != 0 {
			t.Fatalf("a revoked key listed: %v", list)
		}
		if got := u.json("app", "revoke", appID); got["status"] != "REVOKED" {
			t.Fatalf("revoked %v", got)
		}
		u.fail([]string{"Not Found", "(not_found)"}, "app", "get", "app_06bq5xk2hz1f8m3v9c4r7t0w")
	})

	t.Run("users, and what a narrow one may not do", func(t *testing.T) {
		created := u.json("user", "create", "ops@example.com", "--permissions", "READ,KEY_MANAGEMENT")
		if len(str(created["password"])) < 20 || created["email"] != "ops@example.com" {
			t.Fatalf("created %v", created)
		}
		out := u.ok("chosen-password-1\n", "user", "create", "reader@example.com", "--permissions", "READ", "--password-stdin")
		if strings.Contains(out, "chosen-password-1") || strings.Contains(out, "shown only now") {
			t.Fatalf("a chosen password was shown:\n%s", out)
		}
		if list := u.json("user", "list"); len(items(t, list)) != 3 {
			t.Fatalf("listed %v", list)
		}
		if got := u.json("user", "get", "ops@example.com"); got["id"] != created["id"] {
			t.Fatalf("get by email: %v", got)
		}
		if got := u.json("user", "update", str(created["id"]), "--permissions", "READ"); fmt.Sprint(got["permissions"]) != "[READ]" {
			t.Fatalf("updated %v", got)
		}

		reader := newCLIUser(t)
		if _, said, ok := reader.run("chosen-password-1\n", "login", "--url", url, "--email", "reader@example.com"); !ok || !strings.Contains(said, "with a session") {
			t.Fatalf("login with a password: %s", said)
		}
		session := savedToken(t, reader)
		if !strings.HasPrefix(session, "khs_") {
			t.Fatalf("saved %q, want a session token", session)
		}
		reader.fail([]string{"keyhaven: Forbidden: ", "(missing_permission)"}, "apikey", "create", "nope", "--permissions", "READ")
		if _, said, ok := reader.run("", "logout"); !ok || !strings.Contains(said, "Logged out") {
			t.Fatalf("logout: %s", said)
		}
		if status, _ := request(t, "GET", url+"/api/default/me", session, ""); status != 401 {
			t.Fatalf("the session after logout: %d", status)
		}
		if savedToken(t, reader) != "" {
			t.Fatal("logout kept the token")
		}
		reader.neverShown(session, "chosen-password-1")

		if out := u.ok("", "user", "delete", "ops@example.com"); !strings.Contains(out, "Deleted user ops@example.com") {
			t.Fatalf("delete said %q", out)
		}
		u.fail([]string{"Not Found"}, "user", "get", str(created["id"]))
	})

	t.Run("offerings, contracts and accesses", func(t *testing.T) {
		if got := u.json("offering", "create", "Gold", "--id", "gold", "--access-validity-days", "30"); got["id"] != "gold" {
			t.Fatalf("offering %v", got)
		}
		if list := u.json("offering", "list"); len(items(t, list)) != 1 {
			t.Fatalf("offerings %v", list)
		}
		c := u.json("contract", "create", "contract-001", "--offering", "gold", "--customer", "Acme Ltd", "--start", "2020-01-01", "--end", "2099-12-31")
		if c["status"] != "ACTIVE" || c["startDate"] != "2020-01-01T00:00:00Z" || c["customerName"] != "Acme Ltd" {
			t.Fatalf("contract %v", c)
		}
		u.fail([]string{"endDate: must be after startDate (invalid_input)"}, "contract", "create", "c-bad", "--offering", "gold",
			"--start", "2030-01-01", "--end", "2020-01-01")
		u.json("contract", "create", "contract-002", "--offering", "gold", "--start", "2020-01-01", "--end", "2099-12-31")
		if list := items(t, u.json("contract", "list", "--status", "ACTIVE")); len(list) != 2 {
			t.Fatalf("contracts %v", list)
		}
		if got := u.json("contract", "update", "contract-002", "--status", "SUSPENDED"); got["status"] != "SUSPENDED" {
			t.Fatalf("updated %v", got)
		}
		if got := u.json("contract", "get", "contract-002"); got["status"] != "SUSPENDED" {
			t.Fatalf("get %v", got)
		}

		a := u.json("access", "create", "--contract", "contract-001", "--username", "dev-1", "--device-name", "sensor-1")
		password := str(a["password"])
		if a["username"] != "dev-1" || len(password) < 20 {
			t.Fatalf("access %v", a)
		}
		verify := func(want string) {
			t.Helper()
			_, body := request(t, "POST", url+"/api/default/access/verify", key, fmt.Sprintf(`{"username":"dev-1","password":%q}`, password))
			if jsonField(t, body, "code") != want {
				t.Fatalf("verify: %s, want %s", body, want)
			}
		}
		verify("VALID")
		if list := items(t, u.json("access", "list", "--contract", "contract-001")); len(list) != 1 || list[0]["password"] != nil {
			t.Fatalf("accesses %v", list)
		}
		if got := u.json("access", "get", str(a["id"])); got["password"] != nil || got["deviceName"] != "sensor-1" {
			t.Fatalf("get %v", got)
		}
		if got := u.json("access", "update", str(a["id"]), "--status", "SUSPENDED"); got["status"] != "SUSPENDED" {
			t.Fatalf("updated %v", got)
		}
		verify("SUSPENDED")
		u.fail([]string{"Conflict"}, "access", "create", "--contract", "contract-001", "--username", "dev-1")
	})

	t.Run("batches", func(t *testing.T) {
		cmd := exec.Command(u.bin, "batch", "create", "--contract", "contract-001", "--count", "3", "--wait", "--output", "json")
		cmd.Env = u.env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("batch create --wait: %v\n%s", err, stderr.String())
		}
		var task struct {
			ID, State                     string
			Requested, Processed, Created int
			Accesses                      []struct{ Username, Password string }
			NextCursor                    *string
		}
		if err := json.Unmarshal(stdout.Bytes(), &task); err != nil {
			t.Fatalf("batch create --wait --output json printed %q: %v", stdout.String(), err)
		}
		if task.State != "DONE" || task.Created != 3 || len(task.Accesses) != 3 || task.Accesses[2].Password == "" || task.NextCursor != nil {
			t.Fatalf("batch %+v", task)
		}
		if !strings.Contains(stderr.String(), "batch "+task.ID+": DONE, 3 of 3 processed") {
			t.Fatalf("no progress lines on stderr:\n%s", stderr.String())
		}
		_, body := request(t, "POST", url+"/api/default/access/verify", key,
			fmt.Sprintf(`{"username":%q,"password":%q}`, task.Accesses[0].Username, task.Accesses[0].Password))
		if jsonField(t, body, "code") != "VALID" {
			t.Fatalf("a batch access: %s", body)
		}

		text := u.ok(`[{"username":"dev-batch-1"},{"username":"dev-1"},{"deviceName":"d3"}]`,
			"batch", "create", "--contract", "contract-001", "--items", "-", "--wait")
		if !strings.Contains(text, "Accesses created (2)") || !regexp.MustCompile(`(?m)^dev-batch-1\s+\S{20,}\s+dev-batch-1`).MatchString(text) ||
			!strings.Contains(text, "Items that failed (1)") {
			t.Fatalf("batch in text:\n%s", text)
		}
		list := items(t, u.json("batch", "list"))
		if len(list) != 2 || list[1]["id"] != task.ID || list[1]["state"] != "DONE" {
			t.Fatalf("batches %v", list)
		}
		got := u.json("batch", "get", task.ID, "--limit", "2")
		if accs, _ := got["accesses"].([]any); len(accs) != 2 || str(got["nextCursor"]) == "" {
			t.Fatalf("batch get --limit 2: %v", got)
		}
		u.fail([]string{"ended REJECTED"}, "batch", "create", "--contract", "contract-002", "--count", "1", "--wait")
		u.fail([]string{"exactly one of --count and --items"}, "batch", "create", "--contract", "contract-001")
	})

	t.Run("webhooks", func(t *testing.T) {
		rcv := newReceiver(t)
		created := u.json("webhook", "create", rcv.URL+"/hooks", "--events", "api_key.created,api_key.deleted", "--description", "billing sync")
		id, secret := str(created["id"]), str(created["secret"])
		if !strings.HasPrefix(id, "whk_") || !strings.HasPrefix(secret, "whsec_") || created["enabled"] != true ||
			fmt.Sprint(created["events"]) != "[api_key.created api_key.deleted]" {
			t.Fatalf("created %v", created)
		}
		if table := u.ok("", "webhook", "list"); !regexp.MustCompile(`(?m)^ID\s+URL\s+EVENTS\s+ENABLED`).MatchString(table) ||
			!regexp.MustCompile(`(?m)^`+id+`\s+`+regexp.QuoteMeta(rcv.URL)+`/hooks\s+api_key.created,api_key.deleted\s+true\s+billing sync`).MatchString(table) {
			t.Fatalf("the table:\n%s", table)
		}
		if got := u.json("webhook", "get", id); got["secret"] != nil || got["url"] != rcv.URL+"/hooks" {
			t.Fatalf("get %v", got)
		}
		if got := u.json("webhook", "update", id, "--enabled=false", "--description", "paused"); got["enabled"] != false || got["description"] != "paused" ||
			fmt.Sprint(got["events"]) != "[api_key.created api_key.deleted]" {
			t.Fatalf("disabled %v", got)
		}
		u.fail([]string{"keyhaven: Conflict: ", "(webhook_disabled)"}, "webhook", "test", id)
		if got := u.json("webhook", "update", id, "--enabled"); got["enabled"] != true {
			t.Fatalf("enabled again %v", got)
		}
		testEvent := str(u.json("webhook", "test", id)["eventId"])
		u.ok("", "apikey", "create", "hooked", "--permissions", "READ")

		// Both events arrive, in order, signed with the secret shown once.
		got := rcv.wait(t, 2)
		if got[0].id != testEvent || got[0].typ != "webhook.test" || got[1].typ != "api_key.created" {
			t.Fatalf("received %+v, want the test event %s then api_key.created", got, testEvent)
		}
		rcv.verify(t, secret)
		var deliveries []map[string]any
		eventually.Within(t, 20*time.Second, func() error {
			deliveries = items(t, u.json("webhook", "deliveries", id))
			if len(deliveries) != 2 || deliveries[0]["outcome"] != "delivered" || deliveries[1]["outcome"] != "delivered" {
				return fmt.Errorf("deliveries %v", deliveries)
			}
			return nil
		})
		if deliveries[0]["eventId"] != got[1].id || deliveries[1]["eventId"] != testEvent {
			t.Fatalf("deliveries %v, want the newest first", deliveries)
		}
		if table := u.ok("", "webhook", "deliveries", id); !regexp.MustCompile(`(?m)^ID\s+EVENT\s+TYPE\s+ATTEMPT\s+AT\s+OUTCOME\s+STATUS`).MatchString(table) ||
			!regexp.MustCompile(`(?m)^\S+\s+`+testEvent+`\s+webhook.test\s+1\s+\S+\s+delivered\s+204`).MatchString(table) {
			t.Fatalf("the deliveries table:\n%s", table)
		}

		// A resend goes again with the same webhook-id.
		if out := u.ok("", "webhook", "resend", id, str(deliveries[1]["id"])); !strings.Contains(out, "Queued the event") {
			t.Fatalf("resend said %q", out)
		}
		if again := rcv.wait(t, 3)[2]; again.id != testEvent {
			t.Fatalf("the resend came as %+v, want webhook-id %s", again, testEvent)
		}
		rcv.verify(t, secret)
		u.fail([]string{"needs the webhook's ID and a delivery's ID"}, "webhook", "resend", id)
		u.fail([]string{"keyhaven: Bad Request: ", "url"}, "webhook", "update", id, "--webhook-url", "ftp://nowhere.example/")

		if out := u.ok("", "webhook", "delete", id); !strings.Contains(out, "Deleted webhook "+id) {
			t.Fatalf("delete said %q", out)
		}
		u.fail([]string{"keyhaven: Not Found: ", "(not_found)"}, "webhook", "get", id)
	})

	t.Run("the environment overrides the saved login", func(t *testing.T) {
		other := newCLIUser(t, "KEYHAVEN_URL="+url, "KEYHAVEN_TOKEN="+key, "KEYHAVEN_TENANT=default", "KEYHAVEN_OUTPUT=json")
		var v map[string]any
		if err := json.Unmarshal([]byte(other.ok("", "user", "list")), &v); err != nil || len(items(t, v)) != 2 {
			t.Fatalf("user list from the environment: %v %v", v, err)
		}
		other.fail([]string{"keyhaven: "}, "user", "list", "--tenant", "nowhere")
		if _, help, ok := other.run("", "apikey", "list", "--help"); !ok || !strings.Contains(help, "KEYHAVEN_TOKEN") {
			t.Fatalf("apikey list --help: %s", help)
		}
		other.neverShown(key)
		// The saved token goes only to the URL it was saved for.
		u.fail([]string{"the saved login is for " + url}, "apikey", "list", "--url", "http://127.0.0.1:1")
	})

	t.Run("logout", func(t *testing.T) {
		if _, said, ok := u.run("", "logout"); !ok || !strings.Contains(said, "Logged out of "+url) {
			t.Fatalf("logout said %q", said)
		}
		if status, _ := request(t, "GET", url+"/api/default/me", key, ""); status != 200 {
			t.Fatalf("logging out ended the API key: %d", status)
		}
		u.fail([]string{"not logged in"}, "apikey", "list")
		if _, said, ok := u.run(adminPassword+"\n", "login", "--email", "admin@keyhaven.local"); !ok || !strings.Contains(said, "Logged in to "+url) {
			t.Fatalf("login with the saved URL: %s", said)
		}
		session := savedToken(t, u)
		if out := u.ok("", "app", "list"); !strings.HasPrefix(out, "ID") {
			t.Fatalf("app list with a session: %s", out)
		}
		u.neverShown(session)
	})

	u.neverShown(key, adminPassword)
}

// savedToken returns the token in a user's saved login, "" when none.
func savedToken(t *testing.T, u *cliUser) string {
	t.Helper()
	b, err := os.ReadFile(u.configFile())
	if err != nil {
		t.Fatal(err)
	}
	var c config
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Token
}

// TestCompletion: the completion scripts print for every shell, and completion asks the
// server logged in to for names.
func TestCompletion(t *testing.T) {
	u := newCLIUser(t)
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := u.ok("", "completion", shell); !strings.Contains(out, "keyhaven") || len(out) < 1000 {
			t.Errorf("completion %s printed %q", shell, out)
		}
	}
	u.fail([]string{"bash, zsh, fish or powershell"}, "completion", "tcsh")
	if out := u.ok("", "__complete", "apikey", "create", "--permissions", ""); !strings.Contains(out, "KEY_MANAGEMENT\n") {
		t.Errorf("permissions not completed:\n%s", out)
	}
	if out := u.ok("", "__complete", "ap"); !strings.Contains(out, "apikey\t") || !strings.Contains(out, "app\t") {
		t.Errorf("commands not completed:\n%s", out)
	}

	p := start(t, "--db", "sqlite:"+testdb.SQLitePath(t))
	url := p.addr()
	u.ok(field(p.output(), "bootstrap key"), "login", "--url", url, "--with-token")
	if out := u.ok("", "__complete", "apikey", "rotate", ""); !strings.Contains(out, "bootstrap\n") {
		t.Errorf("API key names not completed from the server:\n%s", out)
	}
	if out := u.ok("", "__complete", "user", "get", ""); !strings.Contains(out, "\tadmin@keyhaven.local\n") {
		t.Errorf("user ids not completed with their emails from the server:\n%s", out)
	}
}

// TestConfigIsPrivate: the saved login is written readable by its owner only, and never into
// a file or directory others may write.
func TestConfigIsPrivate(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	path, err := saveConfig(config{URL: "http://127.0.0.1:8080", Tenant: "default", Token: "khk_secret"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved %s with mode %v (%v), want 0600", path, fi.Mode(), err)
	}
	if got, err := loadConfig(); err != nil || got.Token != "khk_secret" {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		path string
		mode os.FileMode
	}{
		{"a group-writable file", path, 0o620},
		{"a world-writable file", path, 0o606},
		{"a world-writable directory", filepath.Dir(path), 0o777},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(tc.path, tc.mode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(tc.path, fi.Mode().Perm())
			if _, err := saveConfig(config{URL: "http://evil.example", Token: "khk_other"}); err == nil || !strings.Contains(err.Error(), "others may write") {
				t.Fatalf("saved into %s of mode %v: %v", tc.path, tc.mode, err)
			}
			if tc.path == path {
				if _, err := loadConfig(); err == nil {
					t.Fatalf("loaded a login from a file of mode %v", tc.mode)
				}
			}
		})
	}
	if got, err := loadConfig(); err != nil || got.Token != "khk_secret" {
		t.Fatalf("after the refusals: %+v, %v", got, err)
	}
}

// receiver is a webhook receiver: it answers 204 and keeps every request.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	wake chan struct{}
}

// received is one request a receiver got.
type received struct {
	id, typ string
	header  http.Header
	body    []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{wake: make(chan struct{}, 1)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var event struct{ Type string }
		json.Unmarshal(body, &event)
		r.mu.Lock()
		r.got = append(r.got, received{id: req.Header.Get("webhook-id"), typ: event.Type, header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// wait returns what the receiver got once it got at least n requests.
func (r *receiver) wait(t *testing.T, n int) []received {
	t.Helper()
	var got []received
	eventually.Within(t, 20*time.Second, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		got = slices.Clone(r.got)
		if len(got) < n {
			return fmt.Errorf("%d requests, want %d", len(got), n)
		}
		return nil
	})
	return got
}

// verify checks every request's signature with the Standard Webhooks library.
func (r *receiver) verify(t *testing.T, secret string) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.got {
		if err := wh.Verify(g.body, g.header); err != nil {
			t.Fatalf("the signature of %s: %v", g.id, err)
		}
	}
}
