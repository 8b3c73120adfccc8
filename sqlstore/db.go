// Package sqlstore implements keyhaven.Store once, in SQL that SQLite and PostgreSQL both
// speak. The sqlite and postgres packages open the connections and supply a Dialect for the
// few things that differ.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pressly/goose/v3"

	"keyhaven.dev/keyhaven"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is what differs between the databases.
type Dialect struct {
	// Goose is the migration dialect.
	Goose goose.Dialect
	// Numbered reports whether placeholders are $1, $2... rather than ?.
	Numbered bool
	// IsUniqueViolation reports whether err is a unique constraint violation.
	IsUniqueViolation func(error) bool
	// IsUnavailable, when set, reports whether err says, in the driver's own terms, that the
	// database cannot serve right now (it refuses connections, is shutting down, is locked
	// by another writer past the busy timeout) rather than that the statement is wrong.
	// Network failures every driver shares are recognized without it.
	IsUnavailable func(error) bool
	// ForUpdate is appended to the SELECT that reads the row a limit check depends on, to
	// lock it until the transaction ends and so serialize concurrent writers, across nodes
	// too. SQLite needs none: its write transactions are serialized already (BEGIN IMMEDIATE).
	ForUpdate string
	// SessionLocker, when set, serializes migrations across processes.
	SessionLocker goose.ProviderOption
	// CopyFrom, when set, loads rows into table's columns in bulk (PostgreSQL's COPY) over
	// conn, the driver connection (from sql.Conn.Raw) of a transaction under way, and returns
	// how many rows it loaded. Batch chunks are stored through it when set.
	CopyFrom func(ctx context.Context, conn any, table string, columns []string, rows [][]any) (int64, error)
}

// DB is a keyhaven.Store over database/sql. Writes go to w, reads to r (the same pool on
// PostgreSQL; on SQLite a single writer connection beside a pool of readers).
type DB struct {
	w, r    *sql.DB
	dialect Dialect
	queries sync.Map // query text with ? → dialect's form

	prepMu  sync.Mutex
	resolve atomic.Pointer[sql.Stmt]

	credits creditTakes // waiting for the next group commit

	// Queued, when set, is told after a transaction that queued webhook messages commits, so
	// that this node's sender sends them at once.
	Queued func()
	queued sync.Map // *sql.Tx → true: the transaction queued webhook messages

	migrated []Migration // what the last Migrate applied
}

var _ keyhaven.Store = (*DB)(nil)

// New returns a DB over the given pools. Call Migrate before use.
func New(w, r *sql.DB, d Dialect) *DB {
	return &DB{w: w, r: r, dialect: d}
}

// Migrate applies every pending migration.
func (db *DB) Migrate(ctx context.Context) error {
	var opts []goose.ProviderOption
	if db.dialect.SessionLocker != nil {
		opts = append(opts, db.dialect.SessionLocker)
	}
	p, err := goose.NewProvider(db.dialect.Goose, db.w, mustSub(migrations, "migrations"), opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	db.migrated = migrationsOf(results)
	return nil
}

// Ping implements keyhaven.Store.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close implements keyhaven.Store.
func (db *DB) Close() error {
	if s := db.resolve.Load(); s != nil {
		s.Close()
	}
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// q returns query in the dialect's placeholder form.
func (db *DB) q(query string) string {
	if !db.dialect.Numbered {
		return query
	}
	if v, ok := db.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	db.queries.Store(query, b.String())
	return b.String()
}

// tx runs fn in a write transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(err, "")
	}
	defer tx.Rollback()
	defer db.committed(tx)
	if err := fn(tx); err != nil {
		return db.wrap(err, "")
	}
	if err := tx.Commit(); err != nil {
		return db.wrap(err, "")
	}
	return nil
}

// committed tells Queued, once tx has ended, when tx queued webhook messages. A transaction
// that rolled back tells it too: the sender then finds nothing new, which costs one look.
func (db *DB) committed(tx *sql.Tx) {
	if _, ok := db.queued.LoadAndDelete(tx); ok && db.Queued != nil {
		db.Queued()
	}
}

// change runs fn in a write transaction and appends e, when set, in the same transaction: a
// change and its audit record commit together or not at all.
func (db *DB) change(ctx context.Context, e *keyhaven.AuditEvent, fn func(*sql.Tx) error) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, e)
	})
}

