package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// The test binary doubles as the keyhaven program: with KEYHAVEN_TEST_MAIN set it runs main,
// so end-to-end tests start real processes without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("KEYHAVEN_TEST_MAIN") != "" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir) // the program the CLI tests built
	}
	os.Exit(code)
}

// proc is a running keyhaven process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	lines  chan string
	done   chan struct{}
}

// command returns a keyhaven command with args.
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KEYHAVEN_TEST_MAIN=1")
	return cmd
}

// clusterKey is the secret key every node of a test cluster shares.
var clusterKey = secret.NewKey()

// start starts `keyhaven serve` with args on a free loopback port. On PostgreSQL every node
// gets the same secret key, as a real cluster must.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	for _, a := range args {
		if strings.HasPrefix(a, "postgres") {
			args = append(args, "--secret-key", clusterKey)
			break
		}
	}
	p := &proc{t: t, cmd: command(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...), lines: make(chan string, 1000), done: make(chan struct{})}
	out, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		p.cmd.Wait()
	})
	return p
}

var listeningRE = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// addr waits for the process to say where it listens.
func (p *proc) addr() string {
	p.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line := <-p.lines:
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				return "http://" + m[1]
			}
		case <-p.done:
			p.t.Fatalf("keyhaven exited before listening:\n%s", p.output())
		case <-deadline:
			p.t.Fatalf("keyhaven did not listen within 60s:\n%s", p.output())
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Fatal("keyhaven did not stop within 30s of SIGTERM")
	}
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("keyhaven exited with %v:\n%s", err, p.output())
	}
}

func field(out, label string) string {
	m := regexp.MustCompile(label + `:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

func request(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestEndToEnd(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + testdb.SQLitePath(t) },
		"postgres": func(t *testing.T) string { return testdb.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) { testEndToEnd(t, dsn(t)) })
	}
}

func testEndToEnd(t *testing.T, db string) {
	p := start(t, "--db", db)
	url := p.addr()
	out := p.output()
	password, key := field(out, "admin password"), field(out, "bootstrap key")
	if password == "" || key == "" || !strings.Contains(out, "admin@keyhaven.local") {
		t.Fatalf("first start printed no bootstrap credentials:\n%s", out)
	}
	if status, _ := request(t, "GET", url+"/healthz", "", ""); status != 200 {
		t.Fatalf("healthz: %d", status)
	}
	if status, _ := request(t, "GET", url+"/readyz", "", ""); status != 200 {
		t.Fatalf("readyz: %d", status)
	}
	if status, body := request(t, "GET", url+"/metrics", "", ""); status != 200 || !strings.Contains(body, "keyhaven_http_requests_total{") {
		t.Fatalf("metrics from loopback: %d %.300s", status, body)
	}
	status, body := request(t, "POST", url+"/api/default/login", "", fmt.Sprintf(`{"email":"admin@keyhaven.local","password":%q}`, password))
	if status != 200 || !strings.Contains(body, `"token":"khs_`) {
		t.Fatalf("login with the printed password: %d %s", status, body)
	}
	if status, _ := request(t, "GET", url+"/api/default/me", key, ""); status != 200 {
		t.Fatalf("printed bootstrap key: %d", status)
	}

	// tenant create works beside the running server, on the same database.
	cmd := command("tenant", "create", "acme", "--admin-email", "a@acme.test", "--output", "json", "--db", db)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tenant create: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(strings.NewReader(stdout.String()))
	var created map[string]string
	if err := dec.Decode(&created); err != nil {
		t.Fatalf("tenant create output %q: %v", stdout.String(), err)
	}
	if dec.More() {
		t.Fatalf("tenant create printed more than one JSON object: %q", stdout.String())
	}
	if len(created) != 4 || created["tenant"] != "acme" || created["adminEmail"] != "a@acme.test" ||
		created["adminPassword"] == "" || !strings.HasPrefix(created["apiKey"], "khk_") {
		t.Fatalf("tenant create printed %v", created)
	}
	status, body = request(t, "GET", url+"/api/acme/me", created["apiKey"], "")
	if status != 200 || !strings.Contains(body, `"tenant":"acme"`) {
		t.Fatalf("acme key on /api/acme/me: %d %s", status, body)
	}
	if status, _ := request(t, "GET", url+"/api/default/me", created["apiKey"], ""); status != 403 {
		t.Fatalf("acme key on /api/default/me: %d, want 403", status)
	}
	status, _ = request(t, "POST", url+"/api/acme/login", "", fmt.Sprintf(`{"email":"a@acme.test","password":%q}`, created["adminPassword"]))
	if status != 200 {
		t.Fatalf("acme admin login: %d", status)
	}
	// A second tenant of the same name is refused, and says why.
	dup := command("tenant", "create", "acme", "--admin-email", "b@acme.test", "--db", db)
	if msg, err := dup.CombinedOutput(); err == nil || !strings.Contains(string(msg), "exists") {
		t.Fatalf("duplicate tenant create: err %v, output %s", err, msg)
	}

	p.stop()
	// The bootstrap credentials are printed once: a restart prints none and keeps them.
	p2 := start(t, "--db", db)
	url = p2.addr()
	if out := p2.output(); strings.Contains(out, "bootstrap key") {
		t.Fatalf("restart printed credentials again:\n%s", out)
	}
	if status, _ := request(t, "GET", url+"/api/default/me", key, ""); status != 200 {
		t.Fatalf("bootstrap key after restart: %d", status)
	}
	p2.stop()
	for _, s := range []string{password, key, created["adminPassword"], created["apiKey"]} {
		if strings.Contains(p2.output(), s) {
			t.Fatal("a secret reached the second process's log")
		}
	}
}

