package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/view"
)

// Webhook is a webhook as the API shows it (see package view).
type Webhook = view.Webhook

// WebhookDelivery is one delivery attempt (see package view).
type WebhookDelivery = view.WebhookDelivery

// EventType is an event type a webhook may subscribe to; its schema enumerates them.
type EventType string

// Schema implements huma.SchemaProvider.
func (EventType) Schema(huma.Registry) *huma.Schema {
	enum := make([]any, len(keyhaven.SubscribableEvents))
	for i, t := range keyhaven.SubscribableEvents {
		enum[i] = string(t)
	}
	return &huma.Schema{Type: "string", Enum: enum, Description: "An event type (webhook.test is sent only by testing a webhook)"}
}

func eventStrings(ts []EventType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// WebhookPath names a webhook.
type WebhookPath struct {
	TenantPath
	ID string `path:"id" maxLength:"64" doc:"The webhook's id"`
}

type createWebhookInput struct {
	TenantPath
	Body struct {
		URL         string      `json:"url" maxLength:"2048" doc:"An http or https URL; with --webhook-allow, one of the destinations it allows"`
		Events      []EventType `json:"events" minItems:"1" maxItems:"64" doc:"The event types to send it"`
		Description string      `json:"description,omitempty" maxLength:"1000"`
		Enabled     *bool       `json:"enabled,omitempty" doc:"true when omitted"`
	}
}

type updateWebhookInput struct {
	WebhookPath
	Body struct {
		URL         Nullable[string]      `json:"url,omitzero" nullable:"false" maxLength:"2048"`
		Events      Nullable[[]EventType] `json:"events,omitzero" nullable:"false" maxItems:"64" doc:"Replaces the event types"`
		Description Nullable[string]      `json:"description,omitzero" maxLength:"1000" doc:"null clears it"`
		Enabled     Nullable[bool]        `json:"enabled,omitzero" nullable:"false"`
	}
}

type webhookOutput struct{ Body Webhook }

type listWebhooksInput struct {
	TenantPath
	PageParams
}

type listDeliveriesInput struct {
	WebhookPath
	PageParams
}

type resendInput struct {
	WebhookPath
	DeliveryID string `path:"deliveryId" maxLength:"64" doc:"A delivery attempt's id"`
}

// WebhookTestEvent names the webhook.test event a test queued.
type WebhookTestEvent struct {
	EventID string `json:"eventId" example:"msg_06bq5xk2hz1f8m3v9c4r7t0w" doc:"The event's id, sent as webhook-id"`
}

func (s *Server) registerWebhooks() {
	tags := []string{"webhooks"}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createWebhook", Method: http.MethodPost, Path: "/api/{tenant}/webhooks", Tags: tags,
		Summary: "Create a webhook", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Needs WEBHOOK_MANAGEMENT. The signing secret is in this response only. 400 destination_not_allowed when the " +
			"server's --webhook-allow does not allow the URL; 409 limit_reached when the tenant has its limit of webhooks. Honours Idempotency-Key.",
	}, true), func(ctx context.Context, in *createWebhookInput) (*webhookOutput, error) {
		b := &in.Body
		w, secret, err := s.svc.CreateWebhook(ctx, principal(ctx), keyhaven.WebhookInput{
			URL: b.URL, Events: eventStrings(b.Events), Description: b.Description, Enabled: b.Enabled})
		if err != nil {
			return nil, err
		}
		out := &webhookOutput{keyhaven.ViewWebhook(w)}
		out.Body.Secret = secret
		return out, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listWebhooks", Method: http.MethodGet, Path: "/api/{tenant}/webhooks", Tags: tags,
		Summary: "List the tenant's webhooks", Description: "Needs WEBHOOK_MANAGEMENT. Never shows a secret.",
	}, true), func(ctx context.Context, in *listWebhooksInput) (*listOutput[Webhook], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		hooks, err := s.svc.ListWebhooks(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		return newList(s, hooks, pg, keyhaven.ViewWebhook, func(w *keyhaven.Webhook) string { return w.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getWebhook", Method: http.MethodGet, Path: "/api/{tenant}/webhooks/{id}", Tags: tags,
		Summary: "Get a webhook", Description: "Needs WEBHOOK_MANAGEMENT. Never shows the secret.", Errors: []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *WebhookPath) (*webhookOutput, error) {
		w, err := s.svc.Webhook(ctx, principal(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookOutput{keyhaven.ViewWebhook(w)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "updateWebhook", Method: http.MethodPatch, Path: "/api/{tenant}/webhooks/{id}", Tags: tags,
		Summary: "Change a webhook", Errors: []int{http.StatusNotFound},
		Description: "Needs WEBHOOK_MANAGEMENT. A JSON merge patch, as application/merge-patch+json or application/json: an absent field " +
			"stays as it is; null clears description and is invalid for url, events and enabled. A disabled webhook is sent nothing; " +
			"what it has queued waits until it is enabled again.",
	}, true), func(ctx context.Context, in *updateWebhookInput) (*webhookOutput, error) {
		b := &in.Body
		for _, f := range []struct {
			name string
			null bool
		}{{"url", b.URL.Null}, {"events", b.Events.Null}, {"enabled", b.Enabled.Null}} {
			if err := notNull(f.name, f.null); err != nil {
				return nil, err
			}
		}
		var upd keyhaven.WebhookUpdate
		if b.URL.Set {
			upd.URL = &b.URL.Value
		}
		if b.Events.Set {
			events := eventStrings(b.Events.Value)
			upd.Events = &events
		}
		if b.Description.Set {
			upd.Description = &b.Description.Value // null: ""
		}
		if b.Enabled.Set {
			upd.Enabled = &b.Enabled.Value
		}
		w, err := s.svc.UpdateWebhook(ctx, principal(ctx), in.ID, upd)
		if err != nil {
			return nil, err
		}
		return &webhookOutput{keyhaven.ViewWebhook(w)}, nil
	})
	s.documentMergePatch("/api/{tenant}/webhooks/{id}")
	huma.Register(s.api, op(huma.Operation{
		OperationID: "deleteWebhook", Method: http.MethodDelete, Path: "/api/{tenant}/webhooks/{id}", Tags: tags,
		Summary: "Delete a webhook", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "Needs WEBHOOK_MANAGEMENT. What was queued for it and its deliveries go with it.",
	}, true), func(ctx context.Context, in *WebhookPath) (*struct{}, error) {
		return nil, s.svc.DeleteWebhook(ctx, principal(ctx), in.ID)
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "testWebhook", Method: http.MethodPost, Path: "/api/{tenant}/webhooks/{id}/test", Tags: tags,
		Summary: "Send a webhook a webhook.test event", DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound},
		Description: "Needs WEBHOOK_MANAGEMENT. Queues a webhook.test event, describing the webhook, for it alone, after what it has queued; " +
			"its deliveries tell how it went. 409 webhook_disabled when the webhook is disabled.",
	}, true), func(ctx context.Context, in *WebhookPath) (*struct{ Body WebhookTestEvent }, error) {
		id, err := s.svc.TestWebhook(ctx, principal(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body WebhookTestEvent }{WebhookTestEvent{EventID: id}}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listWebhookDeliveries", Method: http.MethodGet, Path: "/api/{tenant}/webhooks/{id}/deliveries", Tags: tags,
		Summary: "List a webhook's delivery attempts, newest first", Errors: []int{http.StatusNotFound},
		Description: "Needs WEBHOOK_MANAGEMENT. Each attempt: the event's id and type, when, and the receiver's status or why it failed. " +
			"Attempts are kept for 30 days.",
	}, true), func(ctx context.Context, in *listDeliveriesInput) (*listOutput[WebhookDelivery], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		attempts, err := s.svc.ListWebhookDeliveries(ctx, principal(ctx), in.ID, pg)
		if err != nil {
			return nil, err
		}
		return newList(s, attempts, pg, keyhaven.ViewWebhookAttempt, func(a *keyhaven.WebhookAttempt) string { return a.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "resendWebhookDelivery", Method: http.MethodPost, Path: "/api/{tenant}/webhooks/{id}/deliveries/{deliveryId}/resend", Tags: tags,
		Summary: "Send a delivery's event again", DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound},
		Description: "Needs WEBHOOK_MANAGEMENT. Queues the attempt's event again for the webhook, after what it has queued, with the same " +
			"webhook-id and body. 409 webhook_disabled when the webhook is disabled.",
	}, true), func(ctx context.Context, in *resendInput) (*struct{}, error) {
		return nil, s.svc.ResendWebhookDelivery(ctx, principal(ctx), in.ID, in.DeliveryID)
	})
}
