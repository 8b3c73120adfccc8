package console_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/console"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestReloadAfterCreate makes each kind of one-time secret in the browser (an access key, an
// API key, a rotation, a new user's generated password) and a batch, then reloads the page
// the form led to: the secret is not shown again, the page says it was shown once, and
// nothing is created or rotated a second time. Its close button leads back.
func TestReloadAfterCreate(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	e.ActiveContract(t)
	app := createApp(t, e, e.Acme.APIKey, "reloaded")
	bg := context.Background()
	admin := adminPrincipal(t, e)
	ctx := onScreen(t, screens[1])
	run(t, ctx, signIn(e, "admin@acme.test", e.Acme.AdminPassword))

	accessKeys := func() int {
		keys, err := e.Svc.ListAccessKeys(bg, admin, app, keyhaven.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	apiKeys := func() int {
		keys, err := e.Svc.ListAPIKeys(bg, admin)
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	users := func() int {
		us, err := e.Svc.ListUsers(bg, admin, keyhaven.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(us)
	}
	batches := func() int {
		ts, err := e.Svc.ListBatchTasks(bg, admin, keyhaven.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	var rotated string // the secret the rotation showed
	for _, s := range []struct {
		name  string
		form  chromedp.Tasks
		count func() int
		close string // where the close button leads
	}{
		{"access key", chromedp.Tasks{
			chromedp.Navigate(e.URL + "/applications/" + app + "/access-keys/new"),
			chromedp.WaitVisible(`#name`, chromedp.ByQuery),
			chromedp.SendKeys(`#name`, "made once", chromedp.ByQuery),
			chromedp.Click(`input[name=scopes][value=READ]`, chromedp.ByQuery),
			chromedp.Click(`//button[text()="Create"]`, chromedp.BySearch),
		}, accessKeys, "/applications/" + app + "/access-keys"},
		{"API key", chromedp.Tasks{
			chromedp.Navigate(e.URL + "/api-keys/new-key"),
			chromedp.WaitVisible(`#name`, chromedp.ByQuery),
			chromedp.SendKeys(`#name`, "made_once", chromedp.ByQuery),
			chromedp.Click(`input[name=permissions][value=READ]`, chromedp.ByQuery),
			chromedp.Click(`//button[text()="Create"]`, chromedp.BySearch),
		}, apiKeys, "/api-keys/made_once"},
		{"rotation", chromedp.Tasks{
			chromedp.Navigate(e.URL + "/api-keys/made_once/rotate"),
			chromedp.WaitVisible(`#grace`, chromedp.ByQuery),
			chromedp.Click(`//button[text()="Rotate API key"]`, chromedp.BySearch),
		}, func() int {
			// A second rotation would make the secret the first one showed stop working.
			if rotated != "" && verify(t, e, rotated, "") != "VALID" {
				return 2
			}
			return 1
		}, "/api-keys/made_once"},
		{"user", chromedp.Tasks{
			chromedp.Navigate(e.URL + "/users/new"),
			chromedp.WaitVisible(`#name`, chromedp.ByQuery),
			chromedp.SendKeys(`#name`, "made-once@acme.test", chromedp.ByQuery),
			chromedp.Click(`input[name=permissions][value=READ]`, chromedp.ByQuery),
			chromedp.Click(`//button[text()="Create"]`, chromedp.BySearch),
		}, users, "/users"},
	} {
		t.Run(s.name, func(t *testing.T) {
			before := s.count()
			var secret string
			run(t, ctx, s.form, chromedp.WaitVisible(`#secret-value`, chromedp.ByQuery), chromedp.Text(`#secret-value`, &secret, chromedp.ByQuery))
			if secret = strings.TrimSpace(secret); secret == "" {
				t.Fatal("no secret shown")
			}
			if s.name == "rotation" {
				rotated = secret
			}
			if after := s.count(); after != before+1 && s.name != "rotation" {
				t.Fatalf("%d before, %d after creating", before, after)
			}
			created := s.count()
			var loc string
			run(t, ctx, chromedp.Location(&loc))
			if res, err := chromedp.RunResponse(ctx, chromedp.Reload()); err != nil || res.Status != http.StatusOK {
				t.Fatalf("reload %s: %v, %v", loc, res, err)
			}
			page := html(t, ctx)
			if strings.Contains(page, secret) || strings.Contains(page, "secret-value") || !strings.Contains(page, "shown once") {
				t.Fatalf("the reloaded page shows the secret again or does not say it was shown once: %s", page)
			}
			if after := s.count(); after != created {
				t.Fatalf("reloading made another: %d, then %d", created, after)
			}
			var got string
			if _, err := chromedp.RunResponse(ctx, chromedp.Click(`#close-secret`, chromedp.ByQuery)); err != nil {
				t.Fatal(err)
			}
			run(t, ctx, chromedp.Location(&got))
			if u, _ := url.Parse(got); u.Path != s.close {
				t.Errorf("close leads to %s, want %s", u.Path, s.close)
			}
		})
	}

	t.Run("batch", func(t *testing.T) {
		run(t, ctx, chromedp.Navigate(e.URL+"/batches/new"), chromedp.WaitVisible(`#numberOfAccesses`, chromedp.ByQuery),
			chromedp.SetValue(`#contractId`, "contract-001", chromedp.ByQuery),
			chromedp.SendKeys(`#numberOfAccesses`, "3", chromedp.ByQuery),
			chromedp.Click(`//button[text()="Create accesses"]`, chromedp.BySearch),
			chromedp.WaitVisible(`#batch-progress`, chromedp.ByQuery))
		if n := batches(); n != 1 {
			t.Fatalf("%d batch tasks, want 1", n)
		}
		if res, err := chromedp.RunResponse(ctx, chromedp.Reload()); err != nil || res.Status != http.StatusOK {
			t.Fatalf("reload: %v, %v", res, err)
		}
		run(t, ctx, chromedp.WaitVisible(`#batch-progress`, chromedp.ByQuery))
		if n := batches(); n != 1 {
			t.Fatalf("%d batch tasks after reloading, want 1", n)
		}
	})
}

// TestOneTimeDisplay: a new secret's display is kept, between the form's POST and the GET it
// redirects to, in a cookie that is HttpOnly, SameSite=Strict, scoped to the display's own
// path and short-lived, sealed with the database's key: another node of the same database
// shows it (nothing is kept in a node's memory), another session cannot open it, and it
// stops opening once its few minutes are over.
func TestOneTimeDisplay(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	app := createApp(t, e, e.Acme.APIKey, "displays")
	v := consoleVisitor(t, e)
	create := func(name string) (*http.Response, *http.Cookie) {
		t.Helper()
		res, page := v.do("POST", "/applications/"+app+"/access-keys", url.Values{"name": {name}, "scopes": {"READ"}})
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/created/") {
			t.Fatalf("create: %d to %q, want 303 to /created/...: %s", res.StatusCode, res.Header.Get("Location"), page)
		}
		for _, c := range res.Cookies() {
			if c.Name == "kh_once" {
				return res, c
			}
		}
		t.Fatal("no cookie keeps the display")
		return nil, nil
	}
	res, ck := create("first")
	loc, _ := url.Parse(res.Header.Get("Location"))
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != loc.Path || ck.MaxAge <= 0 || ck.MaxAge > 600 {
		t.Errorf("cookie HttpOnly %v, SameSite %v, Path %q, MaxAge %d; want HttpOnly, Strict, %s, a few minutes", ck.HttpOnly, ck.SameSite, ck.Path, ck.MaxAge, loc.Path)
	}
	if strings.Contains(ck.Value, "kha_") {
		t.Error("the cookie holds the secret in clear")
	}

	// Another node of the same database, with the same sealing key, shows it.
	other := keyhaven.NewService(e.Store, slog.New(slog.DiscardHandler))
	other.Sealer, other.Clock = e.Svc.Sealer, e.Clock
	srv := httptest.NewServer(console.New(other, other.Log, console.Options{}))
	t.Cleanup(srv.Close)
	session := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
	get := func(base, session string, ck *http.Cookie) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+loc.String(), nil)
		req.AddCookie(&http.Cookie{Name: "kh_session", Value: session})
		req.AddCookie(ck)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", loc, res.StatusCode)
		}
		return readAll(res)
	}
	// The display is bound to the session that made it: another session of the same user
	// cannot open it.
	if page := get(srv.URL, session, ck); strings.Contains(page, "secret-value") {
		t.Error("another session opened the display")
	}
	visitorSession := ""
	base, _ := url.Parse(e.URL)
	for _, c := range v.client.Jar.Cookies(base) {
		if c.Name == "kh_session" {
			visitorSession = c.Value
		}
	}
	if page := get(srv.URL, visitorSession, ck); !strings.Contains(page, "secret-value") {
		t.Errorf("another node does not show the display: %s", page)
	}

	// The visitor's own GET shows it once, then no more.
	if _, page := v.do("GET", loc.String(), nil); !strings.Contains(page, "secret-value") {
		t.Fatalf("the display is not shown: %s", page)
	}
	if _, page := v.do("GET", loc.String(), nil); strings.Contains(page, "secret-value") || !strings.Contains(page, "shown once") {
		t.Fatalf("the display is shown twice: %s", page)
	}

	// A display kept past its few minutes no longer opens, whatever the browser keeps.
	res, ck = create("second")
	loc, _ = url.Parse(res.Header.Get("Location"))
	e.Clock.Advance(6 * time.Minute)
	if page := get(e.URL, visitorSession, ck); strings.Contains(page, "secret-value") {
		t.Error("a display opened after its time")
	}

	// The close link never leads off the console.
	for _, close := range []string{"https://evil.test/", "//evil.test/", `/\evil.test`} {
		_, page := v.do("GET", loc.Path+"?"+url.Values{"close": {close}}.Encode(), nil)
		if !strings.Contains(page, `action="/"`) {
			t.Errorf("close %q: the page does not lead back to the console: %s", close, page)
		}
	}
}
