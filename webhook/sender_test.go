package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/node"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/sqlstore"
)

// hit is one request a receiver got.
type hit struct {
	Header http.Header
	Body   []byte
	Status int // what the receiver answered
}

// ID is the hit's webhook-id.
func (h hit) ID() string { return h.Header.Get("webhook-id") }

// Event decodes the hit's body.
func (h hit) Event(t testing.TB) (typ string, data map[string]any) {
	t.Helper()
	var p struct {
		Type      string
		Timestamp time.Time
		Data      map[string]any
	}
	if err := json.Unmarshal(h.Body, &p); err != nil || p.Timestamp.IsZero() {
		t.Fatalf("payload %s: %v, or no timestamp", h.Body, err)
	}
	return p.Type, p.Data
}

// receiver is a webhook receiver on loopback that records what it gets and answers with the
// status answer gives for the nth request (204 when answer is nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	answer func(n int) int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := http.StatusNoContent
		if r.answer != nil {
			status = r.answer(len(r.hits))
		}
		r.hits = append(r.hits, hit{Header: req.Header.Clone(), Body: body, Status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// Hits returns what the receiver got so far.
func (r *receiver) Hits() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// wait waits until the receiver got n requests, and returns them.
func (r *receiver) wait(t *testing.T, n int) []hit {
	t.Helper()
	var hits []hit
	eventually.Within(t, 20*time.Second, func() error {
		if hits = r.Hits(); len(hits) < n {
			return fmt.Errorf("%d requests, want %d", len(hits), n)
		}
		return nil
	})
	return hits
}

// waitFor waits until the receiver got a delivered event of type typ whose data holds
// field = value, and returns every request it got until then.
func (r *receiver) waitFor(t *testing.T, typ, field, value string) []hit {
	t.Helper()
	var hits []hit
	eventually.Within(t, 20*time.Second, func() error {
		hits = r.Hits()
		for _, h := range hits {
			if got, data := h.Event(t); got == typ && data[field] == value && h.Status < 300 {
				return nil
			}
		}
		return fmt.Errorf("no %s with %s %s among %d requests", typ, field, value, len(hits))
	})
	return hits
}

// count counts the delivered hits of type typ.
func count(t *testing.T, hits []hit, typ string) int {
	n := 0
	for _, h := range hits {
		if got, _ := h.Event(t); got == typ && h.Status < 300 {
			n++
		}
	}
	return n
}

// newEnv starts a node whose failed deliveries are retried on schedule.
func newEnv(t *testing.T, open testdb.Opener, schedule ...time.Duration) *apitest.Env {
	return apitest.NewNode(t, open, func(c *node.Config) {
		c.WebhookRetrySchedule = schedule
		c.WebhookPoll = time.Second
	})
}

// createWebhook creates an acme webhook to url for events and returns its id and secret.
func createWebhook(t *testing.T, e *apitest.Env, url string, events ...keyhaven.EventType) (id, secret string) {
	t.Helper()
	r := e.Do("POST", "/api/acme/webhooks", e.Acme.APIKey, map[string]any{"url": url, "events": events})
	if r.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", r.Status, r.Body)
	}
	var w struct{ ID, Secret string }
	r.Decode(t, &w)
	if !strings.HasPrefix(w.Secret, "whsec_") {
		t.Fatalf("created webhook without its secret: %s", r.Body)
	}
	return w.ID, w.Secret
}

// createKey creates an acme API key and returns its secret.
func createKey(t *testing.T, e *apitest.Env, body map[string]any) string {
	t.Helper()
	if body["permissions"] == nil {
		body["permissions"] = []string{"READ"}
	}
	r := e.Do("POST", "/api/acme/api-keys", e.Acme.APIKey, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create API key: %d %s", r.Status, r.Body)
	}
	var k struct{ Key string }
	r.Decode(t, &k)
	return k.Key
}

// verifySigned checks a hit's signature as a receiver would, with the Standard Webhooks
// reference library, the timestamp's tolerance included unless ignoring it.
func verifySigned(t *testing.T, secret string, h hit, ignoringTime bool) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	verify := wh.Verify
	if ignoringTime {
		verify = wh.VerifyIgnoringTimestamp
	}
	if err := verify(h.Body, h.Header); err != nil {
		t.Fatalf("signature of %s (headers %v): %v", h.Body, h.Header, err)
	}
}

