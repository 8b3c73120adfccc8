// Package testdb gives tests real databases: a fresh SQLite file, or a fresh database on the
// PostgreSQL server named by KEYHAVEN_TEST_POSTGRES (which `make test` starts when unset).
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"keyhaven.dev/keyhaven/postgres"
	"keyhaven.dev/keyhaven/sqlite"
	"keyhaven.dev/keyhaven/sqlstore"
)

// Opener opens a fresh, empty, migrated store for a test.
type Opener func(t testing.TB) *sqlstore.DB

// Engines lists the engines under test, by name.
func Engines() map[string]Opener {
	return map[string]Opener{"sqlite": SQLite, "postgres": Postgres}
}

// SQLite returns a store on a new SQLite file in the test's temporary directory.
func SQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), SQLitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SQLitePath returns a path for a new SQLite file in the test's temporary directory.
func SQLitePath(t testing.TB) string { return filepath.Join(t.TempDir(), "keyhaven.db") }

// Postgres returns a store on a new, empty PostgreSQL database.
func Postgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	return PostgresAt(PostgresDSN(t))(t)
}

var seq atomic.Int64

// PostgresDSN creates a new, empty database on the test server and returns its URL. The
// database is dropped when the test ends. Without a server the test is skipped, except under
// CI, where that is a failure.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("KEYHAVEN_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("KEYHAVEN_TEST_POSTGRES is not set: CI must run the PostgreSQL tests (use `make test`)")
		}
		t.Skip("KEYHAVEN_TEST_POSTGRES is not set; `make test` starts a throwaway PostgreSQL")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("KEYHAVEN_TEST_POSTGRES: %v", err)
	}
	name := fmt.Sprintf("kh_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer c.Close()
		c.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u.Path = "/" + name
	return u.String()
}

// Name returns a short unique name for test fixtures.
func Name(prefix string) string {
	return strings.ToLower(fmt.Sprintf("%s-%d", prefix, seq.Add(1)))
}

// Outage makes the PostgreSQL database at dsn (one PostgresDSN made) unreachable, as if its
// server were down, without touching the server the other tests share: the database stops
// accepting connections and its open ones are ended. It returns the function that ends the
// outage; the test's end ends it too.
func Outage(t testing.TB, dsn string) (end func()) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := sql.Open("pgx", os.Getenv("KEYHAVEN_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false"); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	if _, err := admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	var once sync.Once
	end = func() {
		once.Do(func() {
			defer admin.Close()
			if _, err := admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true"); err != nil {
				t.Errorf("end the outage: %v", err)
			}
		})
	}
	t.Cleanup(end)
	return end
}

// PostgresAt returns an opener of the store on the database at dsn, for tests that need to
// know which database their server uses.
func PostgresAt(dsn string) Opener {
	return func(t testing.TB) *sqlstore.DB {
		t.Helper()
		db, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
}
