package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestMigrateSaysWhatItApplied: migrate names each migration it applies, in order, then says
// that the database is up to date; on an up-to-date database it applies and names none.
func TestMigrateSaysWhatItApplied(t *testing.T) {
	files, err := filepath.Glob("../../sqlstore/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + testdb.SQLitePath(t) },
		"postgres": func(t *testing.T) string { return testdb.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			db := dsn(t)
			migrate := func() string {
				var out, errb strings.Builder
				if err := run(context.Background(), []string{"migrate", "--db", db}, noEnv, &out, &errb); err != nil {
					t.Fatalf("migrate: %v\n%s", err, errb.String())
				}
				return errb.String()
			}
			got := migrate()
			lines := strings.Split(strings.TrimSpace(got), "\n")
			if len(lines) != len(files)+1 {
				t.Fatalf("first migrate said:\n%s\nwant a line for each of %d migrations and a last one", got, len(files))
			}
			for i, f := range files {
				if !strings.Contains(lines[i], "applied migration "+filepath.Base(f)) {
					t.Fatalf("line %d: %q, want it to name %s", i+1, lines[i], filepath.Base(f))
				}
			}
			if !strings.Contains(lines[len(files)], "database is up to date") {
				t.Fatalf("last line %q", lines[len(files)])
			}
			if got := strings.TrimSpace(migrate()); got != "keyhaven: database is up to date" {
				t.Fatalf("second migrate said %q, want only that the database is up to date", got)
			}
		})
	}
}