func forEngines(t *testing.T, test func(t *testing.T, open testdb.Opener)) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { test(t, open) })
	}
}

// TestSignedAndShownAsGET: a receiver verifies each event with the reference algorithm, and
// finds the object as its GET shows it, and never a secret.
func TestSignedAndShownAsGET(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		e := newEnv(t, open)
		rcv := newReceiver(t, nil)
		_, whSecret := createWebhook(t, e, rcv.URL+"/hooks?token=tenant-own", keyhaven.EventAPIKeyCreated, keyhaven.EventAPIKeyRotated,
			keyhaven.EventAccessKeyCreated, keyhaven.EventApplicationCreated, keyhaven.EventAccessCreated, keyhaven.EventUserDeleted)
		key := createKey(t, e, map[string]any{"name": "billing_sync", "credits": map[string]any{"remaining": 5}, "meta": map[string]any{"plan": "gold"}})
		hits := rcv.waitFor(t, "api_key.created", "name", "billing_sync")
		h := hits[0]
		verifySigned(t, whSecret, h, false)
		if h.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.ID(), "msg_") {
			t.Fatalf("headers %v", h.Header)
		}
		_, data := h.Event(t)
		var get map[string]any
		e.Do("GET", "/api/acme/api-keys/billing_sync", e.Acme.APIKey, nil).Decode(t, &get)
		if !reflect.DeepEqual(data, get) {
			t.Fatalf("api_key.created data\n%v\nwant the key as its GET shows it\n%v", data, get)
		}

		// More objects and their secrets: none may reach a receiver.
		secrets := []string{key, whSecret, e.Acme.APIKey}
		rot := e.Do("POST", "/api/acme/api-keys/billing_sync/rotate", e.Acme.APIKey, map[string]any{})
		var rotated struct{ Key string }
		rot.Decode(t, &rotated)
		secrets = append(secrets, rotated.Key)
		var app struct{ ID string }
		e.Do("POST", "/api/acme/applications", e.Acme.APIKey, map[string]any{"name": "shop"}).Decode(t, &app)
		var ak struct{ ID, Key string }
		e.Do("POST", "/api/acme/applications/"+app.ID+"/access-keys", e.Acme.APIKey, map[string]any{"name": "front", "scopes": []string{"READ"}}).Decode(t, &ak)
		secrets = append(secrets, ak.Key)
		e.ActiveContract(t)
		var acc struct{ ID, Password string }
		e.Do("POST", "/api/acme/access", e.Acme.APIKey, map[string]any{"contractId": "contract-001"}).Decode(t, &acc)
		secrets = append(secrets, acc.Password)
		uid, session := e.CreateUser("leaver@acme.test", keyhaven.READ)
		secrets = append(secrets, session, "correct-horse-battery")
		if r := e.Do("DELETE", "/api/acme/users/"+uid, e.Acme.APIKey, nil); r.Status != http.StatusNoContent {
			t.Fatal(r.Status, string(r.Body))
		}
		hits = rcv.waitFor(t, "user.deleted", "id", uid)
		for _, typ := range []string{"api_key.rotated", "application.created", "access_key.created", "access.created"} {
			if count(t, hits, typ) != 1 {
				t.Errorf("%d %s events, want 1", count(t, hits, typ), typ)
			}
		}
		for _, h := range hits {
			verifySigned(t, whSecret, h, false)
			for _, s := range secrets {
				if s != "" && bytes.Contains(h.Body, []byte(s)) {
					t.Fatalf("a payload holds a secret: %s", h.Body)
				}
			}
		}
		if strings.Contains(e.Logs(), whSecret) {
			t.Fatal("the logs hold the webhook's secret")
		}
		audit, _ := json.Marshal(e.Audit(""))
		if bytes.Contains(audit, []byte(whSecret)) || bytes.Contains(audit, []byte(strings.TrimPrefix(whSecret, "whsec_"))) {
			t.Fatal("the audit log holds the webhook's secret")
		}
		if r := e.Do("GET", "/api/acme/webhooks", e.Acme.APIKey, nil); bytes.Contains(r.Body, []byte(strings.TrimPrefix(whSecret, "whsec_"))) {
			t.Fatal("the listing holds the webhook's secret")
		}
	})
}

