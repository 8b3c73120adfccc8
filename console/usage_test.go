package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// usageData gives acme's key billing_sync ten hours of verifications (VALID, RATE_LIMITED
// past its rate limit, IP_NOT_ALLOWED from outside its allowlist), an access key some uses
// and an API key that expires in three days, and adds the counts to the store. It returns
// the access key's page.
func usageData(t *testing.T, e *apitest.Env) string {
	t.Helper()
	bg := context.Background()
	admin, err := e.Svc.Authenticate(bg, keyhaven.Use{Secret: e.Acme.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	_, billing, err := e.Svc.CreateAPIKey(bg, admin, keyhaven.APIKeyInput{Name: "billing_sync", Permissions: []string{"READ"},
		Policy: keyhaven.PolicyInput{IPAllowlist: []string{"10.0.0.0/8"}, RateLimit: &keyhaven.RateLimitInput{Limit: 6, PeriodSeconds: 60}}})
	if err != nil {
		t.Fatal(err)
	}
	soon := e.Clock.Now().Add(72 * time.Hour)
	if _, _, err := e.Svc.CreateAPIKey(bg, admin, keyhaven.APIKeyInput{Name: "nightly_export", Permissions: []string{"READ"}, Expires: &soon}); err != nil {
		t.Fatal(err)
	}
	app := createApp(t, e, e.Acme.APIKey, "erp")
	ak, erp, err := e.Svc.CreateAccessKey(bg, admin, app, keyhaven.AccessKeyInput{Name: "erp-sync", Scopes: []string{"READ"}})
	if err != nil {
		t.Fatal(err)
	}
	for hour := range 10 {
		for range 4 + hour*3%6 {
			verify(t, e, billing, "10.1.2.3")
		}
		for range hour % 3 {
			verify(t, e, billing, "192.0.2.1")
		}
		for range hour % 2 {
			verify(t, e, erp, "")
		}
		e.Clock.Advance(time.Hour)
	}
	if err := e.Node.Counter.Flush(bg); err != nil {
		t.Fatal(err)
	}
	return "/applications/" + app + "/access-keys/" + ak.ID
}

// TestUsageCharts draws the dashboard and a key's page at 1280 and 390 px wide: each has a
// chart with bars of the outcomes counted and a legend, the dashboard lists the most used
// keys and the keys expiring soon, and no page scrolls sideways.
func TestUsageCharts(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	accessKey := usageData(t, e)
	for _, screen := range screens {
		ctx := onScreen(t, screen)
		run(t, ctx, signIn(e, "admin@acme.test", e.Acme.AdminPassword))
		for _, page := range []struct{ path, shot string }{
			{"/dashboard", "dashboard"},
			{"/api-keys/billing_sync", "key-usage"},
			{accessKey, ""},
		} {
			var scrollWidth, innerWidth, svgWidth float64
			var outcomes, legend []string
			run(t, ctx, chromedp.Navigate(e.URL+page.path),
				chromedp.WaitVisible(`svg.chart`, chromedp.ByQuery),
				chromedp.Evaluate(`document.documentElement.scrollWidth`, &scrollWidth),
				chromedp.Evaluate(`window.innerWidth`, &innerWidth),
				chromedp.Evaluate(`document.querySelector("svg.chart").getBoundingClientRect().width`, &svgWidth),
				chromedp.Evaluate(`[...new Set([...document.querySelectorAll("svg.chart rect[data-outcome]")].filter(r => r.getBoundingClientRect().height > 0).map(r => r.dataset.outcome))].sort()`, &outcomes),
				chromedp.Evaluate(`[...document.querySelectorAll(".legend li")].map(li => li.textContent.trim().replace(/\s+/g, " "))`, &legend))
			name := fmt.Sprintf("%s at %d px", page.path, screen.width)
			if scrollWidth > innerWidth {
				t.Errorf("%s scrolls sideways: %v px wide in a %v px window", name, scrollWidth, innerWidth)
			}
			if svgWidth < innerWidth/2 || svgWidth > innerWidth {
				t.Errorf("%s: the chart is %v px wide in a %v px window", name, svgWidth, innerWidth)
			}
			want := []string{"IP_NOT_ALLOWED", "RATE_LIMITED", "VALID"}
			if page.path == accessKey {
				want = []string{"VALID"}
			}
			if fmt.Sprint(outcomes) != fmt.Sprint(want) {
				t.Errorf("%s: bars of %v, want %v", name, outcomes, want)
			}
			if len(legend) != len(want) || !strings.HasPrefix(legend[0], "VALID ") {
				t.Errorf("%s: legend %q, want one entry per outcome, VALID first", name, legend)
			}
			var title, label string
			run(t, ctx, chromedp.Evaluate(`document.querySelector("svg.chart > title").textContent`, &title),
				chromedp.AttributeValue(`svg.chart`, "aria-labelledby", &label, nil, chromedp.ByQuery))
			if !strings.HasPrefix(title, "Uses of ") || label == "" {
				t.Errorf("%s: chart title %q, aria-labelledby %q", name, title, label)
			}
			if page.path == "/dashboard" {
				page := html(t, ctx)
				for _, want := range []string{`href="/api-keys/billing_sync">billing_sync</a>`, `>erp-sync</a>`, `href="/api-keys/nightly_export">nightly_export</a>`} {
					if !strings.Contains(page, want) {
						t.Errorf("%s lacks %s", name, want)
					}
				}
			}
			if page.shot != "" {
				checkPage(t, ctx, screen, page.shot)
			}
		}
	}
}

// TestUsageNeedsUsageRead: without USAGE_READ a user sees no chart on a key's page, no
// dashboard link, and the dashboard refuses; the console's root leads to the dashboard only
// for those who hold it.
func TestUsageNeedsUsageRead(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	usageData(t, e)
	u, _ := url.Parse(e.URL)
	signedIn := func(email string, perms ...keyhaven.Permission) *visitor {
		t.Helper()
		e.CreateUser(email, perms...)
		v := newVisitor(t, u.Host, e.URL)
		_, page := v.do("GET", "/login", nil)
		_ = page
		res, body := v.do("POST", "/login", url.Values{"tenant": {"acme"}, "email": {email}, "password": {"correct-horse-battery"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %s: %d %s", email, res.StatusCode, body)
		}
		return v
	}
	keeper := signedIn("keeper@acme.test", keyhaven.KEY_MANAGEMENT)
	if res, page := keeper.do("GET", "/api-keys/billing_sync", nil); res.StatusCode != http.StatusOK || strings.Contains(page, `class="usage`) || strings.Contains(page, `href="/dashboard"`) {
		t.Errorf("a key's page without USAGE_READ: status %d, usage panel shown: %v", res.StatusCode, strings.Contains(page, `class="usage`))
	}
	if res, _ := keeper.do("GET", "/dashboard", nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("dashboard without USAGE_READ: %d, want 403", res.StatusCode)
	}
	if res, _ := keeper.do("GET", "/", nil); res.Header.Get("Location") != "/applications" {
		t.Errorf("the root without USAGE_READ leads to %q, want /applications", res.Header.Get("Location"))
	}
	analyst := signedIn("analyst@acme.test", keyhaven.USAGE_READ, keyhaven.KEY_MANAGEMENT)
	if res, page := analyst.do("GET", "/api-keys/billing_sync", nil); res.StatusCode != http.StatusOK || !strings.Contains(page, "<svg") || !strings.Contains(page, `href="/dashboard"`) {
		t.Errorf("a key's page with USAGE_READ: status %d, no chart or dashboard link", res.StatusCode)
	}
	if res, _ := analyst.do("GET", "/", nil); res.Header.Get("Location") != "/dashboard" {
		t.Errorf("the root with USAGE_READ leads to %q, want /dashboard", res.Header.Get("Location"))
	}
	// A usage reader who may see no key sees the usage, not the keys' expiries.
	reader := signedIn("reader@acme.test", keyhaven.USAGE_READ)
	if res, page := reader.do("GET", "/dashboard?period=7d", nil); res.StatusCode != http.StatusOK || !strings.Contains(page, "<svg") ||
		strings.Contains(page, "nightly_export") || !strings.Contains(page, `aria-current="page">7 days`) {
		t.Errorf("dashboard for a usage reader: status %d:\n%s", res.StatusCode, page)
	}
}
