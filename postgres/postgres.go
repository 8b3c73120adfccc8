// Package postgres opens keyhaven's PostgreSQL store, for several stateless nodes over one
// database.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"keyhaven.dev/keyhaven/sqlstore"
)

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// isUnavailable reports whether err says that the server cannot serve right now: a failed
// connection attempt (refused, database not accepting connections, authentication
// unavailable), a connection exception (class 08), the server shutting down (57P01..57P03)
// or out of connection slots (53300).
func isUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case "57P01", "57P02", "57P03", "53300":
		return true
	}
	return strings.HasPrefix(e.Code, "08")
}

// copyFrom implements sqlstore.Dialect.CopyFrom with pgx's COPY, on the pgx connection
// under database/sql's.
func copyFrom(ctx context.Context, conn any, table string, columns []string, rows [][]any) (int64, error) {
	c, ok := conn.(*stdlib.Conn)
	if !ok {
		return 0, fmt.Errorf("copy into %s: a %T is not a pgx connection", table, conn)
	}
	return c.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
}

// defaultConnectTimeout bounds a connection attempt when the DSN sets no connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// Open connects to the database at dsn (a postgres:// URL or key=value string) and applies
// pending migrations; concurrent nodes take turns through an advisory lock.
func Open(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	d := sqlstore.Dialect{
		Goose:             goose.DialectPostgres,
		Numbered:          true,
		IsUniqueViolation: isUniqueViolation,
		IsUnavailable:     isUnavailable,
		ForUpdate:         " FOR UPDATE",
		SessionLocker:     goose.WithSessionLocker(locker),
		CopyFrom:          copyFrom,
	}
	cfg, err := pgconnConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		// An unreachable server then fails a request as unavailable within this time,
		// rather than holding it until the operating system gives up on the connection.
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(32)
	db := sqlstore.New(pool, pool, d)
	if err := pool.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
