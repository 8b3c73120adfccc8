package main

import (
	"context"
	"fmt"
	"io"
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
	fmt.Fprintln(stderr, "keyhaven: database is up to date")
	return nil
}
