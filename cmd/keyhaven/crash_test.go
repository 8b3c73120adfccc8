package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestBatchSurvivesCrash submits a batch of 20,000, kills the server with SIGKILL in the
// middle, restarts it, and checks that the task reaches DONE with exactly 20,000 distinct
// accesses whose passwords all verify.
func TestBatchSurvivesCrash(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + testdb.SQLitePath(t) },
		"postgres": func(t *testing.T) string { return testdb.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) { testBatchSurvivesCrash(t, dsn(t)) })
	}
}

type batchTask struct {
	ID, State          string
	Requested, Created int
	Processed          int
	Accesses           []struct{ ID, Username, Password string }
	Errors             []any
	NextCursor         string
}

func getJSON(t *testing.T, url, key string, v any) {
	t.Helper()
	status, body := request(t, "GET", url, key, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatal(err)
	}
}

func testBatchSurvivesCrash(t *testing.T, db string) {
	const n = 20000
	// A short lease, so that on PostgreSQL the restarted node may take the task over soon.
	args := []string{"--db", db, "--batch-lease", "2s"}
	p := start(t, args...)
	base := p.addr()
	key := field(p.output(), "bootstrap key")
	for _, req := range []struct{ path, body string }{
		{"/api/default/product-offerings", `{"id":"plain","name":"Plain"}`},
		{"/api/default/contracts", `{"id":"contract-001","productOfferingId":"plain","startDate":"2020-01-01T00:00:00Z","endDate":"2099-01-01T00:00:00Z"}`},
	} {
		if status, body := request(t, "POST", base+req.path, key, req.body); status != 201 {
			t.Fatalf("%s: %d %s", req.path, status, body)
		}
	}
	status, body := request(t, "POST", base+"/api/default/access/batch", key, fmt.Sprintf(`{"contractId":"contract-001","numberOfAccesses":%d}`, n))
	if status != 202 {
		t.Fatalf("batch: %d %s", status, body)
	}
	var ref struct{ ID string }
	json.Unmarshal([]byte(body), &ref)
	taskURL := base + "/api/default/access/batch/" + ref.ID

	// Kill the server once some, but not all, of the work is stored.
	var before batchTask
	eventually.Within(t, 120*time.Second, func() error {
		getJSON(t, taskURL, key, &before)
		if before.Processed == 0 {
			return fmt.Errorf("no progress: %+v", before)
		}
		return nil
	})
	p.cmd.Process.Kill()
	<-p.done
	if before.Processed >= n {
		t.Fatalf("the batch finished before the crash (%d/%d): nothing was tested", before.Processed, n)
	}
	t.Logf("killed with %d of %d processed", before.Processed, n)

	p2 := start(t, args...)
	base = p2.addr()
	taskURL = base + "/api/default/access/batch/" + ref.ID
	var done batchTask
	eventually.Within(t, 180*time.Second, func() error {
		done = batchTask{}
		getJSON(t, taskURL, key, &done)
		if done.State != "DONE" && done.State != "FAILED" {
			return fmt.Errorf("task not done after the restart: %s %d/%d", done.State, done.Processed, n)
		}
		return nil
	})
	// The task's accesses come in pages.
	for next := done.NextCursor; next != ""; {
		var page batchTask
		getJSON(t, taskURL+"?limit=1000&cursor="+url.QueryEscape(next), key, &page)
		done.Accesses = append(done.Accesses, page.Accesses...)
		next = page.NextCursor
	}
	if done.State != "DONE" || done.Created != n || len(done.Accesses) != n || len(done.Errors) != 0 {
		t.Fatalf("after the restart: %s, created %d, %d accesses, %d errors", done.State, done.Created, len(done.Accesses), len(done.Errors))
	}
	ids, names := map[string]bool{}, map[string]bool{}
	for _, a := range done.Accesses {
		if ids[a.ID] || names[a.Username] || a.Password == "" {
			t.Fatalf("access %+v repeated or without password", a)
		}
		ids[a.ID], names[a.Username] = true, true
	}
	// The database holds exactly n accesses of the task: none created twice.
	count, cursor := 0, ""
	for {
		var page struct {
			Items      []struct{ ID string }
			NextCursor string
		}
		getJSON(t, base+"/api/default/access?limit=1000&createdBy="+ref.ID+"&cursor="+url.QueryEscape(cursor), key, &page)
		for _, a := range page.Items {
			if !ids[a.ID] {
				t.Fatalf("access %s is not in the task's result", a.ID)
			}
		}
		count += len(page.Items)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if count != n {
		t.Fatalf("%d accesses stored for the task, want %d", count, n)
	}
	// Every password verifies.
	var wg sync.WaitGroup
	work := make(chan int)
	var mu sync.Mutex
	bad := 0
	for range 8 {
		wg.Go(func() {
			for i := range work {
				a := done.Accesses[i]
				status, body := request(t, "POST", base+"/api/default/access/verify", key,
					fmt.Sprintf(`{"username":%q,"password":%q}`, a.Username, a.Password))
				if status != 200 || !json.Valid([]byte(body)) || !containsValid(body) {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		})
	}
	for i := range done.Accesses {
		work <- i
	}
	close(work)
	wg.Wait()
	if bad != 0 {
		t.Fatalf("%d of %d passwords did not verify", bad, n)
	}
}

func containsValid(body string) bool {
	var v struct{ Valid bool }
	json.Unmarshal([]byte(body), &v)
	return v.Valid
}
