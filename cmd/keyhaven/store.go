package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/postgres"
	"keyhaven.dev/keyhaven/sqlite"
	"keyhaven.dev/keyhaven/sqlstore"
	"keyhaven.dev/keyhaven/verify"
)

const defaultDB = "sqlite:keyhaven.db"

func dbFlag(fs *pflag.FlagSet) *string {
	p := new(string)
	*p = defaultDB
	fs.Var(&dbValue{p}, "db", "database: sqlite:PATH or postgres://USER:PASSWORD@HOST/DB")
	return p
}

// openStore opens and migrates the database named by dsn.
func openStore(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, fmt.Errorf("--db sqlite: needs a file path, e.g. sqlite:keyhaven.db")
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn)
	}
	return nil, fmt.Errorf("--db must start with sqlite: or postgres://")
}

// openService opens the database named by dsn and a service over it, for a command that runs
// beside the servers: on PostgreSQL, what the command changes reaches the servers' caches the
// way their own changes do; on SQLite a server sees another process's commit by itself.
// Warnings go to stderr. Close the returned store when done.
func openService(ctx context.Context, dsn string, stderr io.Writer) (*keyhaven.Service, *sqlstore.DB, error) {
	store, err := openStore(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	svc := keyhaven.NewService(store, slog.New(slog.NewTextHandler(stderr, nil)))
	if !strings.HasPrefix(dsn, "sqlite:") {
		n := &postgres.Notifier{DB: store.SQL()}
		svc.Invalidated = func(ctx context.Context, ids ...string) {
			if err := n.Publish(ctx, ids...); err != nil {
				fmt.Fprintf(stderr, "keyhaven: warning: the servers were not told at once (%v); what changed takes effect there within %s\n", err, verify.MaxAge)
			}
		}
	}
	return svc, store, nil
}
