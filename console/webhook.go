package console

import (
	"context"
	"net/http"

	"keyhaven.dev/keyhaven"
)

// webhookPath is the path of a webhook's page.
func webhookPath(id string) string { return "/webhooks/" + id }

// webhookLabels are the labels of a webhook form's fields.
var webhookLabels = map[string]string{"url": "URL", "events": "Events", "description": "Description"}

// webhookForm is a webhook's form: what the user typed, and the message of each invalid
// field by its name.
type webhookForm struct {
	Action, Submit, Cancel string
	URL, Description       string
	Enabled                bool
	Events                 []permOption
	Errors                 map[string]string
}

// eventOptions returns the event types a webhook form offers, those named in checked checked.
func eventOptions(checked []string) []permOption {
	return checkedOf(keyhaven.SubscribableEvents, checked)
}

// webhookFormFrom is the form as posted.
func webhookFormFrom(r *http.Request, action, submit, cancel string) webhookForm {
	return webhookForm{Action: action, Submit: submit, Cancel: cancel, URL: r.PostForm.Get("url"),
		Description: r.PostForm.Get("description"), Enabled: r.PostForm.Get("enabled") == "true", Events: eventOptions(r.PostForm["events"])}
}

// webhookFormError is the refusal that shows a webhook form again with the message of each
// invalid field.
func webhookFormError(err error, title string, f webhookForm) error {
	f.Errors, err = fieldErrors(err, "", nil, webhookLabels)
	return refused(err, "webhook_form", title, "webhooks", f)
}

func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	hooks, err := listed(c, r, p, c.svc.ListWebhooks, func(h *keyhaven.Webhook) string { return h.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "webhooks", "Webhooks", "webhooks", hooks)
}

func (c *Console) newWebhook(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	if err := p.Require(keyhaven.WEBHOOK_MANAGEMENT); err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "webhook_form", "New webhook", "webhooks", webhookForm{Action: "/webhooks", Submit: "Create",
		Cancel: "/webhooks", Enabled: true, Events: eventOptions(nil)})
}

func (c *Console) createWebhook(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	f := webhookFormFrom(r, "/webhooks", "Create", "/webhooks")
	hook, secret, err := c.svc.CreateWebhook(ctx(r), p, keyhaven.WebhookInput{URL: f.URL, Events: r.PostForm["events"],
		Description: f.Description, Enabled: &f.Enabled})
	if err != nil {
		return webhookFormError(err, "New webhook", f)
	}
	return c.showOnce(w, r, p, createdData{Nav: "webhooks",
		Heading: "Webhook created", Text: "Securely record this signing secret now: it is shown only once. Receivers check each event's webhook-signature with it.",
		Rows: [][2]string{{"URL", hook.URL}}, SecretLabel: "Signing secret", Secret: secret, Close: webhookPath(hook.ID),
		CloseLabel: "I have copied the signing secret - Close"})
}

// webhookPage is a webhook with a page of its delivery attempts, newest first.
type webhookPage struct {
	Hook       *keyhaven.Webhook
	Deliveries list[*keyhaven.WebhookAttempt]
	Notice     string
}

// webhookNotices are what the page says after a test or a resend sent the user back to it.
var webhookNotices = map[string]string{
	"test":   "A webhook.test event is queued: its delivery shows below once it is attempted.",
	"resend": "The event is queued again: its delivery shows below once it is attempted.",
}

// webhook shows a webhook and its latest delivery attempts, each with a button to send its
// event again.
func (c *Console) webhook(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	hook, err := c.svc.Webhook(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, err := listed(c, r, p, func(ctx context.Context, p *keyhaven.Principal, page keyhaven.Page) ([]*keyhaven.WebhookAttempt, error) {
		return c.svc.ListWebhookDeliveries(ctx, p, hook.ID, page)
	}, func(a *keyhaven.WebhookAttempt) string { return a.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "webhook", "Webhook", "webhooks", webhookPage{Hook: hook, Deliveries: ds,
		Notice: webhookNotices[r.URL.Query().Get("queued")]})
}

func (c *Console) editWebhook(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	hook, err := c.svc.Webhook(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	events := make([]string, len(hook.Events))
	for i, t := range hook.Events {
		events[i] = string(t)
	}
	return c.render(w, r, p, http.StatusOK, "webhook_form", "Edit webhook", "webhooks", webhookForm{Action: webhookPath(hook.ID) + "/edit",
		Submit: "Save", Cancel: webhookPath(hook.ID), URL: hook.URL, Description: hook.Description, Enabled: hook.Enabled, Events: eventOptions(events)})
}

func (c *Console) updateWebhook(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	f := webhookFormFrom(r, webhookPath(id)+"/edit", "Save", webhookPath(id))
	events := r.PostForm["events"]
	if _, err := c.svc.UpdateWebhook(ctx(r), p, id, keyhaven.WebhookUpdate{URL: &f.URL, Events: &events, Description: &f.Description,
		Enabled: &f.Enabled}); err != nil {
		return webhookFormError(err, "Edit webhook", f)
	}
	http.Redirect(w, r, webhookPath(id), http.StatusSeeOther)
	return nil
}

func (c *Console) confirmDeleteWebhook(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	hook, err := c.svc.Webhook(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.confirm(w, r, p, "Delete webhook", "webhooks", confirmData{Question: "Delete the webhook to " + hook.URL + "? " +
		"What is queued for it is dropped, with its deliveries; disabling it instead keeps its queue until it is enabled.",
		Action: webhookPath(hook.ID) + "/delete", Confirm: "Delete webhook", Cancel: webhookPath(hook.ID)})
}

func (c *Console) deleteWebhook(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	if err := c.svc.DeleteWebhook(ctx(r), p, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
	return nil
}

func (c *Console) testWebhook(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	if _, err := c.svc.TestWebhook(ctx(r), p, id); err != nil {
		return err
	}
	http.Redirect(w, r, webhookPath(id)+"?queued=test", http.StatusSeeOther)
	return nil
}

func (c *Console) resendWebhookDelivery(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	if err := c.svc.ResendWebhookDelivery(ctx(r), p, id, r.PathValue("delivery")); err != nil {
		return err
	}
	http.Redirect(w, r, webhookPath(id)+"?queued=resend", http.StatusSeeOther)
	return nil
}
