package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

func newAccessKeyCmd(p *program) *cobra.Command {
	cmd := group(p, "accesskey", "List, create, change, rotate and revoke an application's access keys",
		newAccessKeyListCmd(p), newAccessKeyGetCmd(p), newAccessKeyCreateCmd(p), newAccessKeyUpdateCmd(p),
		newAccessKeyRotateCmd(p), newAccessKeyRevokeCmd(p))
	cmd.Aliases = []string{"access-key", "accesskeys"}
	return cmd
}

var accessKeyColumns = []column{{"ID", "id"}, {"NAME", "name"}, {"KEY", "displayPrefix"}, {"STATUS", "status"},
	{"SCOPES", "scopes"}, {"EXPIRES", "expiresAt"}, {"LAST USED", "lastUsedAt"}}

// appFlag adds --app, the application whose keys a command handles; it is required.
func appFlag(cmd *cobra.Command, r *remote) *string {
	app := cmd.Flags().String("app", "", "the application's id (required)")
	cmd.RegisterFlagCompletionFunc("app", completeApps(r))
	return app
}

func needApp(app string) error {
	if app == "" {
		return errors.New("give the application with --app ID (keyhaven app list shows them)")
	}
	return nil
}

// keyCmd is a command on one access key, "verb ID --app ID ...", its ID completed from
// the keys of --app.
func keyCmd(p *program, use, short string) (*cobra.Command, *remote, *string) {
	cmd := &cobra.Command{Use: use, Short: short}
	r := addRemote(p, cmd)
	app := appFlag(cmd, r)
	cmd.ValidArgsFunction = completeAccessKeys(r, app)
	return cmd, r, app
}

// keyClient checks the command was given a key's ID and --app, and returns the client to
// call with.
func keyClient(cmd *cobra.Command, r *remote, args []string, app string) (*client.Client, error) {
	if err := needOne(cmd, args, "ID"); err != nil {
		return nil, err
	}
	if err := needApp(app); err != nil {
		return nil, err
	}
	return r.client()
}

func newAccessKeyListCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "list --app ID", Short: "List an application's active and expired access keys", Args: noArgs}
	r := addRemote(p, cmd)
	app := appFlag(cmd, r)
	limit := limitFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := needApp(*app); err != nil {
			return err
		}
		return runList(r, *limit, accessKeyColumns, func(c *client.Client, cursor string, n int) (*client.Page[client.AccessKey], error) {
			return c.AccessKeys(cmd.Context(), *app, cursor, n)
		})
	}
	return cmd
}

func newAccessKeyGetCmd(p *program) *cobra.Command {
	cmd, r, app := keyCmd(p, "get ID --app ID", "Show an access key")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := keyClient(cmd, r, args, *app)
		if err != nil {
			return err
		}
		_, raw, err := c.AccessKey(cmd.Context(), *app, args[0])
		if err != nil {
			return err
		}
		return r.show(raw)
	}
	return cmd
}

func newAccessKeyCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create NAME --app ID --scopes PERMISSION,...", Short: "Create an access key; its secret is shown once",
		Example: "  keyhaven accesskey create ci --app app_06bq5xk2hz1f8m3v9c4r7t0w --scopes READ --expires-at 30d",
	}
	r := addRemote(p, cmd)
	app := appFlag(cmd, r)
	fs := cmd.Flags()
	description := fs.String("description", "", "what the key is for")
	scopes := permissionsFlag(cmd, "scopes", "the key's permissions, comma-separated (repeatable); at most your own, and never changed")
	expires := timeFlag(fs, "expires-at", false, "when the key stops working: a time, a date or a duration from now (30d)")
	policy := addPolicyFlags(fs, false)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "NAME"); err != nil {
			return err
		}
		if err := needApp(*app); err != nil {
			return err
		}
		pol, err := policy.policy()
		if err != nil {
			return err
		}
		in := client.AccessKeyInput{Name: args[0], Description: *description, Scopes: *scopes, Policy: pol}
		if fs.Changed("expires-at") {
			in.ExpiresAt = expires.at(time.Now())
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		k, raw, err := c.CreateAccessKey(cmd.Context(), *app, in)
		if err != nil {
			return err
		}
		return r.withSecret(raw, "key", "The access key", "Created access key %q (%s) in application %s.", k.Name, k.ID, k.ApplicationID)
	}
	return cmd
}

func newAccessKeyUpdateCmd(p *program) *cobra.Command {
	cmd, r, app := keyCmd(p, "update ID --app ID [--name NAME] [--description TEXT] [policy flags]",
		"Change an access key's name, description or policy (its scopes never change)")
	fs := cmd.Flags()
	name := fs.String("name", "", "a new name")
	description := fs.String("description", "", "a new description")
	policy := addPolicyFlags(fs, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		if err := needApp(*app); err != nil {
			return err
		}
		patch := client.Patch{}
		if fs.Changed("name") {
			patch["name"] = *name
		}
		if fs.Changed("description") {
			patch["description"] = *description
		}
		if err := policy.patch(patch); err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		k, raw, err := c.UpdateAccessKey(cmd.Context(), *app, args[0], patch)
		if err != nil {
			return err
		}
		return r.done(raw, "Changed access key %q (%s).", k.Name, k.ID)
	}
	return cmd
}

func newAccessKeyRotateCmd(p *program) *cobra.Command {
	cmd, r, app := keyCmd(p, "rotate ID --app ID [--grace-period DURATION]", "Give an access key a new secret, shown once")
	grace := graceFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		if err := needApp(*app); err != nil {
			return err
		}
		rot, err := rotation(*grace)
		if err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		k, raw, err := c.RotateAccessKey(cmd.Context(), *app, args[0], rot)
		if err != nil {
			return err
		}
		return r.withSecret(raw, "key", "The new secret", "Rotated access key %q (%s): the old secret works %s.", k.Name, k.ID, graceSaid(*grace))
	}
	return cmd
}

func newAccessKeyRevokeCmd(p *program) *cobra.Command {
	cmd, r, app := keyCmd(p, "revoke ID --app ID", "Revoke an access key: it stops working at once")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := keyClient(cmd, r, args, *app)
		if err != nil {
			return err
		}
		k, raw, err := c.RevokeAccessKey(cmd.Context(), *app, args[0])
		if err != nil {
			return err
		}
		return r.done(raw, "Revoked access key %q (%s).", k.Name, k.ID)
	}
	return cmd
}

// completeAccessKeys completes the ids of the keys of the application --app names.
func completeAccessKeys(r *remote, app *string) cobra.CompletionFunc {
	return completeFrom(r, func(c *client.Client, cmd *cobra.Command) ([]string, error) {
		if *app == "" {
			return nil, nil
		}
		page, err := c.AccessKeys(cmd.Context(), *app, "", client.MaxPage)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(page.Items))
		for i, k := range page.Items {
			out[i] = k.ID + "\t" + k.Name
		}
		return out, nil
	})
}
