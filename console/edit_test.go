package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestEditContract changes a contract's status on its edit form: the status changes, and the
// dates, which the form shows to the minute, keep their seconds. A form that changes
// TERMINATED into another status is refused on the form.
func TestEditContract(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testEditContract(t, apitest.New(t, open)) })
	}
}

func testEditContract(t *testing.T, e *apitest.Env) {
	bg := context.Background()
	admin := adminPrincipal(t, e)
	if _, err := e.Svc.CreateProductOffering(bg, admin, keyhaven.ProductOfferingInput{ID: "plain", Name: "Plain"}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := e.Svc.CreateContract(bg, admin, keyhaven.ContractInput{ID: "c-1", ProductOfferingID: "plain", StartDate: start, EndDate: start.AddDate(1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	v := consoleVisitor(t, e)
	if _, page := v.do("GET", "/contracts", nil); !strings.Contains(page, `href="/contracts/c-1/edit"`) {
		t.Fatal("the contracts list links no edit form")
	}
	res, page := v.do("GET", "/contracts/c-1/edit", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET the edit form: %d", res.StatusCode)
	}
	form := formOf(page)
	if form.Get("startDate") != "2030-01-02T03:04" || form.Get("status") != "ACTIVE" {
		t.Fatalf("the form holds %v", form)
	}
	form.Set("status", "SUSPENDED")
	if res, page := v.do("POST", "/contracts/c-1/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d: %s", res.StatusCode, page)
	}
	c, err := e.Svc.Contract(bg, admin, "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != keyhaven.ContractSuspended || !c.StartDate.Equal(start) || !c.EndDate.Equal(start.AddDate(1, 0, 0)) {
		t.Fatalf("contract %s from %s to %s, want SUSPENDED with its dates as they were", c.Status, c.StartDate, c.EndDate)
	}

	// A new end date is set to the minute.
	_, page = v.do("GET", "/contracts/c-1/edit", nil)
	form = formOf(page)
	form.Set("endDate", "2031-06-30T12:00")
	if res, page := v.do("POST", "/contracts/c-1/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d: %s", res.StatusCode, page)
	}
	if c, _ = e.Svc.Contract(bg, admin, "c-1"); !c.EndDate.Equal(time.Date(2031, 6, 30, 12, 0, 0, 0, time.UTC)) || !c.StartDate.Equal(start) {
		t.Fatalf("contract from %s to %s", c.StartDate, c.EndDate)
	}

	// TERMINATED is final, and the form says so.
	_, page = v.do("GET", "/contracts/c-1/edit", nil)
	form = formOf(page)
	form.Set("status", "TERMINATED")
	if res, _ := v.do("POST", "/contracts/c-1/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("terminate: %d", res.StatusCode)
	}
	_, page = v.do("GET", "/contracts/c-1/edit", nil)
	form = formOf(page)
	form.Set("status", "ACTIVE")
	res, page = v.do("POST", "/contracts/c-1/edit", form)
	if res.StatusCode != http.StatusConflict || !strings.Contains(page, `role="alert"`) || !strings.Contains(page, `id="status"`) {
		t.Fatalf("reviving a terminated contract: %d, want 409 on the form: %s", res.StatusCode, page)
	}
	if res, _ := v.do("GET", "/contracts/no-such/edit", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown contract's form: %d, want 404", res.StatusCode)
	}
}

// TestEditAccess suspends a device access and gives it a new password on its edit form: the
// device then signs in with the new password only once active again. Saving a new password
// does not undo a status someone changed since the form was loaded.
func TestEditAccess(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testEditAccess(t, apitest.New(t, open)) })
	}
}

