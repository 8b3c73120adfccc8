package console_test

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/console"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestBatchCSVFormulas exports a batch whose device names and passwords a spreadsheet would
// run as formulas: every such cell starts with ' so that it is text, and the rest are as they
// were.
func TestBatchCSVFormulas(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	e.ActiveContract(t)
	cases := []struct{ device, password, wantDevice, wantPassword string }{
		{`=HYPERLINK("http://evil.test","open")`, "plain-password-1", `'=HYPERLINK("http://evil.test","open")`, "plain-password-1"},
		{"+1+cmd|' /C calc'!A0", "=1+1-password", "'+1+cmd|' /C calc'!A0", "'=1+1-password"},
		{"-2+3", "@SUM(1,2)-password", "'-2+3", "'@SUM(1,2)-password"},
		{"sensor 7", "@SUM(1)-password", "sensor 7", "'@SUM(1)-password"},
	}
	var accesses []map[string]any
	for _, c := range cases {
		accesses = append(accesses, map[string]any{"deviceName": c.device, "password": c.password})
	}
	r := e.Do("POST", "/api/acme/access/batch", e.Acme.APIKey, map[string]any{"contractId": "contract-001", "accesses": accesses})
	if r.Status != http.StatusAccepted {
		t.Fatal(r.Status, string(r.Body))
	}
	id := r.JSON()["id"].(string)
	if state := e.WaitBatch(t, id).JSON()["state"]; state != "DONE" {
		t.Fatalf("batch %s: %v", id, state)
	}

	req, _ := http.NewRequest("GET", e.URL+"/batches/"+id+"/accesses.csv", nil)
	req.AddCookie(&http.Cookie{Name: "kh_session", Value: e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("CSV: %d", res.StatusCode)
	}
	rows, err := csv.NewReader(res.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(cases)+1 {
		t.Fatalf("%d rows, want %d", len(rows), len(cases)+1)
	}
	for i, c := range cases {
		row := rows[i+1] // the batch keeps the order of its input
		if got := row[3]; got != c.wantDevice {
			t.Errorf("deviceName %q exported as %q, want %q", c.device, got, c.wantDevice)
		}
		if got := row[2]; got != c.wantPassword {
			t.Errorf("password %q exported as %q, want %q", c.password, got, c.wantPassword)
		}
	}
}

// pageSpy counts how many accesses each read of a batch's accesses returns, and holds every
// read after the first until gate is closed.
type pageSpy struct {
	keyhaven.Store
	gate  chan struct{}
	mu    sync.Mutex
	reads int
	most  int
}

func (s *pageSpy) BatchAccesses(ctx context.Context, tenantID, taskID string, page keyhaven.Page) ([]*keyhaven.Access, error) {
	if page.After != "" {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	accs, err := s.Store.BatchAccesses(ctx, tenantID, taskID, page)
	s.mu.Lock()
	s.reads++
	s.most = max(s.most, len(accs))
	s.mu.Unlock()
	return accs, err
}

// TestBatchCSVStreams downloads the CSV of a batch larger than one page: it holds every
// access once, the console reads the store a page at a time, and the first rows reach the
// client before the console reads the second page (the response is streamed, without a
// Content-Length).
func TestBatchCSVStreams(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testBatchCSVStreams(t, apitest.New(t, open)) })
	}
}

func testBatchCSVStreams(t *testing.T, e *apitest.Env) {
	const n = 2100
	e.ActiveContract(t)
	r := e.Do("POST", "/api/acme/access/batch", e.Acme.APIKey, map[string]any{"contractId": "contract-001", "numberOfAccesses": n})
	if r.Status != http.StatusAccepted {
		t.Fatal(r.Status, string(r.Body))
	}
	id := r.JSON()["id"].(string)
	if state := e.WaitBatch(t, id).JSON()["state"]; state != "DONE" {
		t.Fatalf("batch %s: %v", id, state)
	}

	// A console over the same database whose store the test watches.
	spy := &pageSpy{Store: e.Store, gate: make(chan struct{})}
	svc := keyhaven.NewService(spy, slog.New(slog.DiscardHandler))
	svc.Sealer, svc.Clock = e.Svc.Sealer, e.Clock
	srv := httptest.NewServer(console.New(svc, svc.Log, console.Options{}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/batches/"+id+"/accesses.csv", nil)
	req.AddCookie(&http.Cookie{Name: "kh_session", Value: e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)})
	// A console that sent nothing before reading every page never answers while the gate is
	// shut: the client's deadline ends the test then.
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("no answer before the console read the second page: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("CSV: %d", res.StatusCode)
	}
	if res.ContentLength != -1 || !slices.Contains(res.TransferEncoding, "chunked") {
		t.Fatalf("Content-Length %d, Transfer-Encoding %v; want a chunked stream", res.ContentLength, res.TransferEncoding)
	}
	rd := csv.NewReader(res.Body)
	header, err := rd.Read()
	if err != nil {
		t.Fatal(err)
	}
	first, err := rd.Read()
	if err != nil {
		t.Fatalf("no row before the console read the second page: %v", err)
	}
	close(spy.gate)
	rows, err := rd.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows = append([][]string{first}, rows...)
	if len(header) != 7 || header[0] != "id" || len(rows) != n {
		t.Fatalf("header %v and %d rows, want %d", header, len(rows), n)
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row[0]] || row[2] == "" {
			t.Fatalf("row %v repeated or without a password", row)
		}
		seen[row[0]] = true
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		t.Fatal(err)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	if spy.reads < 3 || spy.most > 1000 {
		t.Fatalf("%d reads of at most %d accesses; want pages of at most 1000", spy.reads, spy.most)
	}
}
