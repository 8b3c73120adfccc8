package api_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

var (
	docsSection = regexp.MustCompile(`(?s)<section class="op" id="op-([^"]+)">\s*<h3><span class="method m-([A-Z]+)">[A-Z]+</span> <code class="path">([^<]+)</code></h3>`)
	docsURL     = regexp.MustCompile(`(?i)\b(?:src|href|action)\s*=\s*"([^"]*)"`)
)

// TestDocsListEveryOperation reads /api/docs for every operation of the served document (its
// method, path and summary, under its operation id) and every schema; the page loads nothing
// from elsewhere (its links are to itself and the document; its policy allows no other
// load); and the document does not list the page.
func TestDocsListEveryOperation(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	doc := served(t, e)
	r := mustStatus(t, e.Do("GET", "/api/docs", "", nil), http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("content type %q, want HTML", ct)
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "http") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q: want one that allows no load from elsewhere", csp)
	}
	page := string(r.Body)
	listed := map[string][2]string{}
	for _, m := range docsSection.FindAllStringSubmatch(page, -1) {
		listed[m[1]] = [2]string{m[2], html.UnescapeString(m[3])}
	}
	doc.operations(func(method, path string, o *operation) {
		got, ok := listed[o.OperationID]
		switch {
		case !ok:
			t.Errorf("%s %s (%s) is not in the docs", method, path, o.OperationID)
		case got != [2]string{method, path}:
			t.Errorf("%s in the docs is %v, want %s %s", o.OperationID, got, method, path)
		case !strings.Contains(page, html.EscapeString(o.Summary)):
			t.Errorf("%s: the docs lack its summary %q", o.OperationID, o.Summary)
		}
		delete(listed, o.OperationID)
	})
	for id := range listed {
		t.Errorf("the docs list %s, which the document does not", id)
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("the docs lack the schema %s", name)
		}
	}
	for _, m := range docsURL.FindAllStringSubmatch(page, -1) {
		if u := m[1]; !strings.HasPrefix(u, "#") && !strings.HasPrefix(u, "/api/openapi") {
			t.Errorf("the docs refer to %q: they load and link nothing but themselves and the document", u)
		}
	}
	for path := range doc.Paths {
		if strings.HasPrefix(path, "/api/docs") {
			t.Errorf("the document lists %s", path)
		}
	}
}

// TestDocsReadOnAPhone renders /api/docs in Chromium at a phone's width and a desktop's: the
// page is never wider than the screen, every style applies (the policy allows the inline
// stylesheet) and nothing is loaded from elsewhere. Screenshots go to testdata/screenshots.
func TestDocsReadOnAPhone(t *testing.T) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	e := apitest.New(t, testdb.SQLite)
	shots := os.Getenv("KEYHAVEN_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join("..", "testdata", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(filepath.Join(profile, "p")),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true))...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		chromedp.Cancel(ctx)
		cancel()
		cancelAlloc()
		if err := eventually.Try(10*time.Second, func() error { return os.RemoveAll(filepath.Join(profile, "p")) }); err != nil {
			t.Logf("browser profile left behind: %v", err)
		}
	})
	for _, width := range []int64{390, 1280} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			var overflow int64
			var badgeColor string
			var shot []byte
			err := chromedp.Run(ctx,
				chromedp.EmulateViewport(width, 900),
				chromedp.Navigate(e.URL+"/api/docs"),
				chromedp.WaitVisible(`#op-createAccess`, chromedp.ByQuery),
				chromedp.Evaluate(`document.documentElement.scrollWidth - window.innerWidth`, &overflow),
				chromedp.Evaluate(`getComputedStyle(document.querySelector('.m-POST')).backgroundColor`, &badgeColor),
				chromedp.CaptureScreenshot(&shot),
			)
			if err != nil {
				t.Fatal(err)
			}
			if overflow > 0 {
				t.Errorf("at %dpx the page is %dpx wider than the screen", width, overflow)
			}
			if badgeColor != "rgb(26, 127, 55)" {
				t.Errorf("a POST badge is %q: the stylesheet did not apply", badgeColor)
			}
			if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("api-docs-%d.png", width)), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}
