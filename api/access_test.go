package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

type accessJSON struct {
	ID, Href, ContractID, DeviceName, Username, Password, Status, CreatedBy string
	ProductOffering                                                         struct{ ID, Name string }
	ValidFor                                                                struct{ StartDateTime, EndDateTime time.Time }
}

type batchJSON struct {
	ID, State, Reason                     string
	Requested, Processed, Created, Failed int
	Accesses                              []accessJSON
	Errors                                []keyhaven.BatchError
	NextCursor                            string
}

// contracts sets up an offering and contracts in several states and returns the clock's now.
func contracts(t *testing.T, e *apitest.Env) time.Time {
	t.Helper()
	key := e.Acme.APIKey
	now := e.Clock.Now().UTC()
	mustStatus(t, e.Do("POST", "/api/acme/product-offerings", key, map[string]any{"id": "gold", "name": "Gold", "accessValidityDays": 30}), 201)
	mustStatus(t, e.Do("POST", "/api/acme/product-offerings", key, map[string]any{"id": "plain", "name": "Plain"}), 201)
	for _, c := range []struct {
		id, offering, status string
		start, end           time.Time
	}{
		{"contract-001", "plain", "", now.Add(-24 * time.Hour), now.Add(365 * 24 * time.Hour)},
		{"contract-gold", "gold", "", now.Add(-24 * time.Hour), now.Add(365 * 24 * time.Hour)},
		{"contract-future", "plain", "", now.Add(48 * time.Hour), now.Add(96 * time.Hour)},
		{"contract-short", "plain", "", now.Add(-time.Hour), now.Add(time.Hour)},
		{"contract-ended", "plain", "", now.Add(-96 * time.Hour), now.Add(-48 * time.Hour)},
		{"contract-suspended", "plain", "SUSPENDED", now.Add(-time.Hour), now.Add(96 * time.Hour)},
	} {
		body := map[string]any{"id": c.id, "productOfferingId": c.offering, "customerName": "Acme Devices",
			"startDate": c.start.Format(time.RFC3339Nano), "endDate": c.end.Format(time.RFC3339Nano)}
		if c.status != "" {
			body["status"] = c.status
		}
		mustStatus(t, e.Do("POST", "/api/acme/contracts", key, body), 201)
	}
	return now
}

func mustStatus(t *testing.T, r *apitest.Response, status int) *apitest.Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

func createAccess(t *testing.T, e *apitest.Env, body map[string]any) accessJSON {
	t.Helper()
	var a accessJSON
	mustStatus(t, e.Do("POST", "/api/acme/access", e.Acme.APIKey, body), 201).Decode(t, &a)
	return a
}

func verify(t *testing.T, e *apitest.Env, username, password string) string {
	t.Helper()
	var v struct {
		Valid bool
		Code  string
	}
	mustStatus(t, e.Do("POST", "/api/acme/access/verify", e.Acme.APIKey, map[string]string{"username": username, "password": password}), 200).Decode(t, &v)
	if v.Valid != (v.Code == "VALID") {
		t.Fatalf("valid %v with code %s", v.Valid, v.Code)
	}
	return v.Code
}

// waitBatch waits for a batch task to reach a final state.
func waitBatch(t *testing.T, e *apitest.Env, id string) batchJSON {
	t.Helper()
	var b batchJSON
	e.WaitBatch(t, id).Decode(t, &b)
	return b
}

// batchAccesses reads every access of a DONE batch task, page by page, checking that each
// page carries the task's counts.
func batchAccesses(t *testing.T, e *apitest.Env, id string) []accessJSON {
	t.Helper()
	var all []accessJSON
	cursor := ""
	for {
		var b batchJSON
		mustStatus(t, e.Do("GET", "/api/acme/access/batch/"+id+"?limit=1000&cursor="+url.QueryEscape(cursor), e.Acme.APIKey, nil), 200).Decode(t, &b)
		if b.State != "DONE" || b.Requested == 0 || b.Processed != b.Requested || b.Errors == nil {
			t.Fatalf("page after %q: %+v", cursor, b)
		}
		all = append(all, b.Accesses...)
		if b.NextCursor == "" {
			return all
		}
		cursor = b.NextCursor
	}
}

func submitBatch(t *testing.T, e *apitest.Env, body map[string]any) string {
	t.Helper()
	var ref struct{ ID, State string }
	mustStatus(t, e.Do("POST", "/api/acme/access/batch", e.Acme.APIKey, body), 202).Decode(t, &ref)
	if !strings.HasPrefix(ref.ID, "job-") {
		t.Fatalf("task id %q", ref.ID)
	}
	return ref.ID
}