// TestRetriesKeepIDAndBody: a message answered 500 is retried with the same webhook-id and
// body, on the schedule, then given up, and the webhook's next message goes.
func TestRetriesKeepIDAndBody(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		e := newEnv(t, open, 5*time.Second, 5*time.Second)
		// The first message fails thrice (given up); the second once, then goes.
		rcv := newReceiver(t, func(n int) int {
			if n < 4 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		id, secret := createWebhook(t, e, rcv.URL, keyhaven.EventAPIKeyCreated)
		createKey(t, e, map[string]any{"name": "first"})
		createKey(t, e, map[string]any{"name": "second"})
		deliveries := func(n int) []map[string]any {
			var page struct{ Items []map[string]any }
			eventually.Within(t, 20*time.Second, func() error {
				e.Do("GET", "/api/acme/webhooks/"+id+"/deliveries", e.Acme.APIKey, nil).Decode(t, &page)
				if len(page.Items) < n {
					return fmt.Errorf("%d attempts recorded, want %d", len(page.Items), n)
				}
				return nil
			})
			return page.Items
		}
		for n := 1; n <= 3; n++ {
			rcv.wait(t, n)
			deliveries(n) // recorded: its retry is due from now
			if n < 3 {
				if hits := rcv.Hits(); len(hits) != n {
					t.Fatalf("%d requests before the retry was due, want %d", len(hits), n)
				}
				e.Clock.Advance(5 * time.Second)
			}
		}
		rcv.wait(t, 4)
		e.Clock.Advance(5 * time.Second)
		hits := rcv.wait(t, 5)
		for i, h := range hits {
			verifySigned(t, secret, h, false)
			want := hits[0]
			if i >= 3 {
				want = hits[3]
			}
			if h.ID() != want.ID() || !bytes.Equal(h.Body, want.Body) {
				t.Fatalf("request %d: id %s body %s, want %s %s", i, h.ID(), h.Body, want.ID(), want.Body)
			}
		}
		if _, d := hits[0].Event(t); d["name"] != "first" || hits[0].ID() == hits[3].ID() {
			t.Fatalf("the first message was %v; the second has its id too: %v", d, hits[0].ID() == hits[3].ID())
		}
		var got []string
		for _, d := range deliveries(5) {
			got = append(got, fmt.Sprintf("%v:%v:%v", d["attempt"], d["status"], d["outcome"]))
			if d["eventId"] == "" || d["type"] != "api_key.created" || d["at"] == "" {
				t.Fatalf("delivery %v lacks its event", d)
			}
		}
		want := []string{"2:200:delivered", "1:500:failed", "3:500:exhausted", "2:500:failed", "1:500:failed"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("deliveries newest first %v, want %v", got, want)
		}
		if got := e.Node.Webhooks.Deliveries(); got["delivered"] != 1 || got["failed"] != 3 || got["exhausted"] != 1 {
			t.Fatalf("Deliveries() = %v", got)
		}
		if n, err := e.Svc.CountPendingWebhookDeliveries(context.Background()); err != nil || n != 0 {
			t.Fatalf("%d pending, %v", n, err)
		}
	})
}

