package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
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

// TestPoliciesAcrossNodes sends verifications of one key at once, split over two server
// processes on one PostgreSQL database: a key's credits give exactly as many VALID answers
// as it had, and its rate limit admits no more than the limit (the window's count is leased
// from the database) and, the test taking well under a window, no fewer than the limit less
// a lease per node. The keys are made through the service on the same database, as a command
// beside the servers would: the REST and GraphQL key routes take no policies yet.
func TestPoliciesAcrossNodes(t *testing.T) {
	ctx := context.Background()
	db := testdb.PostgresDSN(t)
	pa := start(t, "--db", db)
	a := pa.addr()
	admin := field(pa.output(), "bootstrap key")
	b := start(t, "--db", db).addr()
	svc, store, err := openService(ctx, db, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := svc.Authenticate(ctx, keyhaven.APIUse(ctx, admin, "default"))
	if err != nil {
		t.Fatal(err)
	}
	newKey := func(name string, policy keyhaven.PolicyInput) string {
		_, key, err := svc.CreateAPIKey(ctx, p, keyhaven.APIKeyInput{Name: name, Permissions: []string{"READ"}, Policy: policy})
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	// verifyAll sends n verifications of key at once, alternately to each node, and counts
	// their codes.
	verifyAll := func(key string, n int) map[string]int {
		codes := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Go(func() {
				<-start
				res, err := http.Post(node+"/api/verify", "application/json", strings.NewReader(fmt.Sprintf(`{"key":%q}`, key)))
				if err != nil {
					t.Errorf("verify: %v", err)
					return
				}
				defer res.Body.Close()
				var v verdict
				if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != 200 {
					t.Errorf("verify: %d %v", res.StatusCode, err)
					return
				}
				mu.Lock()
				codes[v.Code]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		return codes
	}

	t.Run("credits", func(t *testing.T) {
		key := newKey("CREDITED", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Remaining: 50}})
		codes := verifyAll(key, 100)
		if codes["VALID"] != 50 || codes["USAGE_EXCEEDED"] != 50 {
			t.Fatalf("100 verifications of a key with 50 credits over two nodes: %v, want 50 VALID and 50 USAGE_EXCEEDED", codes)
		}
		c, err := svc.APIKey(ctx, p, "CREDITED")
		if err != nil || c.Credits == nil || c.Credits.Remaining != 0 {
			t.Fatalf("after: %+v, %v; want 0 credits left", c, err)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		key := newKey("LIMITED", keyhaven.PolicyInput{RateLimit: &keyhaven.RateLimitInput{Limit: 40, PeriodSeconds: 60}})
		began := time.Now()
		codes := verifyAll(key, 120)
		valid := codes["VALID"]
		if valid+codes["RATE_LIMITED"] != 120 || valid < 40 || valid > 44 {
			t.Fatalf("120 verifications against 40 a minute over two nodes: %v, want 40 to 44 VALID, the rest RATE_LIMITED", codes)
		}
		t.Logf("%d VALID in %v", valid, time.Since(began).Round(time.Millisecond))
	})
}
