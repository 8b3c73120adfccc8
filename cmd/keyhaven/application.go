package main

import (
	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

func newApplicationCmd(p *program) *cobra.Command {
	cmd := group(p, "app", "List, create, change and revoke applications",
		newAppListCmd(p), newAppGetCmd(p), newAppCreateCmd(p), newAppUpdateCmd(p), newAppRevokeCmd(p))
	cmd.Aliases = []string{"application", "apps"}
	return cmd
}

var appColumns = []column{{"ID", "id"}, {"NAME", "name"}, {"STATUS", "status"}, {"CREATED BY", "createdBy"},
	{"CREATED", "createdAt"}, {"DESCRIPTION", "description"}}

func newAppListCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the active applications", Args: cobra.NoArgs}
	r := addRemote(p, cmd)
	limit := limitFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runList(r, *limit, appColumns, func(c *client.Client, cursor string, n int) (*client.Page[client.Application], error) {
			return c.Applications(cmd.Context(), cursor, n)
		})
	}
	return cmd
}

func newAppGetCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "get ID", Short: "Show an application"}
	r := addRemote(p, cmd)
	cmd.ValidArgsFunction = completeApps(r)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		_, raw, err := c.Application(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return r.show(raw)
	}
	return cmd
}

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
	cmd := &cobra.Command{Use: "revoke ID", Short: "Revoke an application: every access key in it stops working"}
	r := addRemote(p, cmd)
	cmd.ValidArgsFunction = completeApps(r)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		c, err := r.client()
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
	return completeFrom(r, func(c *client.Client, cmd *cobra.Command) ([]string, error) {
		page, err := c.Applications(cmd.Context(), "", client.MaxPage)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, a := range page.Items {
			out = append(out, a.ID+"\t"+a.Name)
		}
		return out, nil
	})
}