// TestInOrderPerEndpoint: a webhook's messages arrive in the order of their changes, the next
// waiting for the one before it, while another webhook goes on.
func TestInOrderPerEndpoint(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		e := newEnv(t, open, 5*time.Second)
		slow := newReceiver(t, func(n int) int {
			if n == 0 {
				return http.StatusServiceUnavailable
			}
			return http.StatusNoContent
		})
		fast := newReceiver(t, nil)
		createWebhook(t, e, slow.URL, keyhaven.EventAPIKeyCreated)
		createWebhook(t, e, fast.URL, keyhaven.EventAPIKeyCreated)
		const n = 10
		for i := range n {
			createKey(t, e, map[string]any{"name": fmt.Sprint("key_", i)})
		}
		names := func(hits []hit) []string {
			var out []string
			for _, h := range hits {
				_, d := h.Event(t)
				out = append(out, fmt.Sprint(d["name"]))
			}
			return out
		}
		want := make([]string, n)
		for i := range want {
			want[i] = fmt.Sprint("key_", i)
		}
		// The fast endpoint gets them all, in order, while the slow one waits on its first.
		if got := names(fast.wait(t, n)); !reflect.DeepEqual(got, want) {
			t.Fatalf("fast endpoint got %v, want %v", got, want)
		}
		if hits := slow.wait(t, 1); len(hits) != 1 {
			t.Fatalf("the slow endpoint got %v before its first message's retry", names(hits))
		}
		e.Clock.Advance(5 * time.Second)
		if got := names(slow.wait(t, n+1)); !reflect.DeepEqual(got, append([]string{"key_0"}, want...)) {
			t.Fatalf("slow endpoint got %v, want key_0 again then in order", got)
		}
	})
}

// TestOutboxWithTheChange: a refused change sends nothing.
func TestOutboxWithTheChange(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		e := newEnv(t, open)
		rcv := newReceiver(t, nil)
		createWebhook(t, e, rcv.URL, keyhaven.EventAPIKeyCreated, keyhaven.EventAPIKeyUpdated)
		createKey(t, e, map[string]any{"name": "taken"})
		if r := e.Do("POST", "/api/acme/api-keys", e.Acme.APIKey, map[string]any{"name": "taken", "permissions": []string{"READ"}}); r.Status != http.StatusConflict {
			t.Fatal(r.Status, string(r.Body))
		}
		if r := e.Do("PATCH", "/api/acme/api-keys/taken", e.Acme.APIKey, map[string]any{"permissions": []string{"NOPE"}}); r.Status != http.StatusBadRequest {
			t.Fatal(r.Status, string(r.Body))
		}
		createKey(t, e, map[string]any{"name": "sentinel"})
		hits := rcv.waitFor(t, "api_key.created", "name", "sentinel")
		if len(hits) != 2 || count(t, hits, "api_key.updated") != 0 {
			t.Fatalf("refused changes were announced: %d requests", len(hits))
		}
	})
}