// insert runs one write statement and appends e in the same transaction; a unique violation
// becomes ECONFLICT with the given message.
func (db *DB) insert(ctx context.Context, e *keyhaven.AuditEvent, conflict, query string, args ...any) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(query), args...)
		return db.wrap(err, conflict)
	})
}

// update is a state change (see keyhaven.Store): in one write transaction it reads the row
// with read, which holds it against other writers (FOR UPDATE on PostgreSQL; on SQLite the
// transaction began IMMEDIATE and so holds the database's write lock), hands it to change,
// writes what change left with write and appends e.
func update[T any](ctx context.Context, db *DB, e *keyhaven.AuditEvent, read func(*sql.Tx) (T, error), change func(T) error, write func(*sql.Tx, T) error) (T, error) {
	var out, zero T
	err := db.change(ctx, e, func(tx *sql.Tx) error {
		v, err := read(tx)
		if err != nil {
			return err
		}
		if err := change(v); err != nil {
			return err
		}
		if err := write(tx, v); err != nil {
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		return zero, err
	}
	return out, nil
}

// execOne runs a write statement in tx that must affect a row, else returns ENOTFOUND
// naming what.
func (db *DB) execOne(ctx context.Context, tx *sql.Tx, what, conflict, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return db.wrap(err, conflict)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return db.notFound(errors.Join(sql.ErrNoRows, err), what)
	}
	return nil
}

// exec runs one write statement and returns the rows it affected.
func (db *DB) exec(ctx context.Context, conflict, query string, args ...any) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return 0, db.wrap(err, conflict)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, db.wrap(err, "")
	}
	return n, nil
}

// wrap turns a database error into a domain error: the one place where store errors get
// their code. Domain errors pass unchanged; no rows becomes ENOTFOUND, a unique violation
// ECONFLICT with the given message, a database that cannot be reached right now
// EUNAVAILABLE, anything else EINTERNAL.
func (db *DB) wrap(err error, conflict string) error {
	var ke *keyhaven.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return keyhaven.Errorf(keyhaven.ENOTFOUND, "not found")
	case db.dialect.IsUniqueViolation(err) && conflict != "":
		return keyhaven.Reasonf(keyhaven.ECONFLICT, "duplicate", "%s", conflict)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &keyhaven.Error{Code: keyhaven.EINTERNAL, Message: "request cancelled", Err: err}
	case db.unavailable(err):
		return &keyhaven.Error{Code: keyhaven.EUNAVAILABLE, Message: "the database is unavailable; try again shortly", Err: err}
	}
	return keyhaven.Internal(err)
}

// unavailable reports whether err means the database cannot be reached or cannot serve right
// now: the connection was refused, reset or broken, timed out, or the driver says so.
func (db *DB) unavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	return db.dialect.IsUnavailable != nil && db.dialect.IsUnavailable(err)
}

// notFound returns ENOTFOUND naming what for sql.ErrNoRows, or wraps err.
func (db *DB) notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return keyhaven.Errorf(keyhaven.ENOTFOUND, "%s not found", what)
	}
	return db.wrap(err, "")
}

// Times are stored as unix microseconds; the zero time as NULL.
func toDB(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromDB(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

func mustDB(t time.Time) int64 { return t.UnixMicro() }

// limit returns a page's limit within [1, 1000], defaulting to 50.
func limit(p keyhaven.Page) int {
	switch {
	case p.Limit <= 0:
		return 50
	case p.Limit > 1000:
		return 1000
	}
	return p.Limit
}

// SQL returns the pool that writes, for what a dialect adds (PostgreSQL notifications).
func (db *DB) SQL() *sql.DB { return db.w }

// PoolStats returns the statistics of the store's connection pools by their use: "write" and
// "read" on SQLite, one "read_write" pool on PostgreSQL.
func (db *DB) PoolStats() map[string]sql.DBStats {
	if db.r == db.w {
		return map[string]sql.DBStats{"read_write": db.w.Stats()}
	}
	return map[string]sql.DBStats{"write": db.w.Stats(), "read": db.r.Stats()}
}

// Rebind returns query, written with ? placeholders, in the dialect's form.
func (db *DB) Rebind(query string) string { return db.q(query) }