func TestContracts(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	contracts(t, e)
	key := e.Acme.APIKey
	_, reader := e.CreateUser("reader@acme.test", keyhaven.READ)
	for _, s := range []apitest.Scenario{
		{Name: "list offerings", URL: "/api/acme/product-offerings", Token: key, ExpectedStatus: 200, ExpectedContent: []string{`"id":"gold"`, `"accessValidityDays":30`}},
		{Name: "get offering", URL: "/api/acme/product-offerings/gold", Token: key, ExpectedStatus: 200},
		{Name: "duplicate offering", Method: "POST", URL: "/api/acme/product-offerings", Token: key, Body: map[string]any{"id": "gold", "name": "x"}, ExpectedStatus: 409},
		{Name: "offering with a generated id", Method: "POST", URL: "/api/acme/product-offerings", Token: key, Body: map[string]any{"name": "Silver"}, ExpectedStatus: 201, ExpectedContent: []string{`"id":"po_`}},
		{Name: "offering id with spaces", Method: "POST", URL: "/api/acme/product-offerings", Token: key, Body: map[string]any{"id": "a b", "name": "x"}, ExpectedStatus: 400},
		{Name: "list contracts", URL: "/api/acme/contracts?status=SUSPENDED", Token: key, ExpectedStatus: 200, ExpectedContent: []string{`"contract-suspended"`}, NotExpectedContent: []string{`"contract-001"`}},
		{Name: "get contract", URL: "/api/acme/contracts/contract-001", Token: key, ExpectedStatus: 200, ExpectedContent: []string{`"status":"ACTIVE"`, `"customerName":"Acme Devices"`}},
		{Name: "unknown contract", URL: "/api/acme/contracts/nope", Token: key, ExpectedStatus: 404},
		{Name: "duplicate contract", Method: "POST", URL: "/api/acme/contracts", Token: key, Body: map[string]any{"id": "contract-001", "productOfferingId": "gold", "startDate": "2030-01-01T00:00:00Z", "endDate": "2031-01-01T00:00:00Z"}, ExpectedStatus: 409},
		{Name: "contract of an unknown offering", Method: "POST", URL: "/api/acme/contracts", Token: key, Body: map[string]any{"id": "c-x", "productOfferingId": "nope", "startDate": "2030-01-01T00:00:00Z", "endDate": "2031-01-01T00:00:00Z"}, ExpectedStatus: 400, ExpectedContent: []string{"productOfferingId"}},
		{Name: "contract ending before it starts", Method: "POST", URL: "/api/acme/contracts", Token: key, Body: map[string]any{"id": "c-y", "productOfferingId": "gold", "startDate": "2031-01-01T00:00:00Z", "endDate": "2030-01-01T00:00:00Z"}, ExpectedStatus: 400, ExpectedContent: []string{"endDate"}},
		{Name: "contract with a bad date", Method: "POST", URL: "/api/acme/contracts", Token: key, Body: map[string]any{"id": "c-z", "productOfferingId": "gold", "startDate": "yesterday", "endDate": "2030-01-01T00:00:00Z"}, ExpectedStatus: 400},
		{Name: "suspend a contract", Method: "PATCH", URL: "/api/acme/contracts/contract-short", Token: key, Body: map[string]any{"status": "TERMINATED"}, ExpectedStatus: 200, ExpectedContent: []string{`"status":"TERMINATED"`}},
		{Name: "terminated is final", Method: "PATCH", URL: "/api/acme/contracts/contract-short", Token: key, Body: map[string]any{"status": "ACTIVE"}, ExpectedStatus: 409},
		{Name: "change dates", Method: "PATCH", URL: "/api/acme/contracts/contract-future", Token: key, Body: map[string]any{"endDate": "2099-01-01T00:00:00Z"}, ExpectedStatus: 200, ExpectedContent: []string{`"endDate":"2099-01-01T00:00:00Z"`}},
		{Name: "change nothing", Method: "PATCH", URL: "/api/acme/contracts/contract-future", Token: key, Body: map[string]any{}, ExpectedStatus: 400},
		{Name: "contracts need CONTRACT_MANAGEMENT", Method: "POST", URL: "/api/acme/contracts", Token: reader, Body: map[string]any{"id": "c-r", "productOfferingId": "gold", "startDate": "2030-01-01T00:00:00Z", "endDate": "2031-01-01T00:00:00Z"}, ExpectedStatus: 403},
		{Name: "reading contracts needs a permission", URL: "/api/acme/contracts", Token: reader, ExpectedStatus: 403},
	} {
		s.Run(t, e)
	}
}

func TestAccesses(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testAccesses(t, apitest.New(t, open)) })
	}
}

