package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"keyhaven.dev/keyhaven"
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
	svc, store, err := openService(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
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
