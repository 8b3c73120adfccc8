package clients_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// npm is testdata, where package.json pins the Node.js packages these tests run.
const npm = "testdata"

// tools returns the path of node and the absolute path of testdata/node_modules; outside CI
// it skips the test when they are missing, in CI it fails.
func tools(t *testing.T) (node, modules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	modules, _ = filepath.Abs(filepath.Join(npm, "node_modules"))
	_, serr := os.Stat(filepath.Join(modules, ".package-lock.json"))
	if err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or the test's npm packages are missing (node: %v, packages: %v): run npm ci in %s", err, serr, npm)
		}
		t.Skip("node or the test's npm packages are missing; `make test` installs them")
	}
	return node, modules
}

// run runs a command in dir and fails the test, with its output, unless it succeeds.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "NO_COLOR=1", "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// document saves the OpenAPI document e serves at path (/api/openapi.json or its 3.0 form)
// into dir and returns the file's path.
func document(t *testing.T, e *apitest.Env, path, dir string) string {
	t.Helper()
	res, err := http.Get(e.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
	}
	file := filepath.Join(dir, strings.TrimPrefix(path, "/api/"))
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestRedoclyLint lints the served document, in both its forms, with Redocly's recommended
// rules (and redocly.yaml at the repository's root, which says why it turns any off): any
// error or warning fails.
func TestRedoclyLint(t *testing.T) {
	_, modules := tools(t)
	e := apitest.New(t, testdb.SQLite)
	dir := t.TempDir()
	config, _ := filepath.Abs(filepath.Join("..", "..", "redocly.yaml"))
	for _, path := range []string{"/api/openapi.json", "/api/openapi-3.0.json"} {
		t.Run(strings.TrimPrefix(path, "/api/"), func(t *testing.T) {
			file := document(t, e, path, dir)
			cmd := exec.Command(filepath.Join(modules, ".bin", "redocly"), "lint", "--config", config, "--format", "json", file)
			cmd.Env = append(os.Environ(), "NO_COLOR=1", "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
			out, err := cmd.Output()
			var report struct {
				Totals   struct{ Errors, Warnings, Ignored int }
				Problems []struct {
					RuleID   string `json:"ruleId"`
					Severity string
					Message  string
					Location []struct{ Pointer string }
				}
			}
			if jerr := json.Unmarshal(out, &report); jerr != nil {
				t.Fatalf("redocly lint: %v (exit: %v)\n%s", jerr, err, out)
			}
			for _, p := range report.Problems {
				at := ""
				if len(p.Location) > 0 {
					at = p.Location[0].Pointer
				}
				t.Errorf("%s %s at %s: %s", p.Severity, p.RuleID, at, p.Message)
			}
			if err != nil || report.Totals.Errors+report.Totals.Warnings > 0 {
				t.Errorf("redocly lint: %d errors, %d warnings (exit: %v)", report.Totals.Errors, report.Totals.Warnings, err)
			}
		})
	}
}

// TestGoClient generates a Go client from the served document with oapi-codegen (a tool of
// the module) in its default configuration, builds it into testdata/goclient's program and
// runs the program's full flow against a node on each database.
func TestGoClient(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join("testdata", "goclient", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkg := filepath.Join(dir, "khclient")
	if err := os.Mkdir(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	program := filepath.Join(dir, "goclient")
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, testdb.Engines()[name])
			if _, err := os.Stat(program); err != nil {
				doc := document(t, e, "/api/openapi.json", dir)
				// The module's own tool, run from this package's directory inside the module.
				run(t, ".", goBin, "tool", "oapi-codegen", "-generate", "types,client", "-package", "khclient",
					"-o", filepath.Join(pkg, "client.gen.go"), doc)
				run(t, dir, goBin, "build", "-o", program, ".")
			}
			t.Log(strings.TrimSpace(run(t, dir, program, "-url", e.URL, "-tenant", "acme", "-key", e.Acme.APIKey)))
		})
	}
}

// TestTypeScriptClient types openapi-fetch with openapi-typescript's types generated from the
// served document, compiles testdata/flow.ts with tsc in strict mode (a type error fails)
// and runs the flow with node against a node on each database.
func TestTypeScriptClient(t *testing.T) {
	node, modules := tools(t)
	dir := t.TempDir()
	for _, f := range []string{"flow.ts", "tsconfig.json"} {
		b, err := os.ReadFile(filepath.Join(npm, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"type":"module","private":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	program := filepath.Join(dir, "out", "flow.js")
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, testdb.Engines()[name])
			if _, err := os.Stat(program); err != nil {
				doc := document(t, e, "/api/openapi.json", dir)
				run(t, dir, filepath.Join(modules, ".bin", "openapi-typescript"), doc, "-o", filepath.Join(dir, "schema.ts"))
				run(t, dir, filepath.Join(modules, ".bin", "tsc"), "-p", "tsconfig.json")
			}
			t.Log(strings.TrimSpace(run(t, dir, node, program, e.URL, "acme", e.Acme.APIKey)))
		})
	}
}
