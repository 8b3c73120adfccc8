package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/testdb"
)

// readmeDSN is the PostgreSQL URL of the README's example; the test puts its own in its place.
const readmeDSN = "postgres://keyhaven:secret@db.internal:5432/keyhaven?sslmode=require"

// TestREADMEPostgres runs the README's "Running on PostgreSQL" commands as written, with bash,
// with only what names the reader's machine replaced: the database URL by the test server's,
// `createdb` by nothing (the test made the database), `go run ./cmd/keyhaven` by this binary.
// The server must start and serve.
func TestREADMEPostgres(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Running on PostgreSQL\n\n```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no sh block under ## Running on PostgreSQL")
	}
	script := string(m[1])
	for _, want := range []string{"createdb keyhaven\n", "go run ./cmd/keyhaven serve", "'" + readmeDSN + "'"} {
		if strings.Count(script, want) != 1 {
			t.Fatalf("the README's PostgreSQL example does not hold %q once:\n%s", want, script)
		}
	}
	db := testdb.PostgresDSN(t)
	script = strings.NewReplacer(
		"createdb keyhaven\n", "",
		"go run ./cmd/keyhaven", `exec "$KEYHAVEN_BIN"`,
		"'"+readmeDSN+"'", "'"+db+"'",
	).Replace(script)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "KEYHAVEN_TEST_MAIN=1", "KEYHAVEN_BIN="+os.Args[0], "KEYHAVEN_ADDR=127.0.0.1:0")
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(out)
	listening := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
			listening = true
			if status, body := request(t, "GET", "http://"+m[1]+"/readyz", "", ""); status != 200 {
				t.Errorf("readyz: %d %s", status, body)
			}
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for sc.Scan() { // to the end of the output: Wait closes the pipe
		log.WriteString(sc.Text() + "\n")
	}
	werr := cmd.Wait()
	if !listening {
		t.Fatalf("the README's PostgreSQL commands did not start a server (%v):\n%s", werr, log.String())
	}
	if werr != nil {
		t.Fatalf("the server did not stop cleanly: %v\n%s", werr, log.String())
	}
}
