package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

type webhookJSON struct {
	ID, URL, Description, Secret, CreatedBy string
	Events                                  []string
	Enabled                                 bool
}

func TestWebhookRoutes(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testWebhookRoutes(t, open) })
	}
}

func testWebhookRoutes(t *testing.T, open testdb.Opener) {
	e := apitest.New(t, open)
	var mu sync.Mutex
	var ids []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		ids = append(ids, r.Header.Get("webhook-id"))
		mu.Unlock()
	}))
	defer rcv.Close()
	admin := e.Acme.APIKey
	_, noHooks := e.CreateUser("keys@acme.test", keyhaven.KEY_MANAGEMENT)
	body := map[string]any{"url": rcv.URL + "/in", "events": []string{"api_key.created", "api_key.deleted"}, "description": "billing"}

	var w webhookJSON
	mustStatus(t, e.Do("POST", "/api/acme/webhooks", admin, body, "Idempotency-Key", "hook-1"), http.StatusCreated).Decode(t, &w)
	if !strings.HasPrefix(w.Secret, keyhaven.WebhookSecretPrefix) || len(w.Secret) != len("whsec_")+44 || !w.Enabled || w.Description != "billing" {
		t.Fatalf("created %+v", w)
	}
	var again webhookJSON
	r := mustStatus(t, e.Do("POST", "/api/acme/webhooks", admin, body, "Idempotency-Key", "hook-1"), http.StatusCreated)
	r.Decode(t, &again)
	if again.ID != w.ID || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a replay made %s, want %s replayed", again.ID, w.ID)
	}
	secret := strings.TrimPrefix(w.Secret, "whsec_")
	path := "/api/acme/webhooks/" + w.ID
	for _, s := range []apitest.Scenario{
		{Name: "get", URL: path, Token: admin, ExpectedStatus: 200, ExpectedContent: []string{w.ID, `"api_key.deleted"`}, NotExpectedContent: []string{secret, `"secret"`}},
		{Name: "list", URL: "/api/acme/webhooks", Token: admin, ExpectedStatus: 200, ExpectedContent: []string{w.ID}, NotExpectedContent: []string{secret}},
		{Name: "list without the permission", URL: "/api/acme/webhooks", Token: noHooks, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "create without the permission", Method: "POST", URL: "/api/acme/webhooks", Token: noHooks, Body: body, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "test without the permission", Method: "POST", URL: path + "/test", Token: noHooks, ExpectedStatus: 403},
		{Name: "unknown id", URL: "/api/acme/webhooks/whk_00000000000000000000000000", Token: admin, ExpectedStatus: 404},
		{Name: "malformed id", URL: "/api/acme/webhooks/nonsense", Token: admin, ExpectedStatus: 404},
		{Name: "not a URL", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": "hooks", "events": []string{"user.deleted"}}, ExpectedStatus: 400, ExpectedContent: []string{`"field":"url"`}},
		{Name: "ftp", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": "ftp://example.com/", "events": []string{"user.deleted"}}, ExpectedStatus: 400},
		{Name: "user info", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": "https://me:pw@example.com/", "events": []string{"user.deleted"}}, ExpectedStatus: 400, NotExpectedContent: []string{"pw@"}},
		{Name: "port 0", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": "https://example.com:0/", "events": []string{"user.deleted"}}, ExpectedStatus: 400, ExpectedContent: []string{"port between 1 and 65535"}},
		{Name: "port past 65535", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": "https://example.com:65536/", "events": []string{"user.deleted"}}, ExpectedStatus: 400, ExpectedContent: []string{"port between 1 and 65535"}},
		{Name: "port far past 65535", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": "https://example.com:99999999999999999999/", "events": []string{"user.deleted"}}, ExpectedStatus: 400},
		{Name: "too long", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": "https://example.com/" + strings.Repeat("a", 2100), "events": []string{"user.deleted"}}, ExpectedStatus: 400},
		{Name: "no events", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": rcv.URL, "events": []string{}}, ExpectedStatus: 400},
		{Name: "unknown event", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": rcv.URL, "events": []string{"key.made"}}, ExpectedStatus: 400},
		{Name: "webhook.test is not subscribable", Method: "POST", URL: "/api/acme/webhooks", Token: admin, Body: map[string]any{"url": rcv.URL, "events": []string{"webhook.test"}}, ExpectedStatus: 400},
		{Name: "null url", Method: "PATCH", URL: path, Token: admin, Body: `{"url":null}`, ExpectedStatus: 400},
		{Name: "empty patch", Method: "PATCH", URL: path, Token: admin, Body: `{}`, ExpectedStatus: 400},
		{Name: "patch as text", Method: "PATCH", URL: path, Token: admin, Body: `{"enabled":false}`, Headers: []string{"Content-Type", "text/plain"}, ExpectedStatus: 415},
		{Name: "resend of no delivery", Method: "POST", URL: path + "/deliveries/dlv_00000000000000000000000000/resend", Token: admin, ExpectedStatus: 404},
	} {
		s.Run(t, e)
	}

	// A test goes to this webhook only, and a resend sends the same event again.
	var other webhookJSON
	mustStatus(t, e.Do("POST", "/api/acme/webhooks", admin, map[string]any{"url": rcv.URL + "/other", "events": []string{"user.deleted"}}), http.StatusCreated).Decode(t, &other)
	var sent struct{ EventID string }
	mustStatus(t, e.Do("POST", path+"/test", admin, nil), http.StatusAccepted).Decode(t, &sent)
	var deliveries struct {
		Items []struct{ ID, EventID, Type, Outcome string }
	}
	eventually.Within(t, 20*time.Second, func() error {
		mustStatus(t, e.Do("GET", path+"/deliveries", admin, nil), http.StatusOK).Decode(t, &deliveries)
		if len(deliveries.Items) != 1 {
			return fmt.Errorf("%d deliveries", len(deliveries.Items))
		}
		return nil
	})
	if d := deliveries.Items[0]; d.EventID != sent.EventID || d.Type != "webhook.test" || d.Outcome != "delivered" {
		t.Fatalf("delivery %+v, want webhook.test %s delivered", d, sent.EventID)
	}
	mustStatus(t, e.Do("POST", path+"/deliveries/"+deliveries.Items[0].ID+"/resend", admin, nil), http.StatusAccepted)
	eventually.Within(t, 20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(ids) != 2 {
			return fmt.Errorf("%d requests", len(ids))
		}
		return nil
	})
	if ids[0] != sent.EventID || ids[1] != sent.EventID {
		t.Fatalf("received %v, want the test event twice", ids)
	}
	mustStatus(t, e.Do("POST", "/api/acme/webhooks/"+other.ID+"/deliveries/"+deliveries.Items[0].ID+"/resend", admin, nil), http.StatusNotFound)

	// Disabled, it takes no test; changed back, it does.
	var changed webhookJSON
	mustStatus(t, e.Do("PATCH", path, admin, `{"enabled":false,"description":null,"events":["user.deleted"]}`,
		"Content-Type", "application/merge-patch+json"), http.StatusOK).Decode(t, &changed)
	if changed.Enabled || changed.Description != "" || len(changed.Events) != 1 || changed.URL != w.URL {
		t.Fatalf("after the patch: %+v", changed)
	}
	if r := mustStatus(t, e.Do("POST", path+"/test", admin, nil), http.StatusConflict); r.JSON()["code"] != "webhook_disabled" {
		t.Fatalf("test of a disabled webhook: %s", r.Body)
	}

	// The limit holds; deleting frees a place.
	for i := 2; i < keyhaven.MaxWebhooks; i++ {
		mustStatus(t, e.Do("POST", "/api/acme/webhooks", admin, map[string]any{"url": rcv.URL, "events": []string{"user.deleted"}}), http.StatusCreated)
	}
	if r := mustStatus(t, e.Do("POST", "/api/acme/webhooks", admin, map[string]any{"url": rcv.URL, "events": []string{"user.deleted"}}), http.StatusConflict); r.JSON()["code"] != "limit_reached" {
		t.Fatalf("past the limit: %s", r.Body)
	}
	mustStatus(t, e.Do("DELETE", path, admin, nil), http.StatusNoContent)
	mustStatus(t, e.Do("GET", path, admin, nil), http.StatusNotFound)
	mustStatus(t, e.Do("POST", "/api/acme/webhooks", admin, map[string]any{"url": rcv.URL, "events": []string{"user.deleted"}}), http.StatusCreated)

	// Another tenant sees none of it.
	other2, err := e.Svc.CreateTenant(t.Context(), "beta", "admin@beta.test")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, e.Do("GET", "/api/beta/webhooks/"+other.ID, other2.APIKey, nil), http.StatusNotFound)

	e.RequireAudited(t, "webhook.create", "webhook.create", "webhook.update", "webhook.delete", "webhook.test", "webhook.resend")
	for _, ev := range e.Audit("") {
		if strings.Contains(fmt.Sprint(ev.Detail), secret) {
			t.Fatalf("audit event %s holds the secret", ev.Action)
		}
	}
	if strings.Contains(e.Logs(), secret) {
		t.Fatal("the logs hold the secret")
	}
}

// TestWebhookURLCredentialsRedacted: what a destination URL carries for its receiver (user
// information, query values, a fragment) reaches no audit record, delivery error or log line,
// refused or accepted, while the webhook keeps its URL to send to.
func TestWebhookURLCredentialsRedacted(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testWebhookURLCredentialsRedacted(t, open) })
	}
}

func testWebhookURLCredentialsRedacted(t *testing.T, open testdb.Opener) {
	e := apitest.New(t, open)
	admin := e.Acme.APIKey
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing answers there: the attempt fails without a response
	events := []string{"user.deleted"}
	for _, url := range []string{"https://me:pw-secret@example.com/", "https:me:opaque-secret@example.com/", "https://example.com/#frag-secret"} {
		mustStatus(t, e.Do("POST", "/api/acme/webhooks", admin, map[string]any{"url": url, "events": events}), http.StatusBadRequest)
	}
	url := closed.URL + "/in?token=query-secret&v=2"
	var w webhookJSON
	mustStatus(t, e.Do("POST", "/api/acme/webhooks", admin, map[string]any{"url": url, "events": events}), http.StatusCreated).Decode(t, &w)
	path := "/api/acme/webhooks/" + w.ID
	mustStatus(t, e.Do("PATCH", path, admin, map[string]any{"url": "https://bot:patch-secret@example.com/"}), http.StatusBadRequest)
	mustStatus(t, e.Do("PATCH", path, admin, map[string]any{"url": url + "&sig=patched-secret"}), http.StatusOK)
	mustStatus(t, e.Do("PATCH", path, admin, map[string]any{"url": url}), http.StatusOK)
	mustStatus(t, e.Do("POST", path+"/test", admin, nil), http.StatusAccepted)
	var deliveries struct {
		Items []struct{ Error, Outcome string }
	}
	eventually.Within(t, 20*time.Second, func() error {
		mustStatus(t, e.Do("GET", path+"/deliveries", admin, nil), http.StatusOK).Decode(t, &deliveries)
		if len(deliveries.Items) == 0 {
			return fmt.Errorf("no attempt yet")
		}
		return nil
	})
	if d := deliveries.Items[0]; d.Outcome != "failed" || d.Error == "" {
		t.Fatalf("attempt to a closed port: %+v", d)
	}

	secrets := []string{"pw-secret", "opaque-secret", "frag-secret", "query-secret", "patch-secret", "patched-secret"}
	audit := e.Audit("")
	var shown []string
	for _, ev := range audit {
		detail := fmt.Sprint(ev.Detail)
		for _, s := range secrets {
			if strings.Contains(detail, s) {
				t.Errorf("audit record %s %s holds %s: %s", ev.Action, ev.Outcome, s, detail)
			}
		}
		if u, ok := ev.Detail["url"].(string); ok {
			shown = append(shown, u)
		}
	}
	// The records still say where the webhook sends, and which query parameters it has.
	if !slices.Contains(shown, closed.URL+"/in?token=xxxxx&v=xxxxx") || !slices.Contains(shown, "https://xxxxx@example.com/") {
		t.Errorf("the records show the URLs as %q", shown)
	}
	for _, d := range deliveries.Items {
		for _, s := range secrets {
			if strings.Contains(d.Error, s) {
				t.Errorf("delivery error %q holds %s", d.Error, s)
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(e.Logs(), s) {
			t.Errorf("the logs hold %s", s)
		}
	}
	var got webhookJSON
	mustStatus(t, e.Do("GET", path, admin, nil), http.StatusOK).Decode(t, &got)
	if got.URL != url {
		t.Fatalf("the webhook's URL is %q, want %q as given", got.URL, url)
	}
}
