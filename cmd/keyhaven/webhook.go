package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/client"
)

func newWebhookCmd(p *program) *cobra.Command {
	cmd := group(p, "webhook", "List, create, change, delete and test webhooks, and see their deliveries",
		listCmd(p, "List the tenant's webhooks", webhookColumns, (*client.Client).Webhooks),
		getCmd(p, "ID", "Show a webhook", completeWebhooks, (*client.Client).Webhook),
		newWebhookCreateCmd(p), newWebhookUpdateCmd(p),
		deleteCmd(p, "ID", "Delete a webhook", completeWebhooks, (*client.Client).DeleteWebhook, "Deleted webhook %s."),
		newWebhookTestCmd(p), newWebhookDeliveriesCmd(p), newWebhookResendCmd(p))
	cmd.Aliases = []string{"webhooks"}
	return cmd
}

var webhookColumns = []column{{"ID", "id"}, {"URL", "url"}, {"EVENTS", "events"}, {"ENABLED", "enabled"}, {"DESCRIPTION", "description"}}

var deliveryColumns = []column{{"ID", "id"}, {"EVENT", "eventId"}, {"TYPE", "type"}, {"ATTEMPT", "attempt"}, {"AT", "at"},
	{"OUTCOME", "outcome"}, {"STATUS", "status"}, {"ERROR", "error"}}

// eventsFlag adds --events, completed with the event types a webhook may subscribe to.
func eventsFlag(cmd *cobra.Command, usage string) *[]string {
	events := cmd.Flags().StringSlice("events", nil, usage)
	names := make([]string, len(keyhaven.SubscribableEvents))
	for i, t := range keyhaven.SubscribableEvents {
		names[i] = string(t)
	}
	cmd.RegisterFlagCompletionFunc("events", cobra.FixedCompletions(names, cobra.ShellCompDirectiveNoFileComp))
	return events
}

func newWebhookCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create URL --events EVENT,... [--description TEXT]", Short: "Create a webhook; its signing secret is shown once",
		Example: "  keyhaven webhook create https://hooks.example.com/keyhaven --events api_key.created,api_key.deleted",
	}
	r := addRemote(p, cmd)
	events := eventsFlag(cmd, "the events to send, comma-separated (repeatable)")
	description := cmd.Flags().String("description", "", "what the webhook is for")
	enabled := cmd.Flags().Bool("enabled", true, "send it events; --enabled=false creates it disabled")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "URL"); err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		h, raw, err := c.CreateWebhook(cmd.Context(), client.WebhookInput{URL: args[0], Events: *events, Description: *description, Enabled: enabled})
		if err != nil {
			return err
		}
		return r.withSecret(raw, "secret", "The signing secret", "Created webhook %s for %s.", h.ID, h.URL)
	}
	return cmd
}

func newWebhookUpdateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "update ID [--webhook-url URL] [--events EVENT,...] [--description TEXT] [--enabled=BOOL]", Short: "Change a webhook"}
	r := addRemote(p, cmd)
	cmd.ValidArgsFunction = completeWebhooks(r)
	fs := cmd.Flags()
	// Not --url: that is keyhaven's own.
	target := fs.String("webhook-url", "", "a new URL to send the events to")
	events := eventsFlag(cmd, "replaces the events to send, comma-separated")
	description := fs.String("description", "", "a new description")
	enabled := fs.Bool("enabled", true, "--enabled=false stops sending it events (what is queued waits); --enabled sends them again")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		patch := client.Patch{}
		if fs.Changed("webhook-url") {
			patch["url"] = *target
		}
		if fs.Changed("events") {
			patch["events"] = *events
		}
		if fs.Changed("description") {
			patch["description"] = *description
		}
		if fs.Changed("enabled") {
			patch["enabled"] = *enabled
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		h, raw, err := c.UpdateWebhook(cmd.Context(), args[0], patch)
		if err != nil {
			return err
		}
		return r.done(raw, "Changed webhook %s.", h.ID)
	}
	return cmd
}

func newWebhookTestCmd(p *program) *cobra.Command {
	cmd, r := oneArgCmd(p, "test", "ID", "Send a webhook the event webhook.test", completeWebhooks)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.clientFor(cmd, args, "ID")
		if err != nil {
			return err
		}
		raw, err := c.TestWebhook(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if len(raw) > 0 {
			return r.done(raw, "Sent webhook.test to webhook %s.", args[0])
		}
		return r.said("Sent webhook.test to webhook %s.", args[0])
	}
	return cmd
}

func newWebhookDeliveriesCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "deliveries ID", Short: "List a webhook's delivery attempts"}
	r := addRemote(p, cmd)
	cmd.ValidArgsFunction = completeWebhooks(r)
	limit := limitFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		return runList(r, *limit, deliveryColumns, func(c *client.Client, cursor string, n int) (*client.Page[map[string]any], error) {
			return c.Deliveries(cmd.Context(), args[0], cursor, n)
		})
	}
	return cmd
}

func newWebhookResendCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{Use: "resend ID DELIVERY", Short: "Send a delivery's event to its webhook again, with the same webhook-id"}
	r := addRemote(p, cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 2 {
			return fmt.Errorf("%s needs the webhook's ID and a delivery's ID (see webhook deliveries)", cmd.CommandPath()[len("keyhaven "):])
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		if err := c.ResendDelivery(cmd.Context(), args[0], args[1]); err != nil {
			return err
		}
		return r.said("Queued the event of delivery %s for webhook %s again.", args[1], args[0])
	}
	return cmd
}

// completeWebhooks completes webhook ids from the server, with their URLs.
func completeWebhooks(r *remote) cobra.CompletionFunc {
	return completeItems(r, (*client.Client).Webhooks, func(h client.Webhook) string { return h.ID + "\t" + h.URL })
}
