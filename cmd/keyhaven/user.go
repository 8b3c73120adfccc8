package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"keyhaven"
	"keyhaven/postgres"
	"keyhaven/verify"
)

const resetPasswordSynopsis = "user reset-password TENANT EMAIL [--output json]"

func runUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reset-password" {
		fmt.Fprintln(stderr, "Usage: keyhaven "+resetPasswordSynopsis)
		return errors.New("user needs a subcommand: reset-password")
	}
	fs := newFlags("user reset-password", resetPasswordSynopsis, stderr)
	db := dbFlag(fs)
	output := outputFlag(fs)
	pos, err := parseFlags(fs, args[1:], getenv)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) != 2 {
		return errors.New("user reset-password needs a TENANT and an EMAIL")
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := keyhaven.NewService(store, slog.New(slog.NewTextHandler(stderr, nil)))
	if !strings.HasPrefix(*db, "sqlite:") {
		// The servers' caches hear of the ended sessions as they hear of their own changes;
		// on SQLite the server sees this process's commit by itself.
		n := &postgres.Notifier{DB: store.SQL()}
		svc.Invalidated = func(ctx context.Context, ids ...string) {
			if err := n.Publish(ctx, ids...); err != nil {
				fmt.Fprintf(stderr, "keyhaven: warning: the servers were not told at once (%v); the old sessions stop working within %s\n", err, verify.MaxAge)
			}
		}
	}
	r, err := svc.ResetPassword(ctx, pos[0], pos[1])
	if err != nil {
		return errors.New(keyhaven.ErrorMessage(err))
	}
	if *output == "json" {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, `The password of %s in tenant %q is reset and every session of the user has ended.
The new password is shown only now: pass it on safely.
  new password:  %s
`, r.Email, r.Tenant, r.Password)
	return nil
}
