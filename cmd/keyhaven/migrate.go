package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func newMigrateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Apply database migrations and exit", Args: noArgs}
	db := dbFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return migrate(cmd, *db, p.stderr) }
	return cmd
}

func migrate(cmd *cobra.Command, db string, stderr io.Writer) error {
	store, err := openStore(cmd.Context(), db)
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
