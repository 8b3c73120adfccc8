package main

import (
	"time"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

func newAPIKeyCmd(p *program) *cobra.Command {
	cmd := group(p, "apikey", "List, create, change, rotate and delete API keys",
		listCmd(p, "List the tenant's API keys", apiKeyColumns, (*client.Client).APIKeys),
		getCmd(p, "NAME", "Show an API key", completeAPIKeys, (*client.Client).APIKey),
		newAPIKeyCreateCmd(p), newAPIKeyUpdateCmd(p),
		deleteCmd(p, "NAME", "Delete an API key: it stops working at once", completeAPIKeys, (*client.Client).DeleteAPIKey, "Deleted API key %q."),
		newAPIKeyRotateCmd(p))
	cmd.Aliases = []string{"api-key", "apikeys"}
	return cmd
}

var apiKeyColumns = []column{{"NAME", "name"}, {"KEY", "display"}, {"PERMISSIONS", "permissions"}, {"ACTIVE", "active"},
	{"EXPIRES", "expiresAt"}, {"LAST USED", "lastUsedAt"}}

func newAPIKeyCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create NAME --permissions PERMISSION,...", Short: "Create an API key; its secret is shown once",
		Example: "  keyhaven apikey create billing_sync --permissions READ,WRITE --expires-at 90d --rate-limit 100/1m",
	}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	perms := permissionsFlag(cmd, "permissions", "the key's permissions, comma-separated (repeatable); at most your own")
	active := fs.Bool("active", true, "whether the key works; --active=false creates it inactive")
	expires := timeFlag(fs, "expires-at", false, "when the key stops working and is deleted: a time, a date or a duration from now (30d)")
	policy := addPolicyFlags(fs, false)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "NAME"); err != nil {
			return err
		}
		pol, err := policy.policy()
		if err != nil {
			return err
		}
		in := client.APIKeyInput{Name: args[0], Permissions: *perms, Active: active, Policy: pol}
		if fs.Changed("expires-at") {
			in.ExpiresAt = expires.at(time.Now())
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		k, raw, err := c.CreateAPIKey(cmd.Context(), in)
		if err != nil {
			return err
		}
		return r.withSecret(raw, "key", "The API key", "Created API key %q (%s).", k.Name, k.ID)
	}
	return cmd
}

func newAPIKeyUpdateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update NAME [--name NEW] [--permissions P,...] [--active=BOOL] [--expires-at TIME|never] [policy flags]",
		Short: "Change an API key: only what the flags name changes",
	}
	r := addRemote(p, cmd)
	cmd.ValidArgsFunction = completeAPIKeys(r)
	fs := cmd.Flags()
	name := fs.String("name", "", "a new name")
	perms := permissionsFlag(cmd, "permissions", "replaces the key's permissions, comma-separated; within your own and its owner's")
	active := fs.Bool("active", true, "whether the key works")
	expires := timeFlag(fs, "expires-at", true, "a new expiry: a time, a date, a duration from now (30d), or never")
	policy := addPolicyFlags(fs, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "NAME"); err != nil {
			return err
		}
		patch := client.Patch{}
		if fs.Changed("name") {
			patch["name"] = *name
		}
		if fs.Changed("permissions") {
			patch["permissions"] = *perms
		}
		if fs.Changed("active") {
			patch["active"] = *active
		}
		if fs.Changed("expires-at") {
			patch["expiresAt"] = expires.at(time.Now())
		}
		if err := policy.patch(patch); err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		k, raw, err := c.UpdateAPIKey(cmd.Context(), args[0], patch)
		if err != nil {
			return err
		}
		return r.done(raw, "Changed API key %q.", k.Name)
	}
	return cmd
}

func newAPIKeyRotateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "rotate NAME [--grace-period DURATION]", Short: "Give an API key a new secret, shown once"}
	r := addRemote(p, cmd)
	cmd.ValidArgsFunction = completeAPIKeys(r)
	grace := graceFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "NAME"); err != nil {
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
		k, raw, err := c.RotateAPIKey(cmd.Context(), args[0], rot)
		if err != nil {
			return err
		}
		return r.withSecret(raw, "key", "The new secret", "Rotated API key %q: the old secret works %s.", k.Name, graceSaid(*grace))
	}
	return cmd
}

// graceSaid says how long an old secret works.
func graceSaid(grace time.Duration) string {
	if grace == 0 {
		return "no more"
	}
	return "for " + grace.String() + " more"
}

// completeAPIKeys completes API key names from the server.
func completeAPIKeys(r *remote) cobra.CompletionFunc {
	return completeItems(r, (*client.Client).APIKeys, func(k client.APIKey) string { return k.Name })
}
