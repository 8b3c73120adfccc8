package main

import (
	"errors"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

func newContractCmd(p *program) *cobra.Command {
	cmd := group(p, "contract", "List, create and change contracts",
		newContractListCmd(p), getCmd(p, "ID", "Show a contract", nil, (*client.Client).Contract),
		newContractCreateCmd(p), newContractUpdateCmd(p))
	cmd.Aliases = []string{"contracts"}
	return cmd
}

func newOfferingCmd(p *program) *cobra.Command {
	cmd := group(p, "offering", "List and create product offerings, which contracts sell",
		listCmd(p, "List the product offerings", offeringColumns, (*client.Client).Offerings), newOfferingCreateCmd(p))
	cmd.Aliases = []string{"offerings", "product-offering"}
	return cmd
}

var contractStatuses = []string{"ACTIVE", "SUSPENDED", "TERMINATED"}

var contractColumns = []column{{"ID", "id"}, {"OFFERING", "productOfferingId"}, {"CUSTOMER", "customerName"},
	{"START", "startDate"}, {"END", "endDate"}, {"STATUS", "status"}}

func newContractListCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "list [--offering ID] [--status STATUS]", Short: "List contracts", Args: noArgs}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	offering := fs.String("offering", "", "only the contracts of this product offering")
	status := fs.String("status", "", "only contracts in this status: ACTIVE, SUSPENDED or TERMINATED")
	cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(contractStatuses, cobra.ShellCompDirectiveNoFileComp))
	limit := limitFlag(fs)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		q := url.Values{}
		if *offering != "" {
			q.Set("productOfferingId", *offering)
		}
		if *status != "" {
			q.Set("status", *status)
		}
		return runList(r, *limit, contractColumns, func(c *client.Client, cursor string, n int) (*client.Page[client.Contract], error) {
			return c.Contracts(cmd.Context(), q, cursor, n)
		})
	}
	return cmd
}

func newContractCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create ID --offering ID --start DATE --end DATE", Short: "Create a contract",
		Example: "  keyhaven contract create contract-001 --offering gold --customer 'Acme Ltd' --start 2030-01-01 --end 2030-12-31",
	}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	offering := fs.String("offering", "", "the product offering's id (required)")
	customer := fs.String("customer", "", "the customer's name")
	start := timeFlag(fs, "start", false, "when the contract starts: a time, a date (midnight UTC) or a duration from now")
	end := timeFlag(fs, "end", false, "when the contract ends: a time, a date (midnight UTC) or a duration from now")
	status := fs.String("status", "", "ACTIVE (the default), SUSPENDED or TERMINATED")
	cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(contractStatuses, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		if *offering == "" || !fs.Changed("start") || !fs.Changed("end") {
			return errors.New("a contract needs --offering, --start and --end")
		}
		now := time.Now()
		in := client.ContractInput{ID: args[0], ProductOfferingID: *offering, CustomerName: *customer,
			StartDate: *start.at(now), EndDate: *end.at(now), Status: *status}
		c, err := r.client()
		if err != nil {
			return err
		}
		k, raw, err := c.CreateContract(cmd.Context(), in)
		if err != nil {
			return err
		}
		return r.done(raw, "Created contract %s.", k.ID)
	}
	return cmd
}

func newContractUpdateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "update ID [--status STATUS] [--start DATE] [--end DATE]", Short: "Change a contract's status or dates"}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	status := fs.String("status", "", "ACTIVE, SUSPENDED or TERMINATED (final)")
	cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(contractStatuses, cobra.ShellCompDirectiveNoFileComp))
	start := timeFlag(fs, "start", false, "a new start: a time, a date (midnight UTC) or a duration from now")
	end := timeFlag(fs, "end", false, "a new end: a time, a date (midnight UTC) or a duration from now")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		now, patch := time.Now(), client.Patch{}
		if fs.Changed("status") {
			patch["status"] = *status
		}
		if fs.Changed("start") {
			patch["startDate"] = start.at(now)
		}
		if fs.Changed("end") {
			patch["endDate"] = end.at(now)
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		k, raw, err := c.UpdateContract(cmd.Context(), args[0], patch)
		if err != nil {
			return err
		}
		return r.done(raw, "Changed contract %s.", k.ID)
	}
	return cmd
}

var offeringColumns = []column{{"ID", "id"}, {"NAME", "name"}, {"ACCESS VALIDITY DAYS", "accessValidityDays"}, {"CREATED", "createdAt"}}

func newOfferingCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "create NAME [--id ID] [--access-validity-days N]", Short: "Create a product offering"}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	id := fs.String("id", "", "the offering's id, such as gold (generated when not given)")
	days := fs.Int("access-validity-days", 0, "when given, each access of its contracts lasts at most this many days")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "NAME"); err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		o, raw, err := c.CreateOffering(cmd.Context(), client.OfferingInput{ID: *id, Name: args[0], AccessValidityDays: *days})
		if err != nil {
			return err
		}
		return r.done(raw, "Created product offering %q (%s).", o.Name, o.ID)
	}
	return cmd
}
