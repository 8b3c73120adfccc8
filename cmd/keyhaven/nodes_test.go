package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"keyhaven/internal/testdb"
)

// TestLimitsAcrossNodes races 50 creations split over two server processes on one PostgreSQL
// database: exactly the limit succeed.
func TestLimitsAcrossNodes(t *testing.T) {
	db := testdb.PostgresDSN(t)
	a := start(t, "--db", db)
	urlA := a.addr()
	key := field(a.output(), "bootstrap key")
	b := start(t, "--db", db)
	urlB := b.addr()
	if key == "" || strings.Contains(b.output(), "bootstrap key") {
		t.Fatalf("bootstrap: first node printed %q, second printed credentials too: %v", key, strings.Contains(b.output(), "bootstrap key"))
	}
	race := func(path string, body func(i int) string) (created int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				url := urlA
				if i%2 == 1 {
					url = urlB
				}
				status, resp := request(t, "POST", url+path, key, body(i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case status == 201:
					created++
				case status == 409 && strings.Contains(resp, `"code":"limit_reached"`):
				default:
					t.Errorf("status %d: %s", status, resp)
				}
			})
		}
		wg.Wait()
		return created
	}
	if n := race("/api/default/applications", func(i int) string { return fmt.Sprintf(`{"name":"app-%d"}`, i) }); n != 10 {
		t.Fatalf("%d applications created across two nodes, want 10", n)
	}
	status, body := request(t, "GET", urlB+"/api/default/applications?limit=1", key, "")
	if status != 200 {
		t.Fatal(status, body)
	}
	app := body[strings.Index(body, `"id":"`)+6:]
	app = app[:strings.Index(app, `"`)]
	if n := race("/api/default/applications/"+app+"/access-keys", func(i int) string {
		return fmt.Sprintf(`{"name":"key-%d","scopes":["READ"]}`, i)
	}); n != 10 {
		t.Fatalf("%d access keys created across two nodes, want 10", n)
	}
}