func TestCommandLine(t *testing.T) {
	var out, errb strings.Builder
	ctx := context.Background()
	env := func(string) string { return "" }
	if err := run(ctx, []string{"version"}, env, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "keyhaven ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"serve", "--help"}, env, &out, &errb); err != nil || !strings.Contains(errb.String(), "KEYHAVEN_ADDR") {
		t.Fatalf("serve --help: %v %q", err, errb.String())
	}
	if err := run(ctx, []string{"bogus"}, env, &out, &errb); err == nil {
		t.Fatal("unknown command accepted")
	}
	for _, bad := range []string{"keyhaven.example.com", "ftp://keyhaven.example.com", "https://"} {
		err := run(ctx, []string{"serve", "--public-url", bad, "--db", "sqlite:" + testdb.SQLitePath(t)}, env, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "--public-url") {
			t.Errorf("serve --public-url %s: %v, want it refused", bad, err)
		}
	}
	if err := run(ctx, []string{"tenant", "create", "Bad_Name", "--admin-email", "a@b.c", "--db", "sqlite:" + testdb.SQLitePath(t)}, env, &out, &errb); err == nil {
		t.Fatal("invalid tenant name accepted")
	}
	// Flags come from the environment when not given.
	dbPath := testdb.SQLitePath(t)
	getenv := func(k string) string {
		return map[string]string{"KEYHAVEN_DB": "sqlite:" + dbPath, "KEYHAVEN_ADMIN_EMAIL": "env@acme.test", "KEYHAVEN_OUTPUT": "json"}[k]
	}
	out.Reset()
	if err := run(ctx, []string{"tenant", "create", "from-env"}, getenv, &out, &errb); err != nil {
		t.Fatalf("tenant create from environment: %v", err)
	}
	if !strings.Contains(out.String(), `"adminEmail":"env@acme.test"`) {
		t.Fatalf("environment not used: %s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"tenant", "limits", "from-env", "--max-applications", "3", "--db", "sqlite:" + dbPath}, env, &out, &errb); err != nil ||
		strings.TrimSpace(out.String()) != `{"maxApplications":3,"maxAccessKeysPerApplication":10,"maxApiKeys":1000,"accessTokenLifetime":300}` {
		t.Fatalf("tenant limits: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"migrate", "--db", "sqlite:" + dbPath}, env, &out, &errb); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := run(ctx, []string{"migrate", "--db", "mysql://x"}, env, &out, &errb); err == nil {
		t.Fatal("unknown database accepted")
	}
}
