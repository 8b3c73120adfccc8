package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/api"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// postRaw posts body as JSON with token, bypassing the test client's document check (which
// would decode tens of megabytes into a generic tree), and returns the status and answer.
func postRaw(t *testing.T, e *apitest.Env, path, token string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// maxItems builds a batch body of n items with every field at the longest the contract
// accepts: a 64-character username, a 256-byte password and a 100-character device name.
func maxItems(contract string, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"contractId":%q,"accesses":[`, contract)
	password := strings.Repeat("p", 256)
	device := strings.Repeat("é", 100)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"username":"%s%08d","password":%q,"deviceName":%q}`, strings.Repeat("u", 56), i, password, device)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// TestFullSizeBatchIsAccepted: a batch of 100,000 items at the contract's maximum field
// lengths (about 56 MB) is within the route's limit and decoded as a stream; one more item is
// invalid input, and a body past the limit is 413. The contract is not active, so the task is
// REJECTED at once and no hashing runs: what is tested is the body.
func TestFullSizeBatchIsAccepted(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	contracts(t, e)
	full := maxItems("contract-ended", keyhaven.MaxBatch)
	if len(full) > api.MaxBatchBody {
		t.Fatalf("a full batch is %d bytes, over the route's limit of %d", len(full), api.MaxBatchBody)
	}
	start := time.Now()
	status, out := postRaw(t, e, "/api/acme/access/batch", e.Acme.APIKey, full)
	t.Logf("full batch: %.1f MB in %v", float64(len(full))/1e6, time.Since(start))
	if status != http.StatusAccepted || out["state"] != "REJECTED" {
		t.Fatalf("full batch: %d %v, want 202 REJECTED", status, out)
	}
	tooMany := append([]byte(`{"contractId":"contract-ended","accesses":[{}`), bytes.Repeat([]byte(",{}"), keyhaven.MaxBatch)...)
	status, out = postRaw(t, e, "/api/acme/access/batch", e.Acme.APIKey, append(tooMany, "]}"...))
	if status != http.StatusBadRequest || out["code"] != "invalid_input" {
		t.Fatalf("one item too many: %d %v, want 400", status, out)
	}
	start = time.Now()
	huge := append([]byte(`{"contractId":"contract-001","accesses":[{"deviceName":"`), bytes.Repeat([]byte("x"), api.MaxBatchBody)...)
	status, out = postRaw(t, e, "/api/acme/access/batch", e.Acme.APIKey, append(huge, `"}]}`...))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body past the limit: %d %v, want 413", status, out)
	}
	t.Logf("past the limit: %v", time.Since(start))
	for _, c := range []struct{ name, body string }{
		{"invalid UTF-8 in a password", "{\"contractId\":\"contract-001\",\"accesses\":[{\"password\":\"twelve-chars-\xff\xfe\"}]}"},
		{"trailing data", `{"contractId":"contract-001","numberOfAccesses":1} {}`},
		{"unknown field", `{"contractId":"contract-001","numberOfAccesses":1,"extra":1}`},
		{"unknown item field", `{"contractId":"contract-001","accesses":[{"secret":"x"}]}`},
		{"field given twice", `{"contractId":"contract-001","numberOfAccesses":1,"numberOfAccesses":100000}`},
		{"not an object", `[1,2]`},
		{"a fraction", `{"contractId":"contract-001","numberOfAccesses":1.5}`},
		{"truncated", `{"contractId":"contract-001","accesses":[{"username":"abc"`},
	} {
		status, out := postRaw(t, e, "/api/acme/access/batch", e.Acme.APIKey, []byte(c.body))
		if status != http.StatusBadRequest || out["code"] != "invalid_input" {
			t.Errorf("%s: %d %v, want 400 invalid_input", c.name, status, out)
		}
		if strings.Contains(fmt.Sprint(out), "twelve-chars") {
			t.Errorf("%s: the answer echoes a password: %v", c.name, out)
		}
	}
}

// TestListBatches: the tenant's batch tasks are listed newest first, page by page, with their
// progress and never another tenant's; listing needs ACCESS_MANAGEMENT.
func TestListBatches(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			contracts(t, e)
			var ids []string // oldest first
			for _, n := range []int{1, 2, 3} {
				ids = append(ids, submitBatch(t, e, map[string]any{"contractId": "contract-001", "numberOfAccesses": n}))
			}
			rejected := submitBatch(t, e, map[string]any{"contractId": "contract-ended", "numberOfAccesses": 1})
			ids = append(ids, rejected)
			waitBatch(t, e, ids[2])

			type summary struct {
				ID, State, Reason, ContractID, CreatedBy string
				Requested                                int
			}
			var got []summary
			cursor := ""
			for pages := 0; ; pages++ {
				var page struct {
					Items      []summary
					NextCursor string
				}
				mustStatus(t, e.Do("GET", "/api/acme/access/batch?limit=3&cursor="+cursor, e.Acme.APIKey, nil), 200).Decode(t, &page)
				if len(page.Items) > 3 || pages > 2 {
					t.Fatalf("page %d holds %d tasks", pages, len(page.Items))
				}
				got = append(got, page.Items...)
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if len(got) != 4 {
				t.Fatalf("listed %+v, want the 4 tasks", got)
			}
			for i, s := range got {
				if want := ids[len(ids)-1-i]; s.ID != want {
					t.Fatalf("task %d is %s, want %s (newest first)", i, s.ID, want)
				}
			}
			if s := got[0]; s.State != "REJECTED" || s.Reason == "" || s.ContractID != "contract-ended" || s.CreatedBy == "" {
				t.Fatalf("the rejected task listed as %+v", s)
			}
			if s := got[1]; s.Requested != 3 || s.ContractID != "contract-001" {
				t.Fatalf("the third task listed as %+v", s)
			}

			other, err := e.Svc.CreateTenant(context.Background(), "other", "admin@other.test")
			if err != nil {
				t.Fatal(err)
			}
			_, reader := e.CreateUser("reader@acme.test", keyhaven.READ)
			for _, s := range []apitest.Scenario{
				{Name: "another tenant sees none of them", URL: "/api/other/access/batch", Token: other.APIKey,
					ExpectedStatus: 200, ExpectedContent: []string{`"items":[]`}},
				{Name: "without ACCESS_MANAGEMENT", URL: "/api/acme/access/batch", Token: reader, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
				{Name: "a cursor the API did not issue", URL: "/api/acme/access/batch?cursor=" + ids[0], Token: e.Acme.APIKey, ExpectedStatus: 400},
			} {
				s.Run(t, e)
			}
		})
	}
}
