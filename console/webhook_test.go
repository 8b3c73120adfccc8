package console_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestWebhooksFlow creates a webhook in the console, copies its secret from the one-time
// page, sends a test and resends it, and checks both arrive signed with that secret; then it
// disables, edits and deletes the webhook. It takes the webhook pages' pictures on a desktop
// and a phone screen, and checks they fit them.
func TestWebhooksFlow(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
	}))
	defer rcv.Close()
	ctx := browser(t)
	var secret string
	run(t, ctx, signIn(e, "admin@acme.test", e.Acme.AdminPassword),
		chromedp.Click(`//nav/a[text()="Webhooks"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[starts-with(normalize-space(.), "Webhooks")]`, chromedp.BySearch),
		chromedp.Click(`//a[text()="New"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#url`, chromedp.ByQuery),
		chromedp.SendKeys(`#url`, "ftp://nowhere.example/", chromedp.ByQuery),
		chromedp.Click(`input[name=events][value="api_key.created"]`, chromedp.ByQuery),
		chromedp.Click(`//button[text()="Create"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#url-error`, chromedp.ByQuery),
		chromedp.SetValue(`#url`, rcv.URL+"/hooks", chromedp.ByQuery),
		chromedp.SendKeys(`#description`, "Billing sync", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Create"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#secret-value`, chromedp.ByQuery),
		chromedp.Text(`#secret-value`, &secret, chromedp.ByQuery),
		chromedp.WaitVisible(`//button[text()="Copy"]`, chromedp.BySearch),
		chromedp.Click(`#close-secret`, chromedp.ByQuery),
		chromedp.WaitVisible(`#webhook-url`, chromedp.ByQuery),
		chromedp.Click(`//button[text()="Send test"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//div[@class="notice"]`, chromedp.BySearch),
	)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the one-time page shows %q", secret)
	}
	var page string
	eventually.Within(t, 20*time.Second, func() error {
		run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(`#deliveries`, chromedp.ByQuery), chromedp.Text(`#deliveries`, &page, chromedp.ByQuery))
		if !strings.Contains(page, "delivered") {
			return fmt.Errorf("deliveries: %s", page)
		}
		return nil
	})
	run(t, ctx, shot(t, ctx, "webhook-deliveries-1280"),
		chromedp.Click(`//button[text()="Resend"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//div[@class="notice"]`, chromedp.BySearch))
	eventually.Within(t, 20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < 2 {
			return fmt.Errorf("%d requests", len(got))
		}
		return nil
	})
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if err := wh.Verify(bodies[i], r.Header); err != nil || !strings.Contains(string(bodies[i]), `"type":"webhook.test"`) {
			t.Fatalf("request %d: %v, %s", i, err, bodies[i])
		}
	}
	if got[0].Header.Get("webhook-id") != got[1].Header.Get("webhook-id") {
		t.Fatal("the resend has another webhook-id")
	}

	// On a phone: the list, the page and the form fit the screen.
	phone := browser(t)
	run(t, phone, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), signIn(e, "admin@acme.test", e.Acme.AdminPassword))
	var hookPath string
	run(t, phone, chromedp.Navigate(e.URL+"/webhooks"), chromedp.AttributeValue(`//a[text()="Deliveries"]`, "href", &hookPath, nil, chromedp.BySearch))
	for _, p := range []string{"/webhooks", "/webhooks/new", hookPath + "/edit", hookPath} {
		var width float64
		run(t, phone, chromedp.Navigate(e.URL+p), chromedp.WaitVisible(`h1`, chromedp.ByQuery), chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
		if width > 390 {
			t.Errorf("%s is %.0f px wide on a 390 px screen", p, width)
		}
	}
	run(t, phone, shot(t, phone, "webhook-deliveries-390"))

	// Disabled, it takes no test; deleted, it is gone.
	run(t, ctx, chromedp.Navigate(e.URL+hookPath+"/edit"), chromedp.WaitVisible(`#url`, chromedp.ByQuery),
		chromedp.Click(`input[name=enabled]`, chromedp.ByQuery),
		chromedp.Click(`//button[text()="Save"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#webhook-url`, chromedp.ByQuery))
	if !strings.Contains(html(t, ctx), "nothing is sent") {
		t.Fatal("the webhook page does not say it is disabled")
	}
	run(t, ctx, chromedp.Click(`//a[text()="Delete"]`, chromedp.BySearch),
		chromedp.Click(`//button[text()="Delete webhook"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//td[text()="No webhooks."]`, chromedp.BySearch))
}
