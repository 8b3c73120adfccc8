package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestUsageAcrossNodes: two server processes on one PostgreSQL database verify one key at
// once over HTTP, each counting in its own memory; once both have stopped (a clean stop
// flushes what a node holds), a third reads usage counts that are exactly what both judged,
// by outcome.
func TestUsageAcrossNodes(t *testing.T) {
	db := testdb.PostgresDSN(t)
	a := start(t, "--db", db)
	urlA := a.addr()
	key := field(a.output(), "bootstrap key")
	b := start(t, "--db", db)
	urlB := b.addr()

	status, body := request(t, "POST", urlA+"/api/default/api-keys", key, `{"name":"metered","permissions":["READ"]}`)
	if status != 201 {
		t.Fatalf("create key: %d %s", status, body)
	}
	var metered struct{ ID, Key string }
	if err := json.Unmarshal([]byte(body), &metered); err != nil {
		t.Fatal(err)
	}

	const workers, perWorker = 4, 50 // per node
	var mu sync.Mutex
	judged := map[string]int{}
	var wg sync.WaitGroup
	for _, url := range []string{urlA, urlB} {
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					req := fmt.Sprintf(`{"key":%q}`, metered.Key)
					if (w+i)%4 == 0 { // a permission the key lacks
						req = fmt.Sprintf(`{"key":%q,"permissions":["WRITE"]}`, metered.Key)
					}
					status, body := request(t, "POST", url+"/api/verify", "", req)
					var v struct{ Code string }
					if status != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Code == "" {
						t.Errorf("verify: %d %s", status, body)
						return
					}
					mu.Lock()
					judged[v.Code]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if judged["VALID"] == 0 || judged["INSUFFICIENT_PERMISSIONS"] == 0 || len(judged) != 2 {
		t.Fatalf("judged %v, want VALID and INSUFFICIENT_PERMISSIONS", judged)
	}
	a.stop()
	b.stop()

	c := start(t, "--db", db)
	urlC := c.addr()
	var usage struct {
		Series []struct {
			Start    string
			Outcomes map[string]int
		}
	}
	getJSON(t, urlC+"/api/default/usage?granularity=MINUTE&credentialId="+metered.ID, key, &usage)
	counted := map[string]int{}
	for _, s := range usage.Series {
		for o, n := range s.Outcomes {
			counted[o] += n
		}
	}
	if fmt.Sprint(counted) != fmt.Sprint(judged) {
		t.Fatalf("counted %v, want exactly what was judged, %v", counted, judged)
	}
	if strings.Contains(a.output()+b.output(), "add usage counts") {
		t.Fatalf("a node failed to add its counts:\n%s%s", a.output(), b.output())
	}
}
