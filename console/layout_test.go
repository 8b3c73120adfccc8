package console_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// visit opens one page of the console, by following a link or filling a form, and waits
// until it is there.
type visit struct {
	page    string // the screenshot's name
	actions func(s screen) chromedp.Tasks
}

// open navigates to path and waits for its main heading.
func open(base, path string) func(screen) chromedp.Tasks {
	return func(screen) chromedp.Tasks {
		return chromedp.Tasks{chromedp.Navigate(base + path), chromedp.WaitVisible(`main h1`, chromedp.ByQuery)}
	}
}

// TestEveryPageOnPhoneAndDesktop opens every page of the console on a 1280x800 desktop screen
// and a 390x844 phone screen, with long names, long policies, a list longer than a page, a
// form's field errors and one-time secrets, and checks each (checkLayout): no page scrolls
// sideways, every visible control is on the screen, uncovered, and on the phone large enough
// to tap, and Sign out is on the screen. Each page's screenshot is kept as
// testdata/screenshots/<page>-<width>.png.
func TestEveryPageOnPhoneAndDesktop(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	e.ActiveContract(t)
	bg := context.Background()
	admin, err := e.Svc.Authenticate(bg, keyhaven.Use{Secret: e.Login("acme", "admin@acme.test", e.Acme.AdminPassword), Kind: keyhaven.KindSession})
	if err != nil {
		t.Fatal(err)
	}
	policy := keyhaven.PolicyInput{
		IPAllowlist: []string{"2001:db8:1234:5678:9abc:def0:1234:0/112", "203.0.113.0/24", "198.51.100.77"},
		RateLimit:   &keyhaven.RateLimitInput{Limit: 1000000, PeriodSeconds: 86400},
		Credits:     &keyhaven.CreditsInput{Remaining: 1000000000000, Refill: &keyhaven.RefillInput{Amount: 1000000000000, Interval: "MONTHLY"}},
		Meta:        []byte(`{"customer":"cus_` + strings.Repeat("x9", 120) + `","plan":"enterprise","limits":{"seats":250,"regions":["eu-west-1","us-east-1"]}}`),
	}
	apiKeyName := "a_rather_long_api_key_name_for_a_phone_screen"
	if _, _, err := e.Svc.CreateAPIKey(bg, admin, keyhaven.APIKeyInput{Name: apiKeyName, Permissions: []string{"READ", "VIEW_ACCESS_KEYS_OWN", "CREATE_ACCESS_KEYS_ANY"}, Policy: policy}); err != nil {
		t.Fatal(err)
	}
	app := createApp(t, e, e.Acme.APIKey, "a-rather-long-application-name-for-a-phone-screen-and-more")
	key, _, err := e.Svc.CreateAccessKey(bg, admin, app, keyhaven.AccessKeyInput{Name: "a rather long access key name for a phone",
		Description: "Nightly synchronisation of every invoice to the enterprise resource planning system", Scopes: []string{"READ"}, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.CreateContract(bg, admin, keyhaven.ContractInput{ID: "contract-with-a-rather-long-identifier-0002", ProductOfferingID: "plain",
		CustomerName: "A customer whose name is long enough to wrap on any phone", StartDate: e.Clock.Now(), EndDate: e.Clock.Now().AddDate(1, 0, 0),
		Status: keyhaven.ContractSuspended}); err != nil {
		t.Fatal(err)
	}
	access, _, err := e.Svc.CreateAccess(bg, admin, "contract-001", keyhaven.AccessInput{DeviceName: "a sensor on the roof of the north warehouse, third from the left"})
	if err != nil {
		t.Fatal(err)
	}
	// A batch longer than a page of accesses, so that lists show their pager.
	r := e.Do("POST", "/api/acme/access/batch", e.Acme.APIKey, map[string]any{"contractId": "contract-001", "numberOfAccesses": 60})
	if r.Status != http.StatusAccepted {
		t.Fatal(r.Status, string(r.Body))
	}
	task := r.JSON()["id"].(string)
	e.WaitBatch(t, task)
	viewer, _ := e.CreateUser("viewer.with.a.long.address@acme.test", keyhaven.VIEW_APPLICATIONS)
	// A webhook whose receiver refuses connections, so that its page lists failed deliveries.
	hook, _, err := e.Svc.CreateWebhook(bg, admin, keyhaven.WebhookInput{URL: "http://127.0.0.1:9/a-rather-long-path/for-a-phone-screen/receiving-keyhaven-events",
		Description: "Billing synchronisation of every API key change to the enterprise resource planning system",
		Events:      []string{"api_key.created", "api_key.updated", "api_key.deleted", "access_key.created", "access_key.rotated", "access_key.revoked"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.TestWebhook(bg, admin, hook.ID); err != nil {
		t.Fatal(err)
	}

	base := e.URL
	appPath, apiKeyPath, keyPath := "/applications/"+app, "/api-keys/"+apiKeyName, "/applications/"+app+"/access-keys/"+key.ID
	click := func(xpath string) chromedp.Action { return chromedp.Click(xpath, chromedp.BySearch) }
	visits := []visit{
		{"applications", open(base, "/applications")},
		{"application", open(base, appPath)},
		{"application-access-keys", open(base, appPath+"/access-keys")},
		{"application-new", open(base, "/applications/new")},
		{"application-edit", open(base, appPath+"/edit")},
		{"application-revoke", open(base, appPath+"/revoke")},
		{"access-key-new", open(base, appPath+"/access-keys/new")},
		{"access-key-new-error", func(screen) chromedp.Tasks {
			return chromedp.Tasks{
				chromedp.Navigate(base + appPath + "/access-keys/new"),
				chromedp.WaitVisible(`#name`, chromedp.ByQuery),
				chromedp.SendKeys(`#name`, "refused", chromedp.ByQuery),
				chromedp.Click(`input[name=scopes][value=READ]`, chromedp.ByQuery),
				chromedp.SendKeys(`#ip-allowlist`, "2001:db8:1234:5678:9abc:def0:1234:0/129-is-no-range-at-all-and-rather-long", chromedp.ByQuery),
				click(`//button[text()="Create"]`),
				chromedp.WaitVisible(`#ip-allowlist-error`, chromedp.ByQuery),
			}
		}},
		{"access-key-created", func(s screen) chromedp.Tasks {
			return chromedp.Tasks{
				chromedp.Navigate(base + appPath + "/access-keys/new"),
				chromedp.WaitVisible(`#name`, chromedp.ByQuery),
				chromedp.SendKeys(`#name`, fmt.Sprintf("made on a %d px screen", s.width), chromedp.ByQuery),
				chromedp.Click(`input[name=scopes][value=READ]`, chromedp.ByQuery),
				click(`//button[text()="Create"]`),
				chromedp.WaitVisible(`#secret-value`, chromedp.ByQuery),
			}
		}},
		{"access-key-created-reloaded", func(screen) chromedp.Tasks {
			return chromedp.Tasks{chromedp.Reload(), chromedp.WaitVisible(`#close-secret`, chromedp.ByQuery)}
		}},
		{"access-key", open(base, keyPath)},
		{"access-key-edit", open(base, keyPath+"/edit")},
		{"access-key-rotate", open(base, keyPath+"/rotate")},
		{"access-key-rotated", func(screen) chromedp.Tasks {
			return chromedp.Tasks{
				chromedp.Navigate(base + keyPath + "/rotate"),
				chromedp.WaitVisible(`#grace`, chromedp.ByQuery),
				chromedp.SetValue(`#grace`, "3600", chromedp.ByQuery),
				click(`//button[text()="Rotate access key"]`),
				chromedp.WaitVisible(`#secret-value`, chromedp.ByQuery),
			}
		}},
		{"access-key-revoke", open(base, keyPath+"/revoke")},
		{"api-keys", open(base, "/api-keys")},
		{"api-key-new", open(base, "/api-keys/new-key")},
		{"api-key-created", func(s screen) chromedp.Tasks {
			return chromedp.Tasks{
				chromedp.Navigate(base + "/api-keys/new-key"),
				chromedp.WaitVisible(`#name`, chromedp.ByQuery),
				chromedp.SendKeys(`#name`, fmt.Sprintf("made_on_%d", s.width), chromedp.ByQuery),
				chromedp.Click(`input[name=permissions][value=READ]`, chromedp.ByQuery),
				click(`//button[text()="Create"]`),
				chromedp.WaitVisible(`#secret-value`, chromedp.ByQuery),
			}
		}},
		{"api-key", open(base, apiKeyPath)},
		{"api-key-edit", open(base, apiKeyPath+"/edit")},
		{"api-key-rotate", open(base, apiKeyPath+"/rotate")},
		{"api-key-delete", open(base, apiKeyPath+"/delete")},
		{"users", open(base, "/users")},
		{"user-new", open(base, "/users/new")},
		{"user-created", func(s screen) chromedp.Tasks {
			return chromedp.Tasks{
				chromedp.Navigate(base + "/users/new"),
				chromedp.WaitVisible(`#name`, chromedp.ByQuery),
				chromedp.SendKeys(`#name`, fmt.Sprintf("made-on-%d@acme.test", s.width), chromedp.ByQuery),
				chromedp.Click(`input[name=permissions][value=READ]`, chromedp.ByQuery),
				click(`//button[text()="Create"]`),
				chromedp.WaitVisible(`#secret-value`, chromedp.ByQuery),
			}
		}},
		{"user-edit", open(base, "/users/"+viewer+"/edit")},
		{"user-delete", open(base, "/users/"+viewer+"/delete")},
		{"contracts", open(base, "/contracts")},
		{"contract-new", open(base, "/contracts/new")},
		{"contract-edit", open(base, "/contracts/contract-with-a-rather-long-identifier-0002/edit")},
		{"offerings", open(base, "/offerings")},
		{"offering-new", open(base, "/offerings/new")},
		{"accesses", open(base, "/accesses")},
		{"access", open(base, "/accesses/"+access.ID)},
		{"access-edit", open(base, "/accesses/"+access.ID+"/edit")},
		{"batches", open(base, "/batches")},
		{"batch-new", open(base, "/batches/new")},
		{"batch", func(screen) chromedp.Tasks {
			return chromedp.Tasks{chromedp.Navigate(base + "/batches/" + task), chromedp.WaitVisible(`#download-csv`, chromedp.ByQuery)}
		}},
		{"dashboard-layout", open(base, "/dashboard")},
		{"webhooks", open(base, "/webhooks")},
		{"webhook-new", open(base, "/webhooks/new")},
		{"webhook-new-error", func(screen) chromedp.Tasks {
			return chromedp.Tasks{
				chromedp.Navigate(base + "/webhooks/new"),
				chromedp.WaitVisible(`#url`, chromedp.ByQuery),
				chromedp.SendKeys(`#url`, "ftp://nowhere.example/", chromedp.ByQuery),
				chromedp.Click(`input[name=events][value="api_key.created"]`, chromedp.ByQuery),
				click(`//button[text()="Create"]`),
				chromedp.WaitVisible(`#url-error`, chromedp.ByQuery),
			}
		}},
		{"webhook-created", func(s screen) chromedp.Tasks {
			return chromedp.Tasks{
				chromedp.Navigate(base + "/webhooks/new"),
				chromedp.WaitVisible(`#url`, chromedp.ByQuery),
				chromedp.SendKeys(`#url`, fmt.Sprintf("http://127.0.0.1:9/made-on-%d", s.width), chromedp.ByQuery),
				chromedp.Click(`input[name=events][value="api_key.created"]`, chromedp.ByQuery),
				click(`//button[text()="Create"]`),
				chromedp.WaitVisible(`#secret-value`, chromedp.ByQuery),
			}
		}},
		{"webhook", open(base, "/webhooks/"+hook.ID)},
		{"webhook-edit", open(base, "/webhooks/"+hook.ID+"/edit")},
		{"webhook-delete", open(base, "/webhooks/"+hook.ID+"/delete")},
		{"audit", open(base, "/audit")},
		{"password", open(base, "/password")},
		{"not-found", open(base, "/no-such-page")},
	}
	for _, s := range screens {
		t.Run(s.String(), func(t *testing.T) {
			ctx := onScreen(t, s)
			run(t, ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(`#tenant`, chromedp.ByQuery))
			checkPage(t, ctx, s, "sign-in")
			run(t, ctx, signIn(e, "admin@acme.test", e.Acme.AdminPassword))
			for _, v := range visits {
				run(t, ctx, v.actions(s))
				checkPage(t, ctx, s, v.page)
			}
		})
	}
}
