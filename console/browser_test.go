package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// screenshots is where the tests write pictures of the console's pages for reviewers:
// $KEYHAVEN_SCREENSHOTS, when set (`make screenshots` sets it to testdata/screenshots, where
// the repository keeps them), or "" when the tests take none. A run of the tests leaves the
// kept pictures as they are: each would differ by its ids and times.
func screenshots(t *testing.T) string {
	dir := os.Getenv("KEYHAVEN_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shot writes a screenshot of the page as name.png in screenshots' directory, if any: the
// window's width, and the page's height up to three windows (a long list need not fill the
// repository with pictures of more rows).
func shot(t *testing.T, ctx context.Context, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		dir := screenshots(t)
		if dir == "" {
			return nil
		}
		var size struct{ Width, Height, Page float64 }
		if err := chromedp.Evaluate(`({Width: window.innerWidth, Height: window.innerHeight, Page: document.documentElement.scrollHeight})`, &size).Do(ctx); err != nil {
			return err
		}
		buf, err := page.CaptureScreenshot().WithFormat(page.CaptureScreenshotFormatPng).WithCaptureBeyondViewport(true).
			WithClip(&page.Viewport{Width: size.Width, Height: min(size.Page, 3*size.Height), Scale: 1}).Do(ctx)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// browser starts headless Chromium (Debian's package) with extra options and returns a
// context driving it.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	// The profile is removed by hand once the browser is gone: Chromium's helper processes may
	// still be writing to it for a moment after the browser exits, which t.TempDir's own
	// removal reports as a failure.
	profile, err := os.MkdirTemp("", "keyhaven-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, chromedp.UserDataDir(profile))
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		chromedp.Cancel(ctx) // closes the browser and waits for it
		cancel()
		cancelAlloc()
		if err := eventually.Try(10*time.Second, func() error { return os.RemoveAll(profile) }); err != nil {
			t.Logf("browser profile left behind: %v", err)
		}
	})
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var loc string
		chromedp.Run(ctx, chromedp.Location(&loc))
		t.Fatalf("browser at %s: %v", loc, err)
	}
}

func signIn(e *apitest.Env, email, password string) chromedp.Tasks {
	return signInAt(e.URL, email, password)
}

// signInAt signs in at the console served at base.
func signInAt(base, email, password string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(base + "/login"),
		chromedp.WaitVisible(`#tenant`, chromedp.ByQuery),
		chromedp.SendKeys(`#tenant`, "acme", chromedp.ByQuery),
		chromedp.SendKeys(`#email`, email, chromedp.ByQuery),
		chromedp.SendKeys(`#password`, password, chromedp.ByQuery),
		chromedp.Click(`//button[text()="Sign in"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//header//button[text()="Sign out"]`, chromedp.BySearch),
		// Signing in lands on the dashboard or the applications, by permission; flows start at
		// the applications.
		chromedp.Navigate(base + "/applications"),
		chromedp.WaitVisible(`//h1[starts-with(normalize-space(.), "Applications")]`, chromedp.BySearch),
	}
}

func html(t *testing.T, ctx context.Context) string {
	var s string
	run(t, ctx, chromedp.OuterHTML("html", &s, chromedp.ByQuery))
	return s
}

