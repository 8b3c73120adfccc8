package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := newFlags("migrate", "migrate [flags]", stderr)
	db := dbFlag(fs)
	if _, err := parseFlags(fs, args, getenv); err != nil {
		return helpOK(err)
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	applied := store.Migrated()
	for _, m := range applied {
		fmt.Fprintf(stderr, "keyhaven: applied migration %s (%s)\n", m.Name, m.Duration.Round(time.Millisecond))
	}
	if len(applied) == 0 {
		fmt.Fprintln(stderr, "keyhaven: database is up to date")
	} else {
		fmt.Fprintf(stderr, "keyhaven: database is up to date: %d migrations applied\n", len(applied))
	}
	return nil
}