func testAccesses(t *testing.T, e *apitest.Env) {
	now := contracts(t, e)
	key := e.Acme.APIKey
	adminID := userID(t, e, key)

	a := createAccess(t, e, map[string]any{"contractId": "contract-001", "deviceName": "device-alpha"})
	if !strings.HasPrefix(a.Username, "dev-") || len(a.Password) < 22 || a.DeviceName != "device-alpha" || a.Status != "ACTIVE" ||
		a.Href != "/api/acme/access/"+a.ID || a.ProductOffering.ID != "plain" || a.ProductOffering.Name != "Plain" || a.CreatedBy != adminID {
		t.Fatalf("created access %+v", a)
	}
	// validFor: from now (the contract started earlier) to the contract's end.
	if !a.ValidFor.StartDateTime.Equal(now) || !a.ValidFor.EndDateTime.Equal(now.Add(365*24*time.Hour)) {
		t.Fatalf("validFor %+v, want %v to the contract's end", a.ValidFor, now)
	}
	gold := createAccess(t, e, map[string]any{"contractId": "contract-gold"})
	if !gold.ValidFor.EndDateTime.Equal(now.AddDate(0, 0, 30)) {
		t.Fatalf("gold access ends %v, want 30 days after %v (the offering's limit)", gold.ValidFor.EndDateTime, now)
	}
	future := createAccess(t, e, map[string]any{"contractId": "contract-future", "username": "future-device", "password": "a-chosen-password"})
	if !future.ValidFor.StartDateTime.Equal(now.Add(48*time.Hour)) || future.Username != "future-device" || future.Password != "a-chosen-password" || future.DeviceName != "future-device" {
		t.Fatalf("future access %+v", future)
	}

	for _, s := range []apitest.Scenario{
		{Name: "taken username", Method: "POST", URL: "/api/acme/access", Token: key, Body: map[string]any{"contractId": "contract-001", "username": "future-device"}, ExpectedStatus: 409, ExpectedCode: "username_taken"},
		{Name: "suspended contract", Method: "POST", URL: "/api/acme/access", Token: key, Body: map[string]any{"contractId": "contract-suspended"}, ExpectedStatus: 409, ExpectedCode: "contract_inactive"},
		{Name: "ended contract", Method: "POST", URL: "/api/acme/access", Token: key, Body: map[string]any{"contractId": "contract-ended"}, ExpectedStatus: 409, ExpectedCode: "contract_ended"},
		{Name: "unknown contract", Method: "POST", URL: "/api/acme/access", Token: key, Body: map[string]any{"contractId": "nope"}, ExpectedStatus: 400, ExpectedContent: []string{"contractId"}},
		{Name: "bad username", Method: "POST", URL: "/api/acme/access", Token: key, Body: map[string]any{"contractId": "contract-001", "username": "a b"}, ExpectedStatus: 400},
		{Name: "short password", Method: "POST", URL: "/api/acme/access", Token: key, Body: map[string]any{"contractId": "contract-001", "password": "short"}, ExpectedStatus: 400},
		{Name: "get shows no password", URL: "/api/acme/access/" + a.ID, Token: key, ExpectedStatus: 200, ExpectedContent: []string{a.Username}, NotExpectedContent: []string{a.Password, `"password"`}},
		{Name: "list shows no password", URL: "/api/acme/access?contractId=contract-001", Token: key, ExpectedStatus: 200, ExpectedContent: []string{a.Username}, NotExpectedContent: []string{a.Password, `"password"`, "future-device"}},
		{Name: "list by username", URL: "/api/acme/access?username=future-device", Token: key, ExpectedStatus: 200, ExpectedContent: []string{"future-device"}, NotExpectedContent: []string{a.Username}},
		{Name: "list by device name", URL: "/api/acme/access?deviceName=device-alpha", Token: key, ExpectedStatus: 200, ExpectedContent: []string{a.ID}, NotExpectedContent: []string{gold.ID}},
		{Name: "list valid at a time", URL: "/api/acme/access?validAt=" + now.Add(72*time.Hour).Format(time.RFC3339), Token: key, ExpectedStatus: 200, ExpectedContent: []string{future.ID, a.ID}},
		{Name: "list not yet valid excluded", URL: "/api/acme/access?validAt=" + now.Add(time.Hour).Format(time.RFC3339), Token: key, ExpectedStatus: 200, NotExpectedContent: []string{future.ID}},
		{Name: "list created after", URL: "/api/acme/access?createdAfter=" + now.Add(time.Minute).Format(time.RFC3339), Token: key, ExpectedStatus: 200, ExpectedContent: []string{`"items":[]`}},
		{Name: "unknown access", URL: "/api/acme/access/acc_00000000000000000000000000", Token: key, ExpectedStatus: 404},
		{Name: "patch with application/json", Method: "PATCH", URL: "/api/acme/access/" + a.ID, Token: key, Body: map[string]any{"status": "SUSPENDED"}, ExpectedStatus: 415},
		{Name: "patch with nothing", Method: "PATCH", URL: "/api/acme/access/" + a.ID, Token: key, Body: `{}`, Headers: []string{"Content-Type", "application/merge-patch+json"}, ExpectedStatus: 400},
		{Name: "patch with a null", Method: "PATCH", URL: "/api/acme/access/" + a.ID, Token: key, Body: `{"password":null}`, Headers: []string{"Content-Type", "application/merge-patch+json"}, ExpectedStatus: 400},
		{Name: "patch an immutable field", Method: "PATCH", URL: "/api/acme/access/" + a.ID, Token: key, Body: `{"username":"other"}`, Headers: []string{"Content-Type", "application/merge-patch+json"}, ExpectedStatus: 400},
		{Name: "patch validity", Method: "PATCH", URL: "/api/acme/access/" + a.ID, Token: key, Body: `{"validFor":{}}`, Headers: []string{"Content-Type", "application/merge-patch+json"}, ExpectedStatus: 400},
		{Name: "patch an unknown status", Method: "PATCH", URL: "/api/acme/access/" + a.ID, Token: key, Body: `{"status":"GONE"}`, Headers: []string{"Content-Type", "application/merge-patch+json"}, ExpectedStatus: 400},
	} {
		s.Run(t, e)
	}

	t.Run("verify codes", func(t *testing.T) {
		if c := verify(t, e, a.Username, a.Password); c != "VALID" {
			t.Fatalf("right password: %s", c)
		}
		if c := verify(t, e, a.Username, a.Password+"x"); c != "INVALID_CREDENTIALS" {
			t.Fatalf("wrong password: %s", c)
		}
		if c := verify(t, e, "nobody", a.Password); c != "INVALID_CREDENTIALS" {
			t.Fatalf("unknown username: %s", c)
		}
		if c := verify(t, e, "future-device", "a-chosen-password"); c != "NOT_YET_VALID" {
			t.Fatalf("future access: %s", c)
		}
		r := e.Do("POST", "/api/acme/access/verify", key, map[string]string{"username": a.Username, "password": a.Password})
		if !strings.Contains(string(r.Body), `"access":{"id":"`+a.ID) || strings.Contains(string(r.Body), a.Password) {
			t.Fatalf("verify answer %s", r.Body)
		}
		merge := []string{"Content-Type", "application/merge-patch+json"}
		mustStatus(t, e.Do("PATCH", "/api/acme/access/"+a.ID, key, `{"status":"SUSPENDED"}`, merge...), 200)
		if c := verify(t, e, a.Username, a.Password); c != "SUSPENDED" {
			t.Fatalf("suspended: %s", c)
		}
		mustStatus(t, e.Do("PATCH", "/api/acme/access/"+a.ID, key, `{"status":"ACTIVE","password":"a-brand-new-password"}`, merge...), 200)
		if c := verify(t, e, a.Username, a.Password); c != "INVALID_CREDENTIALS" {
			t.Fatalf("old password after change: %s", c)
		}
		if c := verify(t, e, a.Username, "a-brand-new-password"); c != "VALID" {
			t.Fatalf("new password: %s", c)
		}
		mustStatus(t, e.Do("PATCH", "/api/acme/access/"+a.ID, key, `{"status":"TERMINATED"}`, merge...), 200)
		if c := verify(t, e, a.Username, "a-brand-new-password"); c != "TERMINATED" {
			t.Fatalf("terminated: %s", c)
		}
		mustStatus(t, e.Do("PATCH", "/api/acme/access/"+a.ID, key, `{"status":"ACTIVE"}`, merge...), 409)
		// A suspended contract suspends its accesses.
		mustStatus(t, e.Do("PATCH", "/api/acme/contracts/contract-gold", key, map[string]any{"status": "SUSPENDED"}), 200)
		if c := verify(t, e, gold.Username, gold.Password); c != "SUSPENDED" {
			t.Fatalf("access of a suspended contract: %s", c)
		}
		mustStatus(t, e.Do("PATCH", "/api/acme/contracts/contract-gold", key, map[string]any{"status": "ACTIVE"}), 200)
		e.Clock.Advance(31 * 24 * time.Hour)
		if c := verify(t, e, gold.Username, gold.Password); c != "EXPIRED" {
			t.Fatalf("access past its validity: %s", c)
		}
	})
	t.Run("verification failures are audited as a burst", func(t *testing.T) {
		for range 12 {
			verify(t, e, "nobody", "guess")
		}
		var page struct{ Items []keyhaven.AuditEvent }
		e.Do("GET", "/api/acme/audit?action=access.verify_failures", key, nil).Decode(t, &page)
		if len(page.Items) != 1 || page.Items[0].Detail["failures"] != float64(10) {
			t.Fatalf("burst events %+v, want one counting 10 failures", page.Items)
		}
	})
	t.Run("accesses need ACCESS_MANAGEMENT", func(t *testing.T) {
		_, reader := e.CreateUser("accreader@acme.test", keyhaven.READ)
		mustStatus(t, e.Do("GET", "/api/acme/access", reader, nil), 403)
		mustStatus(t, e.Do("POST", "/api/acme/access", reader, map[string]any{"contractId": "contract-001"}), 403)
		mustStatus(t, e.Do("POST", "/api/acme/access/batch", reader, map[string]any{"contractId": "contract-001", "numberOfAccesses": 1}), 403)
		// Any credential of the tenant may verify devices.
		mustStatus(t, e.Do("POST", "/api/acme/access/verify", reader, map[string]string{"username": "x", "password": "y"}), 200)
	})
}

