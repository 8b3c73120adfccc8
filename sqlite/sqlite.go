// Package sqlite opens keyhaven's embedded default store: a SQLite file in WAL mode with
// durable commits, one writer connection and a pool of readers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"keyhaven.dev/keyhaven/sqlstore"
)

// Dialect is SQLite's.
var Dialect = sqlstore.Dialect{
	Goose:             goose.DialectSQLite3,
	IsUniqueViolation: isUniqueViolation,
	IsUnavailable:     isUnavailable,
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// createPrivate creates the file at path with mode 0600 unless it exists: the database holds
// password hashes and sealed keys.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create sqlite %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil { // the umask may have taken bits away
		return fmt.Errorf("create sqlite %s: %w", path, err)
	}
	return nil
}

// isUnavailable reports whether err is SQLite saying that another connection holds the lock
// it needs, still, after the busy timeout: the same statement may succeed later.
func isUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// Open opens (creating if needed) the database file at path and applies pending migrations.
// A new database file is readable by its owner only (mode 0600, whatever the umask), and so
// are its -wal and -shm files, which SQLite creates with the database file's mode.
//
// The single writer connection takes its write lock when a transaction begins (BEGIN
// IMMEDIATE), so concurrent writers queue rather than fail, and check-then-insert limits hold.
// The busy timeout lets another process (the CLI beside a running server) wait its turn.
// synchronous=FULL makes every commit durable across power loss, not just process crashes.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", base+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(max(4, 2*runtime.GOMAXPROCS(0)))
	r.SetMaxIdleConns(max(4, 2*runtime.GOMAXPROCS(0)))
	db := sqlstore.New(w, r, Dialect)
	if err := w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
