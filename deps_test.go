package keyhaven_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainImportsNoTransportOrStorage keeps the root package free of HTTP, GraphQL and
// database code: those depend on the domain, never the other way round.
func TestDomainImportsNoTransportOrStorage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"net/http", "database/sql", "keyhaven/api", "keyhaven/sqlstore", "keyhaven/sqlite",
		"keyhaven/postgres", "github.com/danielgtaylor/huma", "github.com/jackc/pgx", "modernc.org/sqlite"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the domain package depends on %s", dep)
			}
		}
	}
}