func TestBatches(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testBatches(t, apitest.New(t, open)) })
	}
}

func testBatches(t *testing.T, e *apitest.Env) {
	contracts(t, e)
	key := e.Acme.APIKey
	createAccess(t, e, map[string]any{"contractId": "contract-001", "username": "taken-name"})
	for _, s := range []apitest.Scenario{
		{Name: "both modes", Method: "POST", URL: "/api/acme/access/batch", Token: key, Body: map[string]any{"contractId": "contract-001", "numberOfAccesses": 2, "accesses": []any{map[string]any{}}},
			ExpectedStatus: 400, ExpectedContent: []string{"not both"}},
		{Name: "neither mode", Method: "POST", URL: "/api/acme/access/batch", Token: key, Body: map[string]any{"contractId": "contract-001"},
			ExpectedStatus: 400, ExpectedContent: []string{"exactly one of numberOfAccesses and accesses"}},
		{Name: "zero accesses", Method: "POST", URL: "/api/acme/access/batch", Token: key, Body: map[string]any{"contractId": "contract-001", "numberOfAccesses": 0}, ExpectedStatus: 400, ExpectedContent: []string{"numberOfAccesses"}},
		{Name: "100001 accesses", Method: "POST", URL: "/api/acme/access/batch", Token: key, Body: map[string]any{"contractId": "contract-001", "numberOfAccesses": 100001}, ExpectedStatus: 400, ExpectedContent: []string{"numberOfAccesses"}},
		{Name: "empty list", Method: "POST", URL: "/api/acme/access/batch", Token: key, Body: map[string]any{"contractId": "contract-001", "accesses": []any{}}, ExpectedStatus: 400},
		{Name: "null list", Method: "POST", URL: "/api/acme/access/batch", Token: key, Body: `{"contractId":"contract-001","accesses":null}`, ExpectedStatus: 400},
		{Name: "invalid item", Method: "POST", URL: "/api/acme/access/batch", Token: key, Body: map[string]any{"contractId": "contract-001", "accesses": []any{map[string]any{}, map[string]any{"username": "no spaces allowed"}}},
			ExpectedStatus: 400, ExpectedContent: []string{"accesses[1].username"}},
		{Name: "unknown contract", Method: "POST", URL: "/api/acme/access/batch", Token: key, Body: map[string]any{"contractId": "nope", "numberOfAccesses": 1}, ExpectedStatus: 400},
		{Name: "unknown task", URL: "/api/acme/access/batch/job-nope", Token: key, ExpectedStatus: 404},
	} {
		s.Run(t, e)
	}

	t.Run("generated", func(t *testing.T) {
		id := submitBatch(t, e, map[string]any{"contractId": "contract-001", "numberOfAccesses": 2500})
		b := waitBatch(t, e, id)
		if b.State != "DONE" || b.Requested != 2500 || b.Processed != 2500 || b.Created != 2500 || len(b.Accesses) != 50 || len(b.Errors) != 0 {
			t.Fatalf("batch %s: %d/%d created %d, %d accesses on the first page, errors %v", b.State, b.Processed, b.Requested, b.Created, len(b.Accesses), b.Errors)
		}
		all := batchAccesses(t, e, id)
		if len(all) != 2500 {
			t.Fatalf("%d accesses over all pages, want 2500", len(all))
		}
		seen := map[string]bool{}
		for i, a := range all {
			if a.Password == "" || a.CreatedBy != id || seen[a.Username] {
				t.Fatalf("access %d: %+v", i, a)
			}
			seen[a.Username] = true
		}
		for _, a := range []accessJSON{all[0], all[1234], all[2499]} {
			if c := verify(t, e, a.Username, a.Password); c != "VALID" {
				t.Fatalf("batch password: %s", c)
			}
		}
		var page struct{ Items []accessJSON }
		e.Do("GET", "/api/acme/access?createdBy="+id+"&limit=1000", key, nil).Decode(t, &page)
		if len(page.Items) != 1000 || page.Items[0].Password != "" {
			t.Fatalf("listing by task: %d items", len(page.Items))
		}
	})

	t.Run("explicit with a taken username", func(t *testing.T) {
		id := submitBatch(t, e, map[string]any{"contractId": "contract-001", "accesses": []any{
			map[string]any{"deviceName": "device-1"},
			map[string]any{"username": "taken-name", "deviceName": "device-2"},
			map[string]any{"username": "fresh-name", "password": "chosen-password-1", "deviceName": "device-3"},
			map[string]any{"username": "fresh-name", "deviceName": "device-4"},
		}})
		b := waitBatch(t, e, id)
		if b.State != "DONE" || b.Created != 2 || b.Failed != 2 || len(b.Accesses) != 2 || len(b.Errors) != 2 {
			t.Fatalf("batch %+v", b)
		}
		if b.Errors[0].Index != 1 || b.Errors[0].Code != "username_taken" || b.Errors[1].Index != 3 {
			t.Fatalf("errors %+v, want items 1 and 3 username_taken", b.Errors)
		}
		if b.Accesses[0].DeviceName != "device-1" || b.Accesses[1].Username != "fresh-name" || b.Accesses[1].Password != "chosen-password-1" {
			t.Fatalf("accesses %+v", b.Accesses)
		}
		if c := verify(t, e, "fresh-name", "chosen-password-1"); c != "VALID" {
			t.Fatalf("chosen batch password: %s", c)
		}
	})

	t.Run("the task's accesses are paged", func(t *testing.T) {
		items := []any{}
		for i := range 7 {
			item := map[string]any{"deviceName": fmt.Sprintf("paged-%d", i)}
			if i == 2 {
				item["username"] = "taken-name"
			}
			items = append(items, item)
		}
		id := submitBatch(t, e, map[string]any{"contractId": "contract-001", "accesses": items})
		waitBatch(t, e, id)
		var devices []string
		cursor, pages := "", 0
		for {
			var b batchJSON
			mustStatus(t, e.Do("GET", "/api/acme/access/batch/"+id+"?limit=4&cursor="+url.QueryEscape(cursor), key, nil), 200).Decode(t, &b)
			pages++
			if b.State != "DONE" || b.Requested != 7 || b.Processed != 7 || b.Created != 6 || b.Failed != 1 ||
				len(b.Errors) != 1 || b.Errors[0].Index != 2 {
				t.Fatalf("page %d: %+v, want the task's counts and errors on every page", pages, b)
			}
			if len(b.Accesses) > 4 {
				t.Fatalf("page %d holds %d accesses, limit 4", pages, len(b.Accesses))
			}
			for _, a := range b.Accesses {
				devices = append(devices, a.DeviceName)
				if a.Password == "" {
					t.Fatalf("access %s without its password", a.ID)
				}
			}
			if b.NextCursor == "" {
				break
			}
			cursor = b.NextCursor
		}
		if want := "[paged-0 paged-1 paged-3 paged-4 paged-5 paged-6]"; pages != 2 || fmt.Sprint(devices) != want {
			t.Fatalf("%d pages of %v, want 2 pages of %s", pages, devices, want)
		}
		var first batchJSON
		mustStatus(t, e.Do("GET", "/api/acme/access/batch/"+id+"?limit=1", key, nil), 200).Decode(t, &first)
		var other struct{ NextCursor string }
		mustStatus(t, e.Do("GET", "/api/acme/access?limit=1", key, nil), 200).Decode(t, &other)
		for name, c := range map[string]string{"a cursor of another list": other.NextCursor, "a forged cursor": "bm90LWEtY3Vyc29y"} {
			r := mustStatus(t, e.Do("GET", "/api/acme/access/batch/"+id+"?cursor="+url.QueryEscape(c), key, nil), 400)
			if !strings.Contains(string(r.Body), "cursor") {
				t.Fatalf("%s: %s, want the cursor named", name, r.Body)
			}
		}
		mustStatus(t, e.Do("GET", "/api/acme/access/batch/"+id+"?limit=1001", key, nil), 400)
	})

	t.Run("inactive or ended contract rejects the batch", func(t *testing.T) {
		for _, c := range []string{"contract-suspended", "contract-ended"} {
			var ref struct{ ID, State string }
			mustStatus(t, e.Do("POST", "/api/acme/access/batch", key, map[string]any{"contractId": c, "numberOfAccesses": 5}), 202).Decode(t, &ref)
			b := waitBatch(t, e, ref.ID)
			if ref.State != "REJECTED" || b.State != "REJECTED" || b.Created != 0 || b.Reason == "" {
				t.Fatalf("%s: submitted %s, task %+v", c, ref.State, b)
			}
		}
	})

	t.Run("a batch is one audit event", func(t *testing.T) {
		var page struct{ Items []keyhaven.AuditEvent }
		e.Do("GET", "/api/acme/audit?action=access.batch.finish&limit=100", key, nil).Decode(t, &page)
		if len(page.Items) < 2 {
			t.Fatalf("%d batch.finish events", len(page.Items))
		}
		found := false
		for _, ev := range page.Items {
			if ev.Detail["created"] == float64(2500) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no finish event counting 2500 accesses: %+v", page.Items)
		}
		e.Do("GET", "/api/acme/audit?action=access.create&limit=1000", key, nil).Decode(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("%d access.create events, want 1 (batch items are not audited one by one)", len(page.Items))
		}
	})

	t.Run("retention purges passwords with a moved clock", func(t *testing.T) {
		id := submitBatch(t, e, map[string]any{"contractId": "contract-001", "numberOfAccesses": 3})
		b := waitBatch(t, e, id)
		if b.Accesses[0].Password == "" {
			t.Fatal("no password within the retention window")
		}
		e.Clock.Advance(e.Svc.BatchRetention - time.Second)
		e.Svc.CollectGarbage(context.Background())
		if b := waitBatch(t, e, id); b.Accesses[0].Password == "" {
			t.Fatal("password purged before the retention window ended")
		}
		e.Clock.Advance(2 * time.Second)
		if _, err := e.Svc.CollectGarbage(context.Background()); err != nil {
			t.Fatal(err)
		}
		after := waitBatch(t, e, id)
		if len(after.Accesses) != 3 {
			t.Fatalf("%d accesses after the purge, want 3", len(after.Accesses))
		}
		for _, a := range after.Accesses {
			if a.Password != "" {
				t.Fatal("password still shown after the retention window")
			}
		}
		if c := verify(t, e, b.Accesses[0].Username, b.Accesses[0].Password); c != "VALID" {
			t.Fatalf("purging passwords broke the access: %s", c)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	contracts(t, e)
	key := e.Acme.APIKey
	body := map[string]any{"contractId": "contract-001", "deviceName": "idem"}
	first := mustStatus(t, e.Do("POST", "/api/acme/access", key, body, "Idempotency-Key", "k-1"), 201)
	again := mustStatus(t, e.Do("POST", "/api/acme/access", key, body, "Idempotency-Key", "k-1"), 201)
	if string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry answered %s, first %s", again.Body, first.Body)
	}
	var page struct{ Items []accessJSON }
	e.Do("GET", "/api/acme/access?deviceName=idem", key, nil).Decode(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("%d accesses after a retry, want 1", len(page.Items))
	}
	r := mustStatus(t, e.Do("POST", "/api/acme/access", key, map[string]any{"contractId": "contract-001", "deviceName": "other"}, "Idempotency-Key", "k-1"), 422)
	if r.JSON()["code"] != "idempotency_key_reused" {
		t.Fatalf("reused key: %s", r.Body)
	}
	b1 := mustStatus(t, e.Do("POST", "/api/acme/access/batch", key, map[string]any{"contractId": "contract-001", "numberOfAccesses": 2}, "Idempotency-Key", "b-1"), 202)
	b2 := mustStatus(t, e.Do("POST", "/api/acme/access/batch", key, map[string]any{"contractId": "contract-001", "numberOfAccesses": 2}, "Idempotency-Key", "b-1"), 202)
	if b1.JSON()["id"] != b2.JSON()["id"] {
		t.Fatalf("batch retry made a new task: %s vs %s", b1.Body, b2.Body)
	}
	// Keys are per credential: another credential's same key is another request.
	_, other := e.CreateUser("other@acme.test", keyhaven.ACCESS_MANAGEMENT)
	r = mustStatus(t, e.Do("POST", "/api/acme/access", other, body, "Idempotency-Key", "k-1"), 201)
	if string(r.Body) == string(first.Body) {
		t.Fatal("another user got the first user's answer")
	}
	mustStatus(t, e.Do("POST", "/api/acme/access", key, body, "Idempotency-Key", strings.Repeat("x", 300)), 400)

	t.Run("concurrent retries create one access", func(t *testing.T) {
		race := map[string]any{"contractId": "contract-001", "deviceName": "raced"}
		var mu sync.Mutex
		var wg sync.WaitGroup
		bodies := map[string]int{}
		for range 10 {
			wg.Go(func() {
				r := e.Do("POST", "/api/acme/access", key, race, "Idempotency-Key", "race-1")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.Status == 201:
					bodies[string(r.Body)]++
				case r.Status == 409 && r.JSON()["code"] == "idempotency_key_in_progress":
				default:
					t.Errorf("status %d: %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		if len(bodies) != 1 {
			t.Fatalf("%d different answers to one idempotent request", len(bodies))
		}
		var page struct{ Items []accessJSON }
		e.Do("GET", "/api/acme/access?deviceName=raced", key, nil).Decode(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("%d accesses from 10 concurrent retries, want 1", len(page.Items))
		}
	})
}

// TestIdempotentReplayIsAuthorized: a replay is keyed by the calling credential and
// authorized like a new request. A READ key of the same owner sending another credential's
// Idempotency-Key gets no replay (and so no password), and a credential that lost a
// permission since its first request gets no replay either.
func TestIdempotentReplayIsAuthorized(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			contracts(t, e)
			admin := userID(t, e, e.Acme.APIKey)
			readKey := newAPIKey(t, e, admin, keyhaven.READ)
			body := map[string]any{"contractId": "contract-001", "deviceName": "replayed"}
			first := mustStatus(t, e.Do("POST", "/api/acme/access", e.Acme.APIKey, body, "Idempotency-Key", "k-1"), 201)
			password, _ := first.JSON()["password"].(string)
			r := e.Do("POST", "/api/acme/access", readKey, body, "Idempotency-Key", "k-1")
			if r.Status != 403 || strings.Contains(string(r.Body), password) || r.Header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("a READ key of the same owner: %d %s, want 403 and no replay", r.Status, r.Body)
			}

			userID, session := e.CreateUser("maker@acme.test", keyhaven.ACCESS_MANAGEMENT, keyhaven.READ)
			mustStatus(t, e.Do("POST", "/api/acme/access", session, body, "Idempotency-Key", "k-2"), 201)
			mustStatus(t, e.Do("PATCH", "/api/acme/users/"+userID, e.Acme.APIKey, map[string]any{"permissions": []string{"READ"}}), 200)
			r = e.Do("POST", "/api/acme/access", session, body, "Idempotency-Key", "k-2")
			if r.Status != 403 || r.JSON()["code"] != "idempotency_permissions_changed" || strings.Contains(string(r.Body), `"password"`) {
				t.Fatalf("replay after losing ACCESS_MANAGEMENT: %d %s, want 403 idempotency_permissions_changed", r.Status, r.Body)
			}
		})
	}
}

// countingBody is an endless request body that counts what the client was asked for.
type countingBody struct{ n atomic.Int64 }

func (b *countingBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	b.n.Add(int64(len(p)))
	return len(p), nil
}

// TestIdempotentBodyReadToTheRoutesLimit: a creating POST with an Idempotency-Key is read only
// up to its route's own limit, however much is sent, and the refused request leaves the key
// unused.
func TestIdempotentBodyReadToTheRoutesLimit(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	body := &countingBody{}
	req, _ := http.NewRequest("POST", e.URL+"/api/acme/users", io.LimitReader(body, 256<<20))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.Acme.APIKey)
	req.Header.Set("Idempotency-Key", "big-1")
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", res.StatusCode)
		}
	} // else the server closed the connection while the client still sent: refused too
	if n := body.n.Load(); n > 32<<20 {
		t.Fatalf("the client was made to send %d MiB, want the route's 64 KiB and what the connection buffers", n>>20)
	}
	r := e.Do("POST", "/api/acme/users", e.Acme.APIKey, map[string]any{"email": "new@acme.test", "permissions": []string{"READ"}}, "Idempotency-Key", "big-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("the key after the refused request: %d %s, want 201", r.Status, r.Body)
	}
}

// TestIdempotentRequestJudgedOnce: a creating POST with an Idempotency-Key judges its bearer
// once: the operation takes the principal the idempotency layer judged.
func TestIdempotentRequestJudgedOnce(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	lookups := func() uint64 { h, m := e.Node.Cache.Stats(); return h + m }
	before := lookups()
	r := e.Do("POST", "/api/acme/users", e.Acme.APIKey, map[string]any{"email": "once@acme.test", "permissions": []string{"READ"}}, "Idempotency-Key", "once-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if n := lookups() - before; n != 1 {
		t.Fatalf("the bearer was looked up %d times, want once", n)
	}
}
