package main

import (
	"errors"
	"net/url"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

func newAccessCmd(p *program) *cobra.Command {
	cmd := group(p, "access", "List, create and change device accesses (batches: keyhaven batch)",
		newAccessListCmd(p), getCmd(p, "ID", "Show a device access, never its password", nil, (*client.Client).Access),
		newAccessCreateCmd(p), newAccessUpdateCmd(p))
	cmd.Aliases = []string{"accesses"}
	return cmd
}

var accessStatuses = []string{"ACTIVE", "SUSPENDED", "TERMINATED"}

var accessColumns = []column{{"ID", "id"}, {"USERNAME", "username"}, {"DEVICE", "deviceName"}, {"CONTRACT", "contractId"},
	{"STATUS", "status"}, {"VALID FROM", "validFor.startDateTime"}, {"VALID UNTIL", "validFor.endDateTime"}}

func newAccessListCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "list [filter flags]", Short: "List device accesses, never their passwords", Args: noArgs}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	filters := []struct{ flag, param, usage string }{
		{"contract", "contractId", "only the accesses of this contract"},
		{"status", "status", "only accesses in this status: ACTIVE, SUSPENDED or TERMINATED"},
		{"created-by", "createdBy", "only the accesses this user id or batch task id created"},
		{"username", "username", "only the access of this username"},
		{"device-name", "deviceName", "only accesses of this device name"},
	}
	values := make([]*string, len(filters))
	for i, f := range filters {
		values[i] = fs.String(f.flag, "", f.usage)
	}
	cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(accessStatuses, cobra.ShellCompDirectiveNoFileComp))
	limit := limitFlag(fs)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		q := url.Values{}
		for i, f := range filters {
			if *values[i] != "" {
				q.Set(f.param, *values[i])
			}
		}
		return runList(r, *limit, accessColumns, func(c *client.Client, cursor string, n int) (*client.Page[client.Access], error) {
			return c.Accesses(cmd.Context(), q, cursor, n)
		})
	}
	return cmd
}

func newAccessCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create --contract ID [--username NAME] [--device-name NAME] [--password-stdin]", Args: noArgs,
		Short: "Create one device access; its password is shown once",
	}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	contract := fs.String("contract", "", "the contract the access is under (required)")
	username := fs.String("username", "", "the access's username (generated when not given)")
	device := fs.String("device-name", "", "the device's name (the username when not given)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input (asked for without echo on a terminal); generated when not given")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *contract == "" {
			return errors.New("give the contract with --contract ID (keyhaven contract list shows them)")
		}
		in := client.AccessInput{ContractID: *contract, Username: *username, DeviceName: *device}
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
		a, raw, err := c.CreateAccess(cmd.Context(), in)
		if err != nil {
			return err
		}
		return r.withSecret(raw, "password", "The password", "Created access %s (username %s).", a.ID, a.Username)
	}
	return cmd
}

func newAccessUpdateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "update ID [--status STATUS] [--password-stdin]", Short: "Change a device access's status or password"}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	status := fs.String("status", "", "ACTIVE, SUSPENDED or TERMINATED (final)")
	cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(accessStatuses, cobra.ShellCompDirectiveNoFileComp))
	fromStdin := fs.Bool("password-stdin", false, "read a new password from standard input (asked for without echo on a terminal)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		patch := client.Patch{}
		if fs.Changed("status") {
			patch["status"] = *status
		}
		if *fromStdin {
			pw, err := p.secretLine(p.lines(), "New password: ", "new password")
			if err != nil {
				return err
			}
			patch["password"] = pw
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		a, raw, err := c.UpdateAccess(cmd.Context(), args[0], patch)
		if err != nil {
			return err
		}
		return r.done(raw, "Changed access %s (username %s).", a.ID, a.Username)
	}
	return cmd
}
