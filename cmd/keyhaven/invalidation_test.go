package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

type verdict struct {
	Valid       bool
	Code        string
	Permissions []string
}

func verifyOn(t *testing.T, base, key string) verdict {
	t.Helper()
	status, body := request(t, "POST", base+"/api/verify", "", fmt.Sprintf(`{"key":%q}`, key))
	if status != 200 {
		t.Fatalf("verify: %d %s", status, body)
	}
	var v verdict
	json.Unmarshal([]byte(body), &v)
	return v
}

func mustRequest(t *testing.T, method, url, token, body string, want int) string {
	t.Helper()
	status, resp := request(t, method, url, token, body)
	if status != want {
		t.Fatalf("%s %s: %d %s", method, url, status, resp)
	}
	return resp
}

func jsonField(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[field].(string)
	return s
}

// cluster starts two nodes on one new PostgreSQL database and returns their URLs and the
// bootstrap key.
func cluster(t *testing.T) (a, b, key string) {
	db := testdb.PostgresDSN(t)
	pa := start(t, "--db", db)
	a = pa.addr()
	key = field(pa.output(), "bootstrap key")
	pb := start(t, "--db", db)
	return a, pb.addr(), key
}

// TestInvalidationAcrossNodes changes a credential on one node and requires every cause to
// show in the other node's verify within one second, its cache warm beforehand.
func TestInvalidationAcrossNodes(t *testing.T) {
	a, b, admin := cluster(t)
	api := a + "/api/default"
	app := jsonField(t, mustRequest(t, "POST", api+"/applications", admin, `{"name":"app"}`, 201), "id")
	newKey := func(name string) (id, key string) {
		body := mustRequest(t, "POST", api+"/applications/"+app+"/access-keys", admin, `{"name":"`+name+`","scopes":["READ","WRITE"]}`, 201)
		return jsonField(t, body, "id"), jsonField(t, body, "key")
	}
	gql := func(token, query string) string {
		body, _ := json.Marshal(map[string]string{"query": query})
		resp := mustRequest(t, "POST", api+"/graphql", token, string(body), 200)
		if strings.Contains(resp, `"errors"`) {
			t.Fatalf("%s: %s", query, resp)
		}
		return resp
	}
	newAPIKey := func(name string) string {
		resp := gql(admin, `mutation { createApiKey(api_key: {name: "`+name+`", permissions: [READ, WRITE]}) { api_key } }`)
		var out struct {
			Data struct {
				CreateAPIKey struct {
					APIKey string `json:"api_key"`
				} `json:"createApiKey"`
			}
		}
		json.Unmarshal([]byte(resp), &out)
		return out.Data.CreateAPIKey.APIKey
	}
	newUser := func(email string) (id, token string) {
		body := mustRequest(t, "POST", api+"/users", admin, `{"email":"`+email+`","password":"a-long-password-1","permissions":["READ","WRITE","CREATE_ACCESS_KEYS_ANY"]}`, 201)
		login := mustRequest(t, "POST", api+"/login", "", `{"email":"`+email+`","password":"a-long-password-1"}`, 200)
		return jsonField(t, body, "id"), jsonField(t, login, "token")
	}

	causes := []struct {
		name  string
		setup func() (key string, change func())
		stale func(v verdict) bool
	}{
		{"access key revoked", func() (string, func()) {
			id, key := newKey("revoked")
			return key, func() { mustRequest(t, "POST", api+"/applications/"+app+"/access-keys/"+id+"/revoke", admin, "", 200) }
		}, func(v verdict) bool { return v.Valid }},
		{"application revoked", func() (string, func()) {
			other := jsonField(t, mustRequest(t, "POST", api+"/applications", admin, `{"name":"doomed"}`, 201), "id")
			body := mustRequest(t, "POST", api+"/applications/"+other+"/access-keys", admin, `{"name":"k","scopes":["READ"]}`, 201)
			return jsonField(t, body, "key"), func() { mustRequest(t, "POST", api+"/applications/"+other+"/revoke", admin, "", 200) }
		}, func(v verdict) bool { return v.Valid }},
		{"API key deleted", func() (string, func()) {
			key := newAPIKey("DELETED")
			return key, func() { gql(admin, `mutation { deleteApiKey(name: "DELETED") }`) }
		}, func(v verdict) bool { return v.Valid }},
		{"API key deactivated", func() (string, func()) {
			key := newAPIKey("DEACTIVATED")
			return key, func() {
				gql(admin, `mutation { updateApiKey(name: "DEACTIVATED", api_key: {active: false}) { name } }`)
			}
		}, func(v verdict) bool { return v.Valid }},
		{"API key permissions changed", func() (string, func()) {
			key := newAPIKey("NARROWED")
			return key, func() {
				gql(admin, `mutation { updateApiKey(name: "NARROWED", api_key: {permissions: [READ]}) { name } }`)
			}
		}, func(v verdict) bool { return len(v.Permissions) != 1 }},
		{"owner deleted", func() (string, func()) {
			uid, token := newUser("leaver@default.test")
			body := mustRequest(t, "POST", api+"/applications/"+app+"/access-keys", token, `{"name":"leavers","scopes":["READ"]}`, 201)
			return jsonField(t, body, "key"), func() { mustRequest(t, "DELETE", api+"/users/"+uid, admin, "", 204) }
		}, func(v verdict) bool { return v.Valid }},
		{"owner permission removed", func() (string, func()) {
			uid, token := newUser("narrowed@default.test")
			body := mustRequest(t, "POST", api+"/applications/"+app+"/access-keys", token, `{"name":"narrowed","scopes":["READ","WRITE"]}`, 201)
			return jsonField(t, body, "key"), func() { mustRequest(t, "PATCH", api+"/users/"+uid, admin, `{"permissions":["READ"]}`, 200) }
		}, func(v verdict) bool { return len(v.Permissions) != 1 }},
		{"session ended", func() (string, func()) {
			_, token := newUser("sessions@default.test")
			return token, func() { mustRequest(t, "POST", api+"/logout", token, "", 204) }
		}, func(v verdict) bool { return v.Valid }},
	}
	for _, c := range causes {
		t.Run(c.name, func(t *testing.T) {
			key, change := c.setup()
			for range 3 { // warm node B's cache
				if v := verifyOn(t, b, key); !v.Valid || !c.stale(v) {
					t.Fatalf("before the change: %+v", v)
				}
			}
			change()
			changed := time.Now()
			eventually.Within(t, time.Second, func() error {
				if v := verifyOn(t, b, key); c.stale(v) {
					return fmt.Errorf("node B still says %+v", v)
				}
				return nil
			})
			t.Logf("node B saw it after %v", time.Since(changed).Round(time.Millisecond))
		})
	}
}

