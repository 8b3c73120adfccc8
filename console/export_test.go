package console_test

import (
	"encoding/csv"
	"net/http"
	"testing"
	"time"

	"keyhaven/internal/apitest"
	"keyhaven/internal/testdb"
)

// TestBatchCSVFormulas exports a batch whose device names and passwords a spreadsheet would
// run as formulas: every such cell starts with ' so that it is text, and the rest are as they
// were.
func TestBatchCSVFormulas(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	now := time.Now().UTC()
	e.Do("POST", "/api/acme/product-offerings", e.Acme.APIKey, map[string]any{"id": "plain", "name": "Plain"})
	if r := e.Do("POST", "/api/acme/contracts", e.Acme.APIKey, map[string]any{"id": "contract-001", "productOfferingId": "plain",
		"startDate": now.Add(-time.Hour).Format(time.RFC3339), "endDate": now.Add(24 * time.Hour).Format(time.RFC3339)}); r.Status != 201 {
		t.Fatal(r.Status, string(r.Body))
	}
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		state := e.Do("GET", "/api/acme/access/batch/"+id, e.Acme.APIKey, nil).JSON()["state"]
		if state == "DONE" {
			break
		}
		if state == "FAILED" || state == "REJECTED" || time.Now().After(deadline) {
			t.Fatalf("batch %s: %v", id, state)
		}
		time.Sleep(20 * time.Millisecond)
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
