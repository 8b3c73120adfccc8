package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"keyhaven/postgres"
	"keyhaven/sqlite"
	"keyhaven/sqlstore"
)

const defaultDB = "sqlite:keyhaven.db"

func dbFlag(fs *flag.FlagSet) *string {
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
