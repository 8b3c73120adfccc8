// Package postgres opens keyhaven's PostgreSQL store, for several stateless nodes over one
// database.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"keyhaven/sqlstore"
)

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

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
		ForUpdate:         " FOR UPDATE",
		SessionLocker:     goose.WithSessionLocker(locker),
	}
	cfg, err := pgconnConfig(dsn)
	if err != nil {
		return nil, err
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