func testEditAccess(t *testing.T, e *apitest.Env) {
	e.ActiveContract(t)
	bg := context.Background()
	admin := adminPrincipal(t, e)
	a, old, err := e.Svc.CreateAccess(bg, admin, "contract-001", keyhaven.AccessInput{})
	if err != nil {
		t.Fatal(err)
	}
	deviceVerify := func(password string) string {
		t.Helper()
		r := e.Do("POST", "/api/acme/access/verify", e.Acme.APIKey, map[string]string{"username": a.Username, "password": password})
		return fmt.Sprint(r.JSON()["code"])
	}
	v := consoleVisitor(t, e)
	if _, page := v.do("GET", "/accesses", nil); !strings.Contains(page, `href="/accesses/`+a.ID+`"`) {
		t.Fatal("the accesses list links no access page")
	}
	if res, page := v.do("GET", "/accesses/"+a.ID, nil); res.StatusCode != http.StatusOK || !strings.Contains(page, a.Username) || strings.Contains(page, old) {
		t.Fatalf("the access's page: %d, shows its password or not its username", res.StatusCode)
	}
	_, page := v.do("GET", "/accesses/"+a.ID+"/edit", nil)
	loaded := formOf(page)
	form := formOf(page)
	form.Set("status", "SUSPENDED")
	if res, page := v.do("POST", "/accesses/"+a.ID+"/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("suspend: %d: %s", res.StatusCode, page)
	}
	if code := deviceVerify(old); code != "SUSPENDED" {
		t.Fatalf("verify a suspended access: %s", code)
	}
	// The form loaded before the suspension sets a new password: the access stays suspended.
	const next = "a-new-device-password"
	loaded.Set("password", next)
	if res, page := v.do("POST", "/accesses/"+a.ID+"/edit", loaded); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("new password: %d: %s", res.StatusCode, page)
	}
	if code := deviceVerify(next); code != "SUSPENDED" {
		t.Fatalf("verify after a password change on a form loaded before the suspension: %s, want SUSPENDED", code)
	}
	_, page = v.do("GET", "/accesses/"+a.ID+"/edit", nil)
	form = formOf(page)
	form.Set("status", "ACTIVE")
	if res, _ := v.do("POST", "/accesses/"+a.ID+"/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("activate: %d", res.StatusCode)
	}
	if code := deviceVerify(next); code != "VALID" {
		t.Fatalf("verify with the new password: %s", code)
	}
	if code := deviceVerify(old); code != "INVALID_CREDENTIALS" {
		t.Fatalf("verify with the old password: %s", code)
	}
	// A password the service refuses is refused on the form.
	_, page = v.do("GET", "/accesses/"+a.ID+"/edit", nil)
	form = formOf(page)
	form.Set("password", "short")
	if res, page := v.do("POST", "/accesses/"+a.ID+"/edit", form); res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `role="alert"`) {
		t.Fatalf("a short password: %d, want 400 on the form: %s", res.StatusCode, page)
	}
}

// TestAPIKeyExpiryInConsole sets an API key's expiry on its New form, changes it and clears it
// on its Edit form; saving the Edit form as loaded keeps an expiry that has seconds.
func TestAPIKeyExpiryInConsole(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testAPIKeyExpiryInConsole(t, apitest.New(t, open)) })
	}
}