// TestQueuedWithoutSender: a change is queued in its transaction whether or not any sender
// runs; a node started later sends it.
func TestQueuedWithoutSender(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		ctx := context.Background()
		rcv := newReceiver(t, nil)
		store := open(t)
		key, _ := secret.ParseKey(secret.NewKey())
		sealer, _ := secret.NewSealer(key)
		svc := keyhaven.NewService(store, slog.New(slog.DiscardHandler))
		svc.Sealer, svc.PasswordParams = sealer, apitest.FastPasswords
		created, err := svc.CreateTenant(ctx, "early", "admin@early.test")
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, keyhaven.APIUse(ctx, created.APIKey, "early"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.CreateWebhook(ctx, p, keyhaven.WebhookInput{URL: rcv.URL, Events: []string{"api_key.created"}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.CreateAPIKey(ctx, p, keyhaven.APIKeyInput{Name: "offline", Permissions: []string{"READ"}}); err != nil {
			t.Fatal(err)
		}
		if n, err := svc.CountPendingWebhookDeliveries(ctx); err != nil || n != 1 {
			t.Fatalf("pending %d, %v after a change with no sender running, want 1", n, err)
		}
		apitest.NewNode(t, func(testing.TB) *sqlstore.DB { return store }, func(c *node.Config) { c.Sealer = sealer })
		rcv.waitFor(t, "api_key.created", "name", "offline")
	})
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("no such host %s", host)
}

// TestAllowList: with --webhook-allow, other destinations are refused when a webhook is made,
// and again when the sender connects: a name that resolved into the allowed ranges then and
// to loopback now is not sent to.
func TestAllowList(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		dest, err := keyhaven.ParseDestinations("192.0.2.0/24, hooks.example.test")
		if err != nil {
			t.Fatal(err)
		}
		e := apitest.NewNode(t, open, func(c *node.Config) { c.WebhookDestinations = dest; c.WebhookPoll = time.Second })
		// When the webhook is made, "localhost" resolves into the allowed range; the sender
		// resolves it as the machine does, to loopback.
		e.Svc.Resolver = fakeResolver{"localhost": {netip.MustParseAddr("192.0.2.7")}}
		rcv := newReceiver(t, nil)
		port := rcv.URL[strings.LastIndex(rcv.URL, ":")+1:]
		for _, url := range []string{rcv.URL, "http://[::1]:" + port, "http://unknown.example.test/", "http://10.1.2.3/"} {
			r := e.Do("POST", "/api/acme/webhooks", e.Acme.APIKey, map[string]any{"url": url, "events": []string{"api_key.created"}})
			if r.Status != http.StatusBadRequest || r.JSON()["code"] != "destination_not_allowed" {
				t.Fatalf("%s: %d %s, want 400 destination_not_allowed", url, r.Status, r.Body)
			}
		}
		for _, url := range []string{"https://hooks.example.test/x", "http://192.0.2.55:8080/"} {
			if r := e.Do("POST", "/api/acme/webhooks", e.Acme.APIKey, map[string]any{"url": url, "events": []string{"user.deleted"}}); r.Status != http.StatusCreated {
				t.Fatalf("%s: %d %s", url, r.Status, r.Body)
			}
		}
		id, _ := createWebhook(t, e, "http://localhost:"+port+"/", keyhaven.EventAPIKeyCreated)
		createKey(t, e, map[string]any{"name": "rebound"})
		eventually.Within(t, 20*time.Second, func() error {
			var page struct {
				Items []struct{ Error, Outcome string }
			}
			e.Do("GET", "/api/acme/webhooks/"+id+"/deliveries", e.Acme.APIKey, nil).Decode(t, &page)
			if len(page.Items) == 0 {
				return fmt.Errorf("no attempt yet")
			}
			if it := page.Items[0]; it.Outcome != "failed" || !strings.Contains(it.Error, "not one this server may send webhooks to") {
				t.Fatalf("attempt %+v, want refused at connection", it)
			}
			return nil
		})
		if hits := rcv.Hits(); len(hits) != 0 {
			t.Fatalf("the refused destination got %d requests", len(hits))
		}
	})
}

// TestBatchAnnouncedOnce: a batch's accesses are announced by one access_batch.completed,
// not one access.created each; a single access is announced without its password.
func TestBatchAnnouncedOnce(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		e := newEnv(t, open)
		rcv := newReceiver(t, nil)
		createWebhook(t, e, rcv.URL, keyhaven.EventAccessCreated, keyhaven.EventAccessBatchCompleted)
		e.ActiveContract(t)
		var task struct{ ID string }
		e.Do("POST", "/api/acme/access/batch", e.Acme.APIKey, map[string]any{"contractId": "contract-001", "numberOfAccesses": 5}).Decode(t, &task)
		done := e.WaitBatch(t, task.ID)
		var one struct{ ID, Password string }
		e.Do("POST", "/api/acme/access", e.Acme.APIKey, map[string]any{"contractId": "contract-001"}).Decode(t, &one)
		hits := rcv.waitFor(t, "access.created", "id", one.ID)
		if len(hits) != 2 || count(t, hits, "access_batch.completed") != 1 {
			t.Fatalf("%d requests, %d access_batch.completed; want the batch once and the single access", len(hits), count(t, hits, "access_batch.completed"))
		}
		_, data := hits[0].Event(t)
		if data["id"] != task.ID || data["state"] != "DONE" || data["created"] != 5.0 || data["accesses"] != nil {
			t.Fatalf("access_batch.completed data %v", data)
		}
		for _, a := range done.JSON()["accesses"].([]any) {
			if pw := a.(map[string]any)["password"].(string); bytes.Contains(hits[0].Body, []byte(pw)) {
				t.Fatal("the batch event holds a password")
			}
		}
		if bytes.Contains(hits[1].Body, []byte(one.Password)) || bytes.Contains(hits[1].Body, []byte(`"password"`)) {
			t.Fatalf("access.created holds the password: %s", hits[1].Body)
		}
	})
}

