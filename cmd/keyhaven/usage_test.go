package main

import (
	"encoding/json"
	"testing"

	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestUsageAddedOnShutdown: the counts a server holds in memory are added to the database when
// it stops, well before its flush interval; a server started with --usage-counting=false
// counts nothing.
func TestUsageAddedOnShutdown(t *testing.T) {
	db := "sqlite:" + testdb.SQLitePath(t)
	verify := func(url, key string, times int) {
		t.Helper()
		for range times {
			mustRequest(t, "POST", url+"/api/verify", "", `{"key":"`+key+`"}`, 200)
		}
	}
	a := start(t, "--db", db)
	url := a.addr()
	admin := field(a.output(), "bootstrap key")
	created := mustRequest(t, "POST", url+"/api/default/api-keys", admin, `{"name":"probe","permissions":["READ"]}`, 201)
	probe, id := jsonField(t, created, "key"), jsonField(t, created, "id")
	verify(url, probe, 3)
	a.stop()

	off := start(t, "--db", db, "--usage-counting=false")
	verify(off.addr(), probe, 2)
	off.stop()

	c := start(t, "--db", db)
	var u struct {
		Series []struct{ Outcomes map[string]int64 }
	}
	body := mustRequest(t, "GET", c.addr()+"/api/default/usage?granularity=DAY&credentialId="+id, admin, "", 200)
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		t.Fatal(err)
	}
	var valid int64
	for _, b := range u.Series {
		valid += b.Outcomes["VALID"]
	}
	if valid != 3 {
		t.Errorf("VALID verifications counted: %d, want 3 (those of the server that counted, added when it stopped): %s", valid, body)
	}
}
