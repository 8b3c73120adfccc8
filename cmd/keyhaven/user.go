package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/client"
)

func newUserCmd(p *program) *cobra.Command {
	cmd := group(p, "user", "List, create, change and delete users; reset a password on the database",
		listCmd(p, "List the tenant's users", userColumns, (*client.Client).Users),
		getCmd(p, "ID|EMAIL", "Show a user", completeUsers, userByIDOrEmail), newUserCreateCmd(p), newUserUpdateCmd(p),
		deleteCmd(p, "ID|EMAIL", "Delete a user: every credential and application it owns stops working", completeUsers,
			deleteUserByIDOrEmail, "Deleted user %s: every credential and application it owned has stopped working."),
		newResetPasswordCmd(p))
	cmd.Aliases = []string{"users"}
	return cmd
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

var userColumns = []column{{"ID", "id"}, {"EMAIL", "email"}, {"PERMISSIONS", "permissions"}, {"CREATED", "createdAt"}}

// userID returns the id of the user arg names, by id or by email.
func userID(ctx context.Context, c *client.Client, arg string) (string, error) {
	if !strings.Contains(arg, "@") {
		return arg, nil
	}
	all, err := client.All(0, func(cursor string, limit int) (*client.Page[client.User], error) {
		return c.Users(ctx, cursor, limit)
	})
	if err != nil {
		return "", err
	}
	for _, u := range all.Items {
		if strings.EqualFold(u.Email, arg) {
			return u.ID, nil
		}
	}
	return "", fmt.Errorf("tenant %q has no user %q", c.Tenant, arg)
}

// userByIDOrEmail returns the user arg names, by id or by email.
func userByIDOrEmail(c *client.Client, ctx context.Context, arg string) (*client.User, json.RawMessage, error) {
	id, err := userID(ctx, c, arg)
	if err != nil {
		return nil, nil, err
	}
	return c.User(ctx, id)
}

// deleteUserByIDOrEmail deletes the user arg names, by id or by email.
func deleteUserByIDOrEmail(c *client.Client, ctx context.Context, arg string) error {
	id, err := userID(ctx, c, arg)
	if err != nil {
		return err
	}
	return c.DeleteUser(ctx, id)
}

func newUserCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create EMAIL --permissions PERMISSION,... [--password-stdin]", Short: "Create a user; a generated password is shown once",
		Example: "  keyhaven user create ops@example.com --permissions READ,KEY_MANAGEMENT\n" +
			"  printf '%s\\n' \"$PASSWORD\" | keyhaven user create ops@example.com --permissions READ --password-stdin",
	}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	perms := permissionsFlag(cmd, "permissions", "the user's permissions, comma-separated (repeatable); at most your own")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input (asked for without echo on a terminal); generated when not given")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "EMAIL"); err != nil {
			return err
		}
		in := client.UserInput{Email: args[0], Permissions: *perms}
		if *fromStdin {
			pw, err := p.secretLine(p.lines(), "Password: ", "password")
			if err != nil {
				return err
			}
			in.Password = &pw
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		u, raw, err := c.CreateUser(cmd.Context(), in)
		if err != nil {
			return err
		}
		return r.withSecret(raw, "password", "The generated password", "Created user %s (%s).", u.Email, u.ID)
	}
	return cmd
}

func newUserUpdateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update ID|EMAIL [--permissions P,...] [--password-stdin [--current-password]]",
		Short: "Change a user's permissions or password",
		Long: "Change a user's permissions or password. A new password ends every other session of the user. To change\n" +
			"your own password (with a session of your own), give --current-password too: the current password is read\n" +
			"first, then the new one.",
	}
	r := addRemote(p, cmd)
	cmd.ValidArgsFunction = completeUsers(r)
	fs := cmd.Flags()
	perms := permissionsFlag(cmd, "permissions", "replaces the user's permissions, comma-separated; within your own")
	fromStdin := fs.Bool("password-stdin", false, "read a new password from standard input (asked for without echo on a terminal)")
	current := fs.Bool("current-password", false, "with --password-stdin, for your own password: read the current password before the new one")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID or EMAIL"); err != nil {
			return err
		}
		patch := client.Patch{}
		if fs.Changed("permissions") {
			patch["permissions"] = *perms
		}
		if *current && !*fromStdin {
			return errors.New("--current-password goes with --password-stdin")
		}
		if *fromStdin {
			lines := p.lines()
			if *current {
				pw, err := p.secretLine(lines, "Current password: ", "current password")
				if err != nil {
					return err
				}
				patch["currentPassword"] = pw
			}
			pw, err := p.secretLine(lines, "New password: ", "new password")
			if err != nil {
				return err
			}
			patch["password"] = pw
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		id, err := userID(cmd.Context(), c, args[0])
		if err != nil {
			return err
		}
		u, raw, err := c.UpdateUser(cmd.Context(), id, patch)
		if err != nil {
			return err
		}
		return r.done(raw, "Changed user %s (%s).", u.Email, u.ID)
	}
	return cmd
}

// completeUsers completes user ids from the server, with their emails.
func completeUsers(r *remote) cobra.CompletionFunc {
	return completeItems(r, (*client.Client).Users, func(u client.User) string { return u.ID + "\t" + u.Email })
}
