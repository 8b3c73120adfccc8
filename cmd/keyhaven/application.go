package main

import (
	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

func newApplicationCmd(p *program) *cobra.Command {
	cmd := group(p, "app", "List, create, change and revoke applications",
		listCmd(p, "List the active applications", appColumns, (*client.Client).Applications),
		getCmd(p, "ID", "Show an application", completeApps, (*client.Client).Application),
		newAppCreateCmd(p), newAppUpdateCmd(p), newAppRevokeCmd(p))
	cmd.Aliases = []string{"application", "apps"}
	return cmd
}

var appColumns = []column{{"ID", "id"}, {"NAME", "name"}, {"STATUS", "status"}, {"CREATED BY", "createdBy"},
	{"CREATED", "createdAt"}, {"DESCRIPTION", "description"}}

func newAppCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "create NAME [--description TEXT]", Short: "Create an application"}
	r := addRemote(p, cmd)
	description := cmd.Flags().String("description", "", "what the application is for")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "NAME"); err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		a, raw, err := c.CreateApplication(cmd.Context(), client.ApplicationInput{Name: args[0], Description: *description})
		if err != nil {
			return err
		}
		return r.done(raw, "Created application %q (%s).", a.Name, a.ID)
	}
	return cmd
}

func newAppUpdateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "update ID [--name NAME] [--description TEXT]", Short: "Change an application's name or description"}
	r := addRemote(p, cmd)
	cmd.ValidArgsFunction = completeApps(r)
	fs := cmd.Flags()
	name := fs.String("name", "", "a new name")
	description := fs.String("description", "", "a new description")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		patch := client.Patch{}
		if fs.Changed("name") {
			patch["name"] = *name
		}
		if fs.Changed("description") {
			patch["description"] = *description
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		a, raw, err := c.UpdateApplication(cmd.Context(), args[0], patch)
		if err != nil {
			return err
		}
		return r.done(raw, "Changed application %q (%s).", a.Name, a.ID)
	}
	return cmd
}

func newAppRevokeCmd(p *program) *cobra.Command {
	cmd, r := oneArgCmd(p, "revoke", "ID", "Revoke an application: every access key in it stops working", completeApps)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.clientFor(cmd, args, "ID")
		if err != nil {
			return err
		}
		a, raw, err := c.RevokeApplication(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return r.done(raw, "Revoked application %q (%s) and every access key in it.", a.Name, a.ID)
	}
	return cmd
}

// completeApps completes application ids from the server, with their names.
func completeApps(r *remote) cobra.CompletionFunc {
	return completeItems(r, (*client.Client).Applications, func(a client.Application) string { return a.ID + "\t" + a.Name })
}