// TestUsageExceededOnce: running out of credits is announced once, and again once the
// credits are set anew.
func TestUsageExceededOnce(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		e := newEnv(t, open)
		rcv := newReceiver(t, nil)
		createWebhook(t, e, rcv.URL, keyhaven.EventUsageExceeded, keyhaven.EventAPIKeyCreated, keyhaven.EventAPIKeyUpdated)
		key := createKey(t, e, map[string]any{"name": "metered", "credits": map[string]any{"remaining": 2}})
		verify := func(n int) (codes []string) {
			for range n {
				var v struct{ Code string }
				e.Do("POST", "/api/verify", "", map[string]any{"key": key}).Decode(t, &v)
				codes = append(codes, v.Code)
			}
			return codes
		}
		if got := verify(6); got[1] != "VALID" || got[2] != "USAGE_EXCEEDED" || got[5] != "USAGE_EXCEEDED" {
			t.Fatalf("codes %v", got)
		}
		// Messages arrive in order: once the sentinel is in, every earlier one is.
		createKey(t, e, map[string]any{"name": "sentinel_1"})
		hits := rcv.waitFor(t, "api_key.created", "name", "sentinel_1")
		if n := count(t, hits, "credential.usage_exceeded"); n != 1 {
			t.Fatalf("%d usage_exceeded events, want 1", n)
		}
		for _, h := range hits {
			if typ, data := h.Event(t); typ == "credential.usage_exceeded" && (data["name"] != "metered" || bytes.Contains(h.Body, []byte(key))) {
				t.Fatalf("usage_exceeded: %s", h.Body)
			}
		}
		if r := e.Do("PATCH", "/api/acme/api-keys/metered", e.Acme.APIKey, map[string]any{"credits": map[string]any{"remaining": 1}}); r.Status != http.StatusOK {
			t.Fatal(r.Status, string(r.Body))
		}
		verify(4)
		createKey(t, e, map[string]any{"name": "sentinel_2"})
		hits = rcv.waitFor(t, "api_key.created", "name", "sentinel_2")
		if n := count(t, hits, "credential.usage_exceeded"); n != 2 {
			t.Fatalf("%d usage_exceeded events after new credits, want 2", n)
		}
	})
}