// TestApplicationsFlow walks the applications flow by clicking the named buttons, copies the
// new key from the page and proves it real against POST /api/verify.
func TestApplicationsFlow(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	ctx := browser(t)
	run(t, ctx, chromedp.Navigate(e.URL+"/login"), chromedp.WaitVisible(`#tenant`, chromedp.ByQuery))
	run(t, ctx, signIn(e, "admin@acme.test", e.Acme.AdminPassword))

	run(t, ctx,
		chromedp.Click(`//a[text()="New"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[text()="New application"]`, chromedp.BySearch),
		chromedp.SendKeys(`#name`, "Billing integration", chromedp.ByQuery),
		chromedp.SendKeys(`#description`, "Invoices to the ERP", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Create"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//a[text()="Billing integration"]`, chromedp.BySearch),
		chromedp.Click(`//a[text()="Billing integration"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//a[text()="Access keys"]`, chromedp.BySearch),
		chromedp.Click(`//a[text()="Access keys"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#access-keys`, chromedp.ByQuery),
		chromedp.Click(`//a[text()="New"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[text()="New access key"]`, chromedp.BySearch),
		chromedp.SendKeys(`#name`, "erp-sync", chromedp.ByQuery),
		chromedp.Click(`input[name=scopes][value=READ]`, chromedp.ByQuery),
		chromedp.Click(`input[name=scopes][value=WRITE]`, chromedp.ByQuery),
		chromedp.Click(`//button[text()="Create"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[text()="Access key created"]`, chromedp.BySearch),
	)
	var key string
	run(t, ctx, chromedp.Text(`#secret-value`, &key, chromedp.ByQuery),
		chromedp.Click(`//button[text()="Copy"]`, chromedp.BySearch))
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, "kha_") {
		t.Fatalf("the page shows %q as the key", key)
	}
	run(t, ctx,
		chromedp.Click(`//button[text()="I have copied my access key - Close"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#access-keys`, chromedp.ByQuery))
	page := html(t, ctx)
	if !strings.Contains(page, "erp-sync") || strings.Contains(page, key) {
		t.Fatalf("the access keys table lacks the key or shows its secret")
	}

	// The key copied from the page is real.
	r := e.Do("POST", "/api/verify", "", map[string]any{"key": key, "permissions": []string{"READ", "WRITE"}})
	if r.Status != 200 || r.JSON()["code"] != "VALID" {
		t.Fatalf("verify the copied key: %d %s", r.Status, r.Body)
	}

	// Edit, then revoke with a confirmation.
	run(t, ctx,
		chromedp.Click(`//tr[@data-key]//a[text()="Edit"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#name`, chromedp.ByQuery),
		chromedp.SetValue(`#description`, "Nightly ERP sync", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Save"]`, chromedp.BySearch),
		// Saving leads to the key's page; its breadcrumb back to the application's keys.
		chromedp.WaitVisible(`//td[@id="description"][text()="Nightly ERP sync"]`, chromedp.BySearch),
		chromedp.Click(`//p[@class="crumbs"]/a[text()="Access keys"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//div[text()="Nightly ERP sync"]`, chromedp.BySearch),
		chromedp.Click(`//tr[@data-key]//a[text()="Revoke"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//button[text()="Revoke access key"]`, chromedp.BySearch),
		chromedp.Click(`//button[text()="Revoke access key"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#access-keys`, chromedp.ByQuery),
	)
	if strings.Contains(html(t, ctx), "erp-sync") {
		t.Fatal("a revoked key is still listed")
	}
	if r := e.Do("POST", "/api/verify", "", map[string]any{"key": key}); r.JSON()["code"] != "REVOKED" {
		t.Fatalf("verify the revoked key: %s", r.Body)
	}

	// Deleting a user warns how many credentials stop working.
	e.CreateUser("viewer@acme.test", keyhaven.VIEW_APPLICATIONS)
	var deleteWarning string
	run(t, ctx, chromedp.Navigate(e.URL+"/users"),
		chromedp.Click(`//tr[td[text()="viewer@acme.test"]]//a[text()="Delete"]`, chromedp.BySearch),
		// The warning is on the next page: wait for it to be there before reading it, or the
		// read may race the navigation.
		chromedp.WaitVisible(`.error`, chromedp.ByQuery),
		chromedp.Text(`.error`, &deleteWarning, chromedp.ByQuery))
	if !strings.Contains(deleteWarning, "1 credentials will stop working") {
		t.Fatalf("delete warning %q does not count the user's session", deleteWarning)
	}
}

// TestOwnKeysOnly signs in as a user holding only VIEW_ACCESS_KEYS_OWN: it sees no New button
// and no other user's keys.
func TestOwnKeysOnly(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	bg := context.Background()
	admins := createApp(t, e, e.Acme.APIKey, "admins-app")
	r := e.Do("POST", "/api/acme/applications/"+admins+"/access-keys", e.Acme.APIKey, map[string]any{"name": "admins-secret-key", "scopes": []string{"READ"}})
	if r.Status != 201 {
		t.Fatal(r.Status, string(r.Body))
	}
	uid, _ := e.CreateUser("own@acme.test", keyhaven.VIEW_ACCESS_KEYS_OWN)
	godmode := &keyhaven.Principal{TenantID: e.Acme.Tenant.ID, UserID: uid, Permissions: keyhaven.AllPermissions}
	mine, err := e.Svc.CreateApplication(bg, godmode, keyhaven.ApplicationInput{Name: ptr("my-app")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Svc.CreateAccessKey(bg, godmode, mine.ID, keyhaven.AccessKeyInput{Name: "my-key", Scopes: []string{"READ"}}); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	run(t, ctx, signIn(e, "own@acme.test", "correct-horse-battery"))
	page := html(t, ctx)
	if strings.Contains(page, ">New<") || !strings.Contains(page, "my-app") || strings.Contains(page, "admins-app") {
		t.Fatal("the applications page shows a New button or another user's application")
	}
	run(t, ctx, chromedp.Click(`//a[text()="my-app"]`, chromedp.BySearch),
		chromedp.Click(`//a[text()="Access keys"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#access-keys`, chromedp.ByQuery))
	page = html(t, ctx)
	if strings.Contains(page, ">New<") || !strings.Contains(page, "my-key") || strings.Contains(page, ">Revoke<") {
		t.Fatal("the access keys tab shows a New or Revoke button, or lacks the user's key")
	}
	run(t, ctx, chromedp.Navigate(e.URL+"/applications/"+admins+"/access-keys"), chromedp.WaitVisible(`h1`, chromedp.ByQuery))
	if page := html(t, ctx); strings.Contains(page, "admins-secret-key") || !strings.Contains(page, "Not Found") {
		t.Fatal("another user's application opened")
	}
}

// TestBatchProgress creates 2,000 accesses from the form and follows the progress bar to DONE.
func TestBatchProgress(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	e.ActiveContract(t)
	ctx := browser(t)
	run(t, ctx, signIn(e, "admin@acme.test", e.Acme.AdminPassword),
		chromedp.Navigate(e.URL+"/batches/new?contractId=contract-001"),
		chromedp.WaitVisible(`#numberOfAccesses`, chromedp.ByQuery),
		chromedp.SendKeys(`#numberOfAccesses`, "2000", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Create accesses"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#batch-progress`, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-batch-state="DONE"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#download-csv`, chromedp.ByQuery),
	)
	var width, label, href string
	run(t, ctx, chromedp.Evaluate(`document.querySelector("[data-bar]").style.width`, &width),
		chromedp.Text(`#batch-label`, &label, chromedp.ByQuery),
		chromedp.AttributeValue(`#download-csv`, "href", &href, nil, chromedp.ByQuery))
	if width != "100%" || !strings.Contains(label, "2000 created") {
		t.Fatalf("progress bar %q, label %q", width, label)
	}
	// The CSV download, with the browser's own session cookie.
	var cookies []*network.Cookie
	run(t, ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{e.URL}).Do(ctx)
		return err
	}))
	req, _ := http.NewRequest("GET", e.URL+href, nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	if _, err := fmt.Fprint(&b, readAll(res)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if res.StatusCode != 200 || len(lines) != 2001 || !strings.HasPrefix(lines[0], "id,username,password") {
		t.Fatalf("CSV: %d, %d lines", res.StatusCode, len(lines))
	}
	fields := strings.Split(lines[1], ",")
	if r := e.Do("POST", "/api/acme/access/verify", e.Acme.APIKey, map[string]string{"username": fields[1], "password": fields[2]}); r.JSON()["code"] != "VALID" {
		t.Fatalf("a credential from the CSV: %s", r.Body)
	}
}

// TestCrossOriginForms posts console forms with the session cookie as pages of other origins
// would (a browser says so in Sec-Fetch-Site or, over plain HTTP, in Origin): refused, and
// nothing is created. The console's own pages and clients that are no browser get through.
func TestCrossOriginForms(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	u, _ := url.Parse(e.URL)
	token := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
	jar.SetCookies(u, []*http.Cookie{{Name: "kh_session", Value: token}})
	post := func(name string, headers ...string) int {
		req, _ := http.NewRequest("POST", e.URL+"/applications", strings.NewReader(url.Values{"name": {name}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, s := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"another site", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"another origin of the site", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"another origin over plain HTTP", []string{"Origin", "http://evil.test"}, http.StatusForbidden},
		{"another port", []string{"Origin", "http://" + u.Hostname() + ":1"}, http.StatusForbidden},
		{"an opaque origin", []string{"Origin", "null"}, http.StatusForbidden},
		{"the console over TLS", []string{"Sec-Fetch-Site", "same-origin", "Origin", "https://" + u.Host}, http.StatusSeeOther},
		{"the console over plain HTTP", []string{"Origin", "http://" + u.Host}, http.StatusSeeOther},
		{"no browser", nil, http.StatusSeeOther},
	} {
		name := "forged"
		if s.want == http.StatusSeeOther {
			name = "genuine " + s.name
		}
		if st := post(name, s.headers...); st != s.want {
			t.Errorf("form from %s: %d, want %d", s.name, st, s.want)
		}
	}
	var page struct{ Items []struct{ Name string } }
	e.Do("GET", "/api/acme/applications", e.Acme.APIKey, nil).Decode(t, &page)
	for _, a := range page.Items {
		if a.Name == "forged" {
			t.Errorf("a forged form created an application")
		}
	}
	if len(page.Items) != 3 {
		t.Errorf("%d applications, want the 3 genuine ones", len(page.Items))
	}
}

func createApp(t *testing.T, e *apitest.Env, token, name string) string {
	t.Helper()
	r := e.Do("POST", "/api/acme/applications", token, map[string]any{"name": name})
	if r.Status != 201 {
		t.Fatal(r.Status, string(r.Body))
	}
	var a struct{ ID string }
	json.Unmarshal(r.Body, &a)
	return a.ID
}

func ptr[T any](v T) *T { return &v }

func readAll(res *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestConsoleOnAnyHostName serves the console over plain HTTP under a host name that is not
// localhost, where a browser drops Secure cookies: signing in, posting a form and signing out
// work, and a form another site posts, to sign in or to create, is refused.
func TestConsoleOnAnyHostName(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	u, _ := url.Parse(e.URL)
	base := "http://keyhaven.internal:" + u.Port()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action, fields := base+"/login", `<input name="tenant" value="acme"><input name="email" value="admin@acme.test"><input name="password" value="`+e.Acme.AdminPassword+`">`
		if r.URL.Path == "/create" {
			action, fields = base+"/applications", `<input name="name" value="forged">`
		}
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s">%s</form><script>document.getElementById("f").submit()</script>`, action, fields)
	}))
	t.Cleanup(other.Close)
	o, _ := url.Parse(other.URL)
	ctx := browser(t, chromedp.Flag("host-resolver-rules", "MAP keyhaven.internal 127.0.0.1, MAP other.internal 127.0.0.1"))

	signInCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := chromedp.Run(signInCtx, signInAt(base, "admin@acme.test", e.Acme.AdminPassword)); err != nil {
		cancel()
		var h1 string
		chromedp.Run(ctx, chromedp.Text(`h1`, &h1, chromedp.ByQuery))
		t.Fatalf("sign in at %s: %v; the page says %q", base, err, h1)
	}
	cancel()
	run(t, ctx, chromedp.Click(`//a[text()="New"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#name`, chromedp.ByQuery),
		chromedp.SendKeys(`#name`, "Plain HTTP", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Create"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//a[text()="Plain HTTP"]`, chromedp.BySearch))
	var cookies []*network.Cookie
	run(t, ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base}).Do(ctx)
		return err
	}))
	session := false
	for _, c := range cookies {
		session = session || c.Name == "kh_session"
		if c.Secure {
			t.Errorf("cookie %s is Secure over plain HTTP", c.Name)
		}
	}
	if !session {
		t.Fatalf("the browser keeps no session cookie: %+v", cookies)
	}

	for _, path := range []string{"/sign-in", "/create"} {
		var h1 string
		run(t, ctx, chromedp.Navigate("http://other.internal:"+o.Port()+path),
			chromedp.WaitVisible(`h1`, chromedp.ByQuery), chromedp.Text(`h1`, &h1, chromedp.ByQuery))
		if h1 != "Refused" {
			t.Errorf("a form posted from another site to %s: page %q, want Refused", path, h1)
		}
	}
	var page struct{ Items []struct{ Name string } }
	e.Do("GET", "/api/acme/applications", e.Acme.APIKey, nil).Decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Name != "Plain HTTP" {
		t.Errorf("applications %+v, want only the one made in the console", page.Items)
	}

	run(t, ctx, chromedp.Navigate(base+"/applications"), chromedp.WaitVisible(`//button[text()="Sign out"]`, chromedp.BySearch),
		chromedp.Click(`//button[text()="Sign out"]`, chromedp.BySearch), chromedp.WaitVisible(`#tenant`, chromedp.ByQuery))
}

// TestChangePasswordOnAPhone changes the signed-in user's password on a 390 px wide screen,
// from the navigation's link: the form fits the screen and the session stays signed in.
func TestChangePasswordOnAPhone(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	ctx := browser(t)
	const next = "a-brand-new-passphrase"
	var notice string
	var formRight float64
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), signIn(e, "admin@acme.test", e.Acme.AdminPassword),
		chromedp.Click(`//a[text()="Change password"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#current`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("main form").getBoundingClientRect().right`, &formRight),
		chromedp.SendKeys(`#current`, e.Acme.AdminPassword, chromedp.ByQuery),
		chromedp.SendKeys(`#new`, next, chromedp.ByQuery),
		chromedp.SendKeys(`#confirm`, next, chromedp.ByQuery),
		chromedp.Click(`//button[text()="Change password"]`, chromedp.BySearch),
		chromedp.WaitVisible(`.notice`, chromedp.ByQuery),
		chromedp.Text(`.notice`, &notice, chromedp.ByQuery),
		chromedp.Navigate(e.URL+"/applications"),
		chromedp.WaitVisible(`//h1[starts-with(normalize-space(.), "Applications")]`, chromedp.BySearch))
	if formRight > 390 {
		t.Errorf("the password form ends at %.0f px, past the 390 px screen", formRight)
	}
	if !strings.Contains(notice, "Your password was changed") {
		t.Errorf("notice %q", notice)
	}
	if r := e.Do("POST", "/api/acme/login", "", map[string]string{"email": "admin@acme.test", "password": next}); r.Status != http.StatusOK {
		t.Errorf("sign-in with the new password: %d", r.Status)
	}
}