func testAPIKeyExpiryInConsole(t *testing.T, e *apitest.Env) {
	bg := context.Background()
	admin := adminPrincipal(t, e)
	v := consoleVisitor(t, e)
	expires := func(name string) time.Time {
		t.Helper()
		k, err := e.Svc.APIKey(bg, admin, name)
		if err != nil {
			t.Fatal(err)
		}
		return k.ExpiresAt
	}
	when := e.Clock.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)
	res, page := v.shown(v.do("POST", "/api-keys", url.Values{"name": {"expiring"}, "permissions": {"READ"}, "active": {"true"},
		"expires": {when.Format("2006-01-02T15:04")}}))
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "secret-value") {
		t.Fatalf("create: %d: %s", res.StatusCode, page)
	}
	if got := expires("expiring"); !got.Equal(when) {
		t.Fatalf("expires %s, want %s", got, when)
	}
	if _, page := v.do("GET", "/api-keys/expiring", nil); !strings.Contains(page, when.Format("2006-01-02 15:04 UTC")) {
		t.Error("the key's page does not show its expiry")
	}
	// In the past: refused beside the field.
	res, page = v.do("POST", "/api-keys", url.Values{"name": {"expired"}, "permissions": {"READ"}, "active": {"true"},
		"expires": {e.Clock.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="expires-error"`) {
		t.Fatalf("an expiry in the past: %d, want 400 beside the field: %s", res.StatusCode, page)
	}

	// An expiry with seconds, set elsewhere, stays as it is when the form is saved as loaded.
	precise := e.Clock.Now().UTC().Add(72 * time.Hour).Truncate(time.Second).Add(17 * time.Second)
	if _, err := e.Svc.UpdateAPIKey(bg, admin, "expiring", keyhaven.APIKeyUpdate{Expires: keyhaven.Some(&precise)}); err != nil {
		t.Fatal(err)
	}
	_, page = v.do("GET", "/api-keys/expiring/edit", nil)
	form := formOf(page)
	if form.Get("expires") != precise.Format("2006-01-02T15:04") {
		t.Fatalf("the edit form shows expiry %q", form.Get("expires"))
	}
	if res, page := v.do("POST", "/api-keys/expiring/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save as loaded: %d: %s", res.StatusCode, page)
	}
	if got := expires("expiring"); !got.Equal(precise) {
		t.Fatalf("saving as loaded changed the expiry to %s, want %s", got, precise)
	}
	// Cleared: never.
	form.Set("expires", "")
	if res, page := v.do("POST", "/api-keys/expiring/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("clear: %d: %s", res.StatusCode, page)
	}
	if got := expires("expiring"); !got.IsZero() {
		t.Fatalf("a cleared expiry is %s, want never", got)
	}
}

// TestPickFromLists: the contract form offers the offerings in a select, the batch form the
// active contracts only; with more offerings than a select offers, the field is a text field
// suggesting them (a searchable list).
func TestPickFromLists(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	e.ActiveContract(t)
	bg := context.Background()
	admin := adminPrincipal(t, e)
	if _, err := e.Svc.CreateContract(bg, admin, keyhaven.ContractInput{ID: "suspended-1", ProductOfferingID: "plain", Status: keyhaven.ContractSuspended,
		StartDate: e.Clock.Now(), EndDate: e.Clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	v := consoleVisitor(t, e)
	options := func(page, name string) []string {
		t.Helper()
		m := regexp.MustCompile(`(?s)<select id="` + name + `"[^>]*>(.*?)</select>`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no select %s: %s", name, page)
		}
		var out []string
		for _, o := range regexp.MustCompile(`<option value="([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
			out = append(out, o[1])
		}
		return out
	}
	_, page := v.do("GET", "/contracts/new", nil)
	if got := options(page, "productOfferingId"); strings.Join(got, ",") != ",plain" {
		t.Errorf("the contract form offers %q, want a choice of plain", got)
	}
	_, page = v.do("GET", "/batches/new?contractId=contract-001", nil)
	if got := options(page, "contractId"); strings.Join(got, ",") != ",contract-001" {
		t.Errorf("the batch form offers %q, want the active contract only", got)
	}
	if !strings.Contains(page, `<option value="contract-001" selected>`) {
		t.Error("the batch form does not choose the contract its link names")
	}
	for i := range 200 {
		if _, err := e.Svc.CreateProductOffering(bg, admin, keyhaven.ProductOfferingInput{ID: fmt.Sprintf("offer-%03d", i), Name: "Offer"}); err != nil {
			t.Fatal(err)
		}
	}
	_, page = v.do("GET", "/contracts/new", nil)
	if strings.Contains(page, `<select id="productOfferingId"`) || !strings.Contains(page, `list="productOfferingId-choices"`) ||
		len(regexp.MustCompile(`<datalist id="productOfferingId-choices">`).FindAllString(page, -1)) != 1 {
		t.Errorf("with 201 offerings the field is not a searchable list: %s", page)
	}
}