// TestStaleCacheRace verifies one key from 32 goroutines on two nodes while it is revoked:
// after the revocation returns, no verification that starts more than one second later may
// say VALID, on either node.
func TestStaleCacheRace(t *testing.T) {
	a, b, admin := cluster(t)
	api := a + "/api/default"
	app := jsonField(t, mustRequest(t, "POST", api+"/applications", admin, `{"name":"app"}`, 201), "id")
	body := mustRequest(t, "POST", api+"/applications/"+app+"/access-keys", admin, `{"name":"hot","scopes":["READ"]}`, 201)
	id, key := jsonField(t, body, "id"), jsonField(t, body, "key")

	type sample struct {
		worker int
		start  time.Time
		valid  bool
	}
	var mu sync.Mutex
	var samples []sample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 32 {
		node := a
		if i%2 == 1 {
			node = b
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				v := verifyOn(t, node, key)
				mu.Lock()
				samples = append(samples, sample{i, start, v.Valid})
				mu.Unlock()
			}
		})
	}
	// workersSince counts the goroutines that finished a verification started after t.
	workersSince := func(t time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		seen := map[int]bool{}
		for _, s := range samples {
			if s.start.After(t) {
				seen[s.worker] = true
			}
		}
		return len(seen)
	}
	// Wait until both nodes' caches are warm: every goroutine has seen the key VALID.
	eventually.Within(t, 30*time.Second, func() error {
		if n := workersSince(time.Time{}); n < 32 {
			return fmt.Errorf("only %d of 32 goroutines verified", n)
		}
		return nil
	})
	mustRequest(t, "POST", api+"/applications/"+app+"/access-keys/"+id+"/revoke", admin, "", 200)
	revoked := time.Now()
	// Keep verifying through the whole second the contract allows, until every goroutine, on
	// both nodes, has verified once past it.
	eventually.Within(t, 30*time.Second, func() error {
		if n := workersSince(revoked.Add(time.Second)); n < 32 {
			return fmt.Errorf("only %d of 32 goroutines verified more than a second after the revocation", n)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	var lastValid time.Time
	before, after := 0, 0
	for _, s := range samples {
		if s.start.Before(revoked) {
			before++
		} else {
			after++
		}
		if s.valid && s.start.After(lastValid) {
			lastValid = s.start
		}
		if s.valid && s.start.After(revoked.Add(time.Second)) {
			t.Fatalf("a verification started %v after the revocation said VALID", s.start.Sub(revoked))
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("%d verifications before the revocation and %d after: the race was not run", before, after)
	}
	t.Logf("%d verifications; the last VALID started %v after the revocation returned", len(samples), lastValid.Sub(revoked).Round(time.Millisecond))
}
