package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestPagingThroughAccesses creates 2,500 accesses (a batch, through the service) and pages
// through the Device accesses list in the browser by its Next page link: every page holds at
// most a page of rows, the pages hold every access once, the last page holds the last one
// and offers no next page. A filter holds from page to page.
func TestPagingThroughAccesses(t *testing.T) {
	const n = 2500
	e := apitest.New(t, testdb.SQLite)
	e.ActiveContract(t)
	r := e.Do("POST", "/api/acme/access/batch", e.Acme.APIKey, map[string]any{"contractId": "contract-001", "numberOfAccesses": n})
	if r.Status != http.StatusAccepted {
		t.Fatal(r.Status, string(r.Body))
	}
	task := r.JSON()["id"].(string)
	if state := e.WaitBatch(t, task).JSON()["state"]; state != "DONE" {
		t.Fatalf("batch: %v", state)
	}
	bg := context.Background()
	all, err := e.Store.ListAccesses(bg, e.Acme.Tenant.ID, keyhaven.AccessFilter{Page: keyhaven.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	for len(all)%1000 == 0 {
		more, err := e.Store.ListAccesses(bg, e.Acme.Tenant.ID, keyhaven.AccessFilter{Page: keyhaven.Page{Limit: 1000, After: all[len(all)-1].ID}})
		if err != nil {
			t.Fatal(err)
		}
		if all = append(all, more...); len(more) == 0 {
			break
		}
	}
	if len(all) != n {
		t.Fatalf("the store holds %d accesses, want %d", len(all), n)
	}

	ctx := onScreen(t, screens[0])
	run(t, ctx, signIn(e, "admin@acme.test", e.Acme.AdminPassword),
		chromedp.Navigate(e.URL+"/accesses?"+url.Values{"createdBy": {task}}.Encode()), chromedp.WaitVisible(`#accesses`, chromedp.ByQuery))
	seen := map[string]bool{}
	var last string
	pages := 0
	for {
		pages++
		if pages > n/50+5 {
			t.Fatal("the pages do not end")
		}
		var ids []string
		var next int
		var filter string
		run(t, ctx,
			chromedp.Evaluate(`[...document.querySelectorAll("#accesses tr[data-access]")].map(tr => tr.dataset.access)`, &ids),
			chromedp.Evaluate(`document.querySelectorAll("#next-page").length`, &next),
			chromedp.Value(`input[name=createdBy]`, &filter, chromedp.ByQuery))
		if len(ids) == 0 || len(ids) > 50 {
			t.Fatalf("page %d holds %d rows, want 1 to 50", pages, len(ids))
		}
		if filter != task {
			t.Fatalf("page %d lost the filter: %q", pages, filter)
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("page %d repeats %s", pages, id)
			}
			seen[id] = true
			last = id
		}
		if next == 0 {
			break
		}
		// Click the link and wait for the page it loads.
		if res, err := chromedp.RunResponse(ctx, chromedp.Click(`#next-page`, chromedp.ByQuery)); err != nil || res.Status != http.StatusOK {
			t.Fatalf("next page after page %d: %v, %v", pages, res, err)
		}
	}
	if len(seen) != n || pages != n/50 {
		t.Fatalf("%d pages held %d accesses, want %d pages of all %d", pages, len(seen), n/50, n)
	}
	if last != all[n-1].ID {
		t.Fatalf("the last page ends with %s, want the last access %s", last, all[n-1].ID)
	}
	var rows string
	run(t, ctx, chromedp.Text(`#rows`, &rows, chromedp.ByQuery))
	if rows != "Rows 2451–2500" {
		t.Errorf("the last page says %q, want Rows 2451–2500", rows)
	}
	checkLayout(t, ctx, screens[0], "the last page of accesses")
}

// TestCursorsAreTheConsoles: a list's page link carries a cursor the console sealed for that
// list. One it did not make, or made for another list, is a bad link (400 and the error
// page), never another page of data.
func TestCursorsAreTheConsoles(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	v := consoleVisitor(t, e)
	for i := range 55 {
		if _, err := e.Svc.CreateProductOffering(context.Background(), adminPrincipal(t, e), keyhaven.ProductOfferingInput{Name: "Offer " + string(rune('a'+i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	res, page := v.do("GET", "/offerings", nil)
	next := nextPage.FindStringSubmatch(page)
	if res.StatusCode != http.StatusOK || next == nil {
		t.Fatalf("GET /offerings: %d, next page %v", res.StatusCode, next)
	}
	link := strings.ReplaceAll(next[1], "&amp;", "&")
	if res, page := v.do("GET", link, nil); res.StatusCode != http.StatusOK || !strings.Contains(page, "Rows 51–55") {
		t.Fatalf("GET %s: %d, want rows 51 to 55", link, res.StatusCode)
	}
	cursor := strings.TrimPrefix(link, "/offerings?cursor=")
	for _, bad := range []string{"/contracts?cursor=" + cursor, "/offerings?cursor=bm90IGEgY3Vyc29y", "/offerings?cursor=" + cursor[:len(cursor)-2]} {
		res, page := v.do("GET", bad, nil)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Bad link") {
			t.Errorf("GET %s: %d, want 400 and the error page", bad, res.StatusCode)
		}
	}
}

var nextPage = regexp.MustCompile(`href="([^"]*)" rel="next"`)

// adminPrincipal returns acme's admin, signed in.
func adminPrincipal(t *testing.T, e *apitest.Env) *keyhaven.Principal {
	t.Helper()
	p, err := e.Svc.Authenticate(context.Background(), keyhaven.Use{Secret: e.Login("acme", "admin@acme.test", e.Acme.AdminPassword), Kind: keyhaven.KindSession})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
