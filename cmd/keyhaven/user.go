package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven"
)

func newUserCmd(p *program) *cobra.Command {
	return group(p, "user", "Reset a user's password on the database", newResetPasswordCmd(p))
}

func newResetPasswordCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "reset-password TENANT EMAIL", Short: "Give a user a new generated password, on the database",
		Long: "Give a user a new generated password, print it once and end every session of the user. It works on the\n" +
			"database (--db), beside a running server: for a user, the tenant's last admin included, who lost their password.",
	}
	fs := cmd.Flags()
	db := dbFlag(fs)
	output := outputFlag(fs)
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		if len(pos) != 2 {
			return errors.New("user reset-password needs a TENANT and an EMAIL")
		}
		ctx, stdout := cmd.Context(), p.stdout
		svc, store, err := openService(ctx, *db, p.stderr)
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
	return cmd
}