// TestExpiringOnce: garbage collection, as the clock moves, announces each key once with 7
// days left and once with 1 day left; a key made with less is announced at once.
func TestExpiringOnce(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		e := newEnv(t, open)
		rcv := newReceiver(t, nil)
		_, whSecret := createWebhook(t, e, rcv.URL, keyhaven.EventAPIKeyExpiring, keyhaven.EventAccessKeyExpiring, keyhaven.EventAPIKeyCreated)
		t0 := e.Clock.Now()
		day := 24 * time.Hour
		createKey(t, e, map[string]any{"name": "ten_days", "expiresAt": t0.Add(10 * day)})
		createKey(t, e, map[string]any{"name": "three_days", "expiresAt": t0.Add(3 * day)})
		createKey(t, e, map[string]any{"name": "half_day", "expiresAt": t0.Add(12 * time.Hour)})
		var app struct{ ID string }
		e.Do("POST", "/api/acme/applications", e.Acme.APIKey, map[string]any{"name": "shop"}).Decode(t, &app)
		if r := e.Do("POST", "/api/acme/applications/"+app.ID+"/access-keys", e.Acme.APIKey,
			map[string]any{"name": "eight_days", "scopes": []string{"READ"}, "expiresAt": t0.Add(8 * day)}); r.Status != http.StatusCreated {
			t.Fatal(r.Status, string(r.Body))
		}
		expiring := map[string]int{}
		sentinels := 0
		// sweep advances the clock to t0+at, collects garbage twice and returns the expiry
		// notices that came since the last sweep, by key name.
		sweep := func(at time.Duration) map[string]int {
			t.Helper()
			e.Clock.Advance(t0.Add(at).Sub(e.Clock.Now()))
			for range 2 {
				if _, err := e.Svc.CollectGarbage(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			sentinels++
			name := fmt.Sprint("sentinel_", sentinels)
			createKey(t, e, map[string]any{"name": name})
			got := map[string]int{}
			for _, h := range rcv.waitFor(t, "api_key.created", "name", name) {
				if typ, data := h.Event(t); strings.HasSuffix(typ, ".expiring") {
					got[data["name"].(string)]++
				}
			}
			new := map[string]int{}
			for k, v := range got {
				if v != expiring[k] {
					new[k] = v - expiring[k]
				}
			}
			expiring = got
			return new
		}
		for _, step := range []struct {
			at   time.Duration
			want map[string]int
		}{
			{0, map[string]int{"three_days": 1, "half_day": 1}},  // at once: 7-day for 3 days left, only the 1-day for 12 h
			{day + time.Hour, map[string]int{"eight_days": 1}},   // 6 d 23 h left
			{2*day + time.Hour, map[string]int{"three_days": 1}}, // 23 h left
			{3*day + time.Hour, map[string]int{"ten_days": 1}},   // 6 d 23 h left
			{4 * day, map[string]int{}},
			{7*day + time.Hour, map[string]int{"eight_days": 1}}, // 23 h left
			{9*day + time.Hour, map[string]int{"ten_days": 1}},   // 23 h left
			{11 * day, map[string]int{}},
		} {
			if got := sweep(step.at); !reflect.DeepEqual(got, step.want) {
				t.Fatalf("at t0+%v: new notices %v, want %v", step.at, got, step.want)
			}
		}
		// The clock moved days ahead of the real one: the timestamps are its.
		for _, h := range rcv.Hits() {
			verifySigned(t, whSecret, h, true)
		}
	})
}

// TestUnopenableSecretHoldsUpNoOther: a webhook whose stored secret cannot be opened is sent
// nothing, and the error is logged, while another webhook claimed with it is sent its message.
func TestUnopenableSecretHoldsUpNoOther(t *testing.T) {
	forEngines(t, func(t *testing.T, open testdb.Opener) {
		e := newEnv(t, open)
		broken, fine := newReceiver(t, nil), newReceiver(t, nil)
		id, _ := createWebhook(t, e, broken.URL, keyhaven.EventAPIKeyCreated)
		createWebhook(t, e, fine.URL, keyhaven.EventAPIKeyCreated)
		db := e.Store.(*sqlstore.DB)
		if _, err := db.SQL().Exec(db.Rebind(`UPDATE webhooks SET secret = ? WHERE id = ?`), "not-sealed", id); err != nil {
			t.Fatal(err)
		}
		createKey(t, e, map[string]any{"name": "announced"})
		fine.waitFor(t, "api_key.created", "name", "announced")
		if hits := broken.Hits(); len(hits) != 0 {
			t.Fatalf("the webhook whose secret cannot be opened got %d requests", len(hits))
		}
		eventually.Within(t, 20*time.Second, func() error {
			if !strings.Contains(e.Logs(), id) {
				return fmt.Errorf("the logs do not name %s", id)
			}
			return nil
		})
	})
}
