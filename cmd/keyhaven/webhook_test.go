package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// hookReceiver records the webhook-id of every request and answers 503 while down, 204 else.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	down bool
	ids  []string // of every request
	ok   map[string]int
}

func newHookReceiver(t *testing.T, down bool) *hookReceiver {
	r := &hookReceiver{down: down, ok: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		id := req.Header.Get("webhook-id")
		r.ids = append(r.ids, id)
		if r.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.ok[id]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) state() (ids []string, ok map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok = map[string]int{}
	for k, v := range r.ok {
		ok[k] = v
	}
	return append([]string(nil), r.ids...), ok
}

func createHook(t *testing.T, base, key, url string) string {
	t.Helper()
	status, body := request(t, "POST", base+"/api/default/webhooks", key, fmt.Sprintf(`{"url":%q,"events":["api_key.created"]}`, url))
	if status != 201 {
		t.Fatalf("create webhook: %d %s", status, body)
	}
	var w struct{ ID string }
	json.Unmarshal([]byte(body), &w)
	return w.ID
}

func createNamedKey(t *testing.T, base, key, name string) {
	t.Helper()
	if status, body := request(t, "POST", base+"/api/default/api-keys", key, fmt.Sprintf(`{"name":%q,"permissions":["READ"]}`, name)); status != 201 {
		t.Fatalf("create key %s: %d %s", name, status, body)
	}
}

// TestWebhookSurvivesCrash: a delivery still pending when the server is killed with SIGKILL
// is sent, with its webhook-id, once the server is back.
func TestWebhookSurvivesCrash(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + testdb.SQLitePath(t) },
		"postgres": func(t *testing.T) string { return testdb.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"--db", dsn(t), "--webhook-retry-schedule", "2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s"}
			rcv := newHookReceiver(t, true)
			p := start(t, args...)
			base := p.addr()
			key := field(p.output(), "bootstrap key")
			hook := createHook(t, base, key, rcv.URL)
			createNamedKey(t, base, key, "before_the_crash")
			// The first attempt failed and is recorded: the message waits for its retry.
			eventually.Within(t, 30*time.Second, func() error {
				var page struct{ Items []struct{ Outcome string } }
				getJSON(t, base+"/api/default/webhooks/"+hook+"/deliveries", key, &page)
				if len(page.Items) == 0 || page.Items[0].Outcome != "failed" {
					return fmt.Errorf("attempts %+v", page.Items)
				}
				return nil
			})
			p.cmd.Process.Kill()
			<-p.done
			first, _ := rcv.state()
			rcv.mu.Lock()
			rcv.down = false
			rcv.mu.Unlock()

			p2 := start(t, args...)
			p2.addr()
			var ok map[string]int
			eventually.Within(t, 120*time.Second, func() error {
				if _, ok = rcv.state(); len(ok) == 0 {
					return fmt.Errorf("nothing delivered after the restart")
				}
				return nil
			})
			if len(ok) != 1 || ok[first[0]] != 1 {
				t.Fatalf("delivered %v after the restart, want %s once", ok, first[0])
			}
			p2.stop()
		})
	}
}

// TestWebhooksAcrossNodes: two servers on one PostgreSQL database send each of 20 events
// exactly once, whichever node's change made it.
func TestWebhooksAcrossNodes(t *testing.T) {
	db := testdb.PostgresDSN(t)
	a := start(t, "--db", db)
	urlA := a.addr()
	key := field(a.output(), "bootstrap key")
	urlB := start(t, "--db", db).addr()
	rcv := newHookReceiver(t, false)
	hook := createHook(t, urlA, key, rcv.URL)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			node := urlA
			if i%2 == 1 {
				node = urlB
			}
			createNamedKey(t, node, key, fmt.Sprint("key_", i))
		})
	}
	wg.Wait()
	var ids []string
	var ok map[string]int
	eventually.Within(t, 60*time.Second, func() error {
		if ids, ok = rcv.state(); len(ok) < n {
			return fmt.Errorf("%d of %d events delivered", len(ok), n)
		}
		return nil
	})
	// Every attempt is recorded: once all are, no send is under way.
	var page struct {
		Items []struct{ EventID, Outcome string }
	}
	eventually.Within(t, 30*time.Second, func() error {
		getJSON(t, urlB+"/api/default/webhooks/"+hook+"/deliveries?limit=100", key, &page)
		if len(page.Items) < n {
			return fmt.Errorf("%d attempts recorded", len(page.Items))
		}
		return nil
	})
	ids, ok = rcv.state()
	if len(ids) != n || len(ok) != n || len(page.Items) != n {
		t.Fatalf("%d requests for %d events, %d attempts recorded; want each of %d once", len(ids), len(ok), len(page.Items), n)
	}
	for id, c := range ok {
		if c != 1 {
			t.Fatalf("%s delivered %d times", id, c)
		}
	}
}
