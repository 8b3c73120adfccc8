package graphql_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestReferenceClient drives the endpoint with the reference GraphQL implementation (the
// graphql package, run by Node.js): it builds the schema from introspection, validates the
// contract's documents against it and runs them. `make test` installs the package.
func TestReferenceClient(t *testing.T) {
	dir := filepath.Join("testdata", "client")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "graphql")); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or the graphql package is missing (node: %v, package: %v): run npm ci in %s", err, serr, dir)
		}
		t.Skip("node or the graphql package is missing; `make test` installs it")
	}
	e := apitest.New(t, testdb.SQLite)
	cmd := exec.Command(node, "check.mjs", e.URL+"/api/acme/graphql", e.Acme.APIKey)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reference client: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("reference client said %s", out)
	}
	t.Logf("reference client: %s", strings.TrimSpace(string(out)))
}
