package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

func newWebhook(f fixture, events ...keyhaven.EventType) *keyhaven.Webhook {
	return &keyhaven.Webhook{ID: keyhaven.NewID("whk"), TenantID: f.tenant.ID, URL: "https://hooks.example.com/" + fmt.Sprint(next()),
		Events: events, Enabled: true, Secret: "sealed-secret", CreatedBy: f.admin.ID, CreatedAt: base, UpdatedAt: base}
}

func mustCreateWebhook(t *testing.T, s keyhaven.Store, f fixture, events ...keyhaven.EventType) *keyhaven.Webhook {
	t.Helper()
	w := newWebhook(f, events...)
	if err := s.CreateWebhook(ctx, w, keyhaven.MaxWebhooks, nil); err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	return w
}

// notice returns an audit event of f's tenant announcing t with data.
func notice(f fixture, t keyhaven.EventType, data any) *keyhaven.AuditEvent {
	e := event(f, string(t))
	e.Notices = []keyhaven.Notice{{Type: t, Data: func() any { return data }}}
	return e
}

// claimAll claims, as owner at now, every delivery due, and returns them by webhook.
func claimAll(t *testing.T, s keyhaven.Store, owner string, now time.Time) map[string][]*keyhaven.WebhookDelivery {
	t.Helper()
	ds, err := s.ClaimWebhookDeliveries(ctx, owner, now, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatalf("ClaimWebhookDeliveries: %v", err)
	}
	out := map[string][]*keyhaven.WebhookDelivery{}
	for _, d := range ds {
		out[d.WebhookID] = append(out[d.WebhookID], d)
	}
	return out
}

func payloadData(t *testing.T, d *keyhaven.WebhookDelivery) map[string]any {
	t.Helper()
	var p struct {
		Type      string
		Timestamp time.Time
		Data      map[string]any
	}
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", d.Payload, err)
	}
	if p.Type != string(d.Type) || !p.Timestamp.Equal(base) {
		t.Fatalf("payload %s: type %q, timestamp %v; want %q, %v", d.Payload, p.Type, p.Timestamp, d.Type, base)
	}
	return p.Data
}

func finish(t *testing.T, s keyhaven.Store, d *keyhaven.WebhookDelivery, owner, outcome string, next time.Time) {
	t.Helper()
	a := &keyhaven.WebhookAttempt{ID: keyhaven.NewID("dlv"), TenantID: d.TenantID, WebhookID: d.WebhookID, MessageID: d.MessageID,
		Type: d.Type, Attempt: d.Attempt, At: base, Status: 500, Outcome: outcome}
	if outcome == keyhaven.DeliveryDelivered {
		a.Status = 204
	}
	if err := s.FinishWebhookAttempt(ctx, d.ID, owner, a, next); err != nil {
		t.Fatalf("FinishWebhookAttempt: %v", err)
	}
}

// testWebhookCRUD: webhooks are kept per tenant, changed and deleted, within the limit.
func testWebhookCRUD(t *testing.T, s keyhaven.Store) {
	f, other := newTenant(t, s), newTenant(t, s)
	w := mustCreateWebhook(t, s, f, keyhaven.EventAPIKeyCreated, keyhaven.EventUserDeleted)
	got, err := s.Webhook(ctx, f.tenant.ID, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != w.URL || !slices.Equal(got.Events, w.Events) || !got.Enabled || got.Secret != w.Secret || !got.CreatedAt.Equal(base) {
		t.Fatalf("Webhook = %+v, want %+v", got, w)
	}
	_, err = s.Webhook(ctx, other.tenant.ID, w.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	later := base.Add(time.Hour)
	got, err = s.UpdateWebhook(ctx, f.tenant.ID, w.ID, func(w *keyhaven.Webhook) error {
		w.URL, w.Events, w.Enabled, w.Description, w.UpdatedAt = "http://10.0.0.1:8080/x", []keyhaven.EventType{keyhaven.EventAccessCreated}, false, "changed", later
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != "http://10.0.0.1:8080/x" || got.Enabled || got.Description != "changed" {
		t.Fatalf("UpdateWebhook returned %+v, want the change", got)
	}
	if got, _ = s.Webhook(ctx, f.tenant.ID, w.ID); got.URL != "http://10.0.0.1:8080/x" || got.Enabled || got.Description != "changed" ||
		!slices.Equal(got.Events, []keyhaven.EventType{keyhaven.EventAccessCreated}) || !got.UpdatedAt.Equal(later) {
		t.Fatalf("after the update: %+v", got)
	}
	_, err = s.UpdateWebhook(ctx, other.tenant.ID, w.ID, func(*keyhaven.Webhook) error { return nil }, nil)
	wantCode(t, err, keyhaven.ENOTFOUND)
	for range 3 {
		mustCreateWebhook(t, s, f, keyhaven.EventAPIKeyCreated)
	}
	page1, err := s.ListWebhooks(ctx, f.tenant.ID, keyhaven.Page{Limit: 3})
	if err != nil || len(page1) != 3 {
		t.Fatalf("ListWebhooks = %d, %v", len(page1), err)
	}
	page2, _ := s.ListWebhooks(ctx, f.tenant.ID, keyhaven.Page{Limit: 3, After: page1[2].ID})
	if len(page2) != 1 {
		t.Fatalf("second page: %d webhooks, want 1", len(page2))
	}
	if l, _ := s.ListWebhooks(ctx, other.tenant.ID, keyhaven.Page{}); len(l) != 0 {
		t.Fatalf("another tenant lists %d webhooks", len(l))
	}
	wantCode(t, s.CreateWebhook(ctx, newWebhook(f), 4, nil), keyhaven.ECONFLICT)
	wantCode(t, s.DeleteWebhook(ctx, other.tenant.ID, w.ID, nil), keyhaven.ENOTFOUND)
	if err := s.DeleteWebhook(ctx, f.tenant.ID, w.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.Webhook(ctx, f.tenant.ID, w.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	if err := s.CreateWebhook(ctx, newWebhook(f), 4, nil); err != nil {
		t.Fatalf("a deleted webhook still counts: %v", err)
	}
}

// testWebhookLimitRace: creations at once stop exactly at the limit.
func testWebhookLimitRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	ok := race(t, 12, keyhaven.ECONFLICT, func(int) error { return s.CreateWebhook(ctx, newWebhook(f), 5, nil) })
	if ok != 5 {
		t.Fatalf("%d webhooks created at once, want 5", ok)
	}
}

// testOutboxWithTheChange: a change's notice is queued in its transaction for each enabled
// webhook subscribed to its type; a change that fails, or whose record cannot be written,
// queues nothing.
func testOutboxWithTheChange(t *testing.T, s keyhaven.Store) {
	f, other := newTenant(t, s), newTenant(t, s)
	created := mustCreateWebhook(t, s, f, keyhaven.EventApplicationCreated)
	both := mustCreateWebhook(t, s, f, keyhaven.EventApplicationCreated, keyhaven.EventApplicationRevoked)
	disabled := newWebhook(f, keyhaven.EventApplicationCreated)
	disabled.Enabled = false
	if err := s.CreateWebhook(ctx, disabled, keyhaven.MaxWebhooks, nil); err != nil {
		t.Fatal(err)
	}
	elsewhere := mustCreateWebhook(t, s, other, keyhaven.EventApplicationCreated)

	// A refused change and a change whose record cannot be written announce nothing.
	app := newApp(f, "announced", f.admin.ID)
	e := notice(f, keyhaven.EventApplicationRevoked, map[string]any{"id": app.ID})
	if err := s.CreateApplication(ctx, app, notice(f, keyhaven.EventApplicationCreated, map[string]any{"id": app.ID})); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateApplication(ctx, f.tenant.ID, app.ID, func(*keyhaven.Application) error { return errFinal }, e)
	if !errors.Is(err, errFinal) {
		t.Fatalf("refused change: %v", err)
	}
	dup := notice(f, keyhaven.EventApplicationCreated, "never")
	taken := event(f, "taken")
	if err := s.AppendAudit(ctx, taken); err != nil {
		t.Fatal(err)
	}
	dup.ID = taken.ID // appending it fails
	if err := s.CreateApplication(ctx, newApp(f, "unrecorded", f.admin.ID), dup); err == nil {
		t.Fatal("a change with a duplicate record id was stored")
	}

	got := claimAll(t, s, "a", base)
	if len(got[created.ID]) != 1 || len(got[both.ID]) != 1 || len(got[disabled.ID]) != 0 || len(got[elsewhere.ID]) != 0 {
		t.Fatalf("queued: %d for the subscriber, %d for the other subscriber, %d for the disabled one, %d for another tenant's; want 1, 1, 0, 0",
			len(got[created.ID]), len(got[both.ID]), len(got[disabled.ID]), len(got[elsewhere.ID]))
	}
	d, d2 := got[created.ID][0], got[both.ID][0]
	if d.Type != keyhaven.EventApplicationCreated || d.MessageID != d2.MessageID || string(d.Payload) != string(d2.Payload) ||
		d.Attempt != 1 || d.URL != created.URL || d.Secret != created.Secret || d.TenantID != f.tenant.ID {
		t.Fatalf("deliveries %+v and %+v: want one message of application.created, attempt 1", d, d2)
	}
	if data := payloadData(t, d); data["id"] != app.ID {
		t.Fatalf("payload data %v, want the application", data)
	}
	if n, err := s.CountPendingWebhookDeliveries(ctx); err != nil || n != 2 {
		t.Fatalf("CountPendingWebhookDeliveries = %d, %v; want 2", n, err)
	}

	// A notice for one webhook goes to it alone, subscribed or not.
	one := notice(f, keyhaven.EventWebhookTest, map[string]any{"id": disabled.ID})
	one.Notices[0].Webhook = created.ID
	if err := s.AppendAudit(ctx, one); err != nil {
		t.Fatal(err)
	}
	finish(t, s, d, "a", keyhaven.DeliveryDelivered, time.Time{})
	finish(t, s, d2, "a", keyhaven.DeliveryDelivered, time.Time{})
	got = claimAll(t, s, "a", base)
	if len(got) != 1 || len(got[created.ID]) != 1 || got[created.ID][0].Type != keyhaven.EventWebhookTest {
		t.Fatalf("a notice for one webhook was queued for %v", got)
	}
}

// testWebhookQueue: a webhook's messages go one at a time, in order; a failed attempt is
// tried again, same message, once it is due; a lease keeps other owners off until it runs
// out, and its lost holder records nothing.
func testWebhookQueue(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	w := mustCreateWebhook(t, s, f, keyhaven.EventAccessCreated)
	w2 := mustCreateWebhook(t, s, f, keyhaven.EventAccessCreated)
	for i := range 3 {
		if err := s.AppendAudit(ctx, notice(f, keyhaven.EventAccessCreated, map[string]any{"n": i})); err != nil {
			t.Fatal(err)
		}
	}
	got := claimAll(t, s, "a", base)
	if len(got[w.ID]) != 1 || len(got[w2.ID]) != 1 {
		t.Fatalf("claimed %d and %d messages of two webhooks' queues of 3, want the first of each", len(got[w.ID]), len(got[w2.ID]))
	}
	first := got[w.ID][0]
	if payloadData(t, first)["n"] != 0.0 {
		t.Fatalf("first claimed %s, want message 0", first.Payload)
	}
	if again := claimAll(t, s, "b", base); len(again) != 0 {
		t.Fatalf("a held message's webhooks gave another owner %v", again)
	}
	// Fails; it is due again a minute later.
	retry := base.Add(time.Minute)
	finish(t, s, first, "a", keyhaven.DeliveryFailed, retry)
	if early := claimAll(t, s, "b", base.Add(30*time.Second)); len(early[w.ID]) != 0 {
		t.Fatalf("a message due again later was claimed early, or its successor was: %s", early[w.ID][0].Payload)
	}
	got = claimAll(t, s, "b", retry)
	if len(got[w.ID]) != 1 || got[w.ID][0].MessageID != first.MessageID || got[w.ID][0].Attempt != 2 {
		t.Fatalf("retry: %+v, want message %s, attempt 2", got[w.ID], first.MessageID)
	}
	// b's lease runs out at retry+1m; c takes over, and b's late result is refused.
	held := got[w.ID][0]
	got = claimAll(t, s, "c", retry.Add(2*time.Minute))
	if len(got[w.ID]) != 1 || got[w.ID][0].MessageID != first.MessageID {
		t.Fatalf("a lease that ran out was not taken over: %+v", got[w.ID])
	}
	a := &keyhaven.WebhookAttempt{ID: keyhaven.NewID("dlv"), TenantID: f.tenant.ID, WebhookID: w.ID, MessageID: held.MessageID,
		Type: held.Type, Attempt: 2, At: base, Status: 200, Outcome: keyhaven.DeliveryDelivered}
	err := s.FinishWebhookAttempt(ctx, held.ID, "b", a, time.Time{})
	if keyhaven.ErrorReason(err) != "lease_lost" {
		t.Fatalf("a lost lease's attempt: %v, want lease_lost", err)
	}
	finish(t, s, got[w.ID][0], "c", keyhaven.DeliveryExhausted, time.Time{})
	// Given up, it leaves the queue: the next message goes.
	got = claimAll(t, s, "c", retry.Add(2*time.Minute))
	if len(got[w.ID]) != 1 || payloadData(t, got[w.ID][0])["n"] != 1.0 {
		t.Fatalf("after giving up: %+v, want message 1", got[w.ID])
	}
	attempts, err := s.ListWebhookAttempts(ctx, f.tenant.ID, w.ID, keyhaven.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, a := range attempts {
		outcomes = append(outcomes, fmt.Sprintf("%d:%s", a.Attempt, a.Outcome))
	}
	if want := []string{"2:exhausted", "1:failed"}; !slices.Equal(outcomes, want) {
		t.Fatalf("attempts newest first: %v, want %v", outcomes, want)
	}
	if l, _ := s.ListWebhookAttempts(ctx, f.tenant.ID, w.ID, keyhaven.Page{Limit: 1, After: attempts[0].ID}); len(l) != 1 || l[0].ID != attempts[1].ID {
		t.Fatalf("second page of attempts: %+v", l)
	}
	// Resending a message queues it again, at the end, with its id.
	if err := s.ResendWebhookMessage(ctx, f.tenant.ID, w.ID, attempts[1].ID, base, event(f, "webhook.resend")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.ResendWebhookMessage(ctx, f.tenant.ID, w2.ID, attempts[1].ID, base, nil), keyhaven.ENOTFOUND)
	finish(t, s, got[w.ID][0], "c", keyhaven.DeliveryDelivered, time.Time{})
	var order []string
	for {
		got = claimAll(t, s, "c", retry.Add(2*time.Minute))
		if len(got[w.ID]) == 0 {
			break
		}
		order = append(order, got[w.ID][0].MessageID)
		finish(t, s, got[w.ID][0], "c", keyhaven.DeliveryDelivered, time.Time{})
	}
	if len(order) != 2 || order[1] != first.MessageID {
		t.Fatalf("after the resend the queue held %v, want message 2 then %s again", order, first.MessageID)
	}
	// A disabled webhook's queue waits; a deleted one's is gone.
	if err := s.AppendAudit(ctx, notice(f, keyhaven.EventAccessCreated, "late")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateWebhook(ctx, f.tenant.ID, w.ID, func(w *keyhaven.Webhook) error { w.Enabled = false; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if got := claimAll(t, s, "c", retry.Add(10*time.Minute)); len(got[w.ID]) != 0 || len(got[w2.ID]) != 1 {
		t.Fatalf("with w disabled: %d of its messages claimed, %d of w2's; want 0, 1", len(got[w.ID]), len(got[w2.ID]))
	}
	if err := s.DeleteWebhook(ctx, f.tenant.ID, w.ID, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ListWebhookAttempts(ctx, f.tenant.ID, w.ID, keyhaven.Page{}); len(l) != 0 {
		t.Fatalf("a deleted webhook keeps %d attempts", len(l))
	}
	if n, _ := s.CountPendingWebhookDeliveries(ctx); n != 4 {
		t.Fatalf("%d pending after deleting a webhook, want w2's 4", n)
	}
	// History goes after its time; a message still queued stays.
	if n, err := s.DeleteWebhookHistory(ctx, base.Add(time.Second)); err != nil || n != 0 {
		t.Fatalf("DeleteWebhookHistory = %d, %v; want 0 (w's attempts went with it)", n, err)
	}
	if n, _ := s.CountPendingWebhookDeliveries(ctx); n != 4 {
		t.Fatalf("%d pending after deleting history, want 4", n)
	}
	if err := s.ReleaseWebhookLeases(ctx); err != nil {
		t.Fatal(err)
	}
	if got := claimAll(t, s, "d", base); len(got[w2.ID]) != 1 {
		t.Fatalf("after releasing the leases: %v", got)
	}
}

// testWebhookClaimRace: owners claiming at once never share a message.
func testWebhookClaimRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	for range 10 {
		mustCreateWebhook(t, s, f, keyhaven.EventAccessCreated)
	}
	if err := s.AppendAudit(ctx, notice(f, keyhaven.EventAccessCreated, "raced")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]string{}
	race(t, 4, "", func(i int) error {
		owner := fmt.Sprint("owner-", i)
		ds, err := s.ClaimWebhookDeliveries(ctx, owner, base, base.Add(time.Minute), 100)
		mu.Lock()
		defer mu.Unlock()
		for _, d := range ds {
			if prev, ok := seen[d.ID]; ok {
				t.Errorf("%s claimed by %s and %s", d.ID, prev, owner)
			}
			seen[d.ID] = owner
		}
		return err
	})
	if len(seen) != 10 {
		t.Fatalf("%d of 10 messages claimed", len(seen))
	}
}

// testNoteUsageExceeded: running out of credits is announced once, however many note it at
// once, and again once the credits are set anew or refilled.
func testNoteUsageExceeded(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	w := mustCreateWebhook(t, s, f, keyhaven.EventUsageExceeded)
	c, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "metered", keyhaven.NewPermissionSet(keyhaven.READ))
	c.Credits = &keyhaven.Credits{Remaining: 0, Refill: &keyhaven.Refill{Amount: 5, Interval: keyhaven.RefillDaily},
		RefilledAt: keyhaven.RefillDaily.PeriodStart(base)}
	if err := s.CreateCredential(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	noteAt := func(at time.Time) func(int) error {
		return func(int) error {
			noted, err := s.NoteUsageExceeded(ctx, c.ID, at, keyhaven.RefillPeriodsAt(at), func(held *keyhaven.Credential) *keyhaven.AuditEvent {
				if held.ID != c.ID || held.Credits == nil || !held.Credits.ExceededAt.Equal(at) {
					t.Errorf("event given %+v, want the key marked at %v", held, at)
				}
				return notice(f, keyhaven.EventUsageExceeded, map[string]any{"id": held.ID})
			})
			if err == nil && !noted {
				err = keyhaven.Errorf(keyhaven.ECONFLICT, "not noted")
			}
			return err
		}
	}
	queued := func() int {
		t.Helper()
		n := 0
		for {
			got := claimAll(t, s, "a", base.Add(72*time.Hour))
			if len(got[w.ID]) == 0 {
				return n
			}
			n++
			finish(t, s, got[w.ID][0], "a", keyhaven.DeliveryDelivered, time.Time{})
		}
	}
	if ok := race(t, 8, keyhaven.ECONFLICT, noteAt(base)); ok != 1 || queued() != 1 {
		t.Fatalf("noted %d times at once, want 1", ok)
	}
	if ok := race(t, 1, keyhaven.ECONFLICT, noteAt(base.Add(time.Hour))); ok != 0 {
		t.Fatal("noted again the same day")
	}
	// The next day's refill makes it news again.
	if ok := race(t, 4, keyhaven.ECONFLICT, noteAt(base.Add(24*time.Hour))); ok != 1 || queued() != 1 {
		t.Fatalf("after a refill: noted %d times, want 1", ok)
	}
	// Credits set anew make it news again.
	k, err := s.APIKeyByName(ctx, f.tenant.ID, "metered", base)
	if err != nil || k.Credits == nil || k.Credits.ExceededAt.IsZero() {
		t.Fatalf("the key as read: %+v, %v; want credits marked exceeded", k, err)
	}
	if _, err := s.UpdateAPIKey(ctx, f.tenant.ID, "metered", base, func(c *keyhaven.Credential) error {
		c.Credits = &keyhaven.Credits{Remaining: 1}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if ok := race(t, 4, keyhaven.ECONFLICT, noteAt(base.Add(25*time.Hour))); ok != 1 || queued() != 1 {
		t.Fatalf("after new credits: noted %d times, want 1", ok)
	}
	if ok := race(t, 1, keyhaven.ECONFLICT, noteAt(base.Add(26*time.Hour))); ok != 0 {
		t.Fatal("credits without refill noted twice")
	}
}

// testNoteExpiring: each key reaches each expiry notice stage once, however many sweep at once,
// revoked keys and keys past their expiry never.
func testNoteExpiring(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	key := func(name string, expires time.Time, stage int) *keyhaven.Credential {
		c, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, name, keyhaven.NewPermissionSet(keyhaven.READ))
		c.ExpiresAt, c.ExpiryNotice = expires, stage
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		return c
	}
	app := mustCreateApp(t, s, f, "expiring", f.admin.ID)
	ak, _ := newAccessKey(app, f.admin.ID, "expiring", base.Add(5*24*time.Hour))
	if err := s.CreateAccessKey(ctx, ak, base, nil); err != nil {
		t.Fatal(err)
	}
	revoked, _ := newAccessKey(app, f.admin.ID, "revoked", base.Add(5*24*time.Hour))
	if err := s.CreateAccessKey(ctx, revoked, base, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAccessKey(ctx, f.tenant.ID, app.ID, revoked.ID, func(c *keyhaven.Credential) error { c.RevokedAt = base; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	soon := key("soon", base.Add(6*24*time.Hour), 0)
	key("later", base.Add(30*24*time.Hour), 0)
	key("told", base.Add(3*24*time.Hour), 1)
	key("past", base.Add(-time.Hour), 0)
	sweep := func(stage int, now time.Time, within time.Duration) map[string]bool {
		var mu sync.Mutex
		seen := map[string]bool{}
		total := 0
		race(t, 4, "", func(int) error {
			n, err := s.NoteExpiring(ctx, stage, now, now.Add(within), func(c *keyhaven.Credential) *keyhaven.AuditEvent {
				mu.Lock()
				defer mu.Unlock()
				if seen[c.Name] {
					t.Errorf("%s noted twice at stage %d", c.Name, stage)
				}
				if c.ExpiryNotice != stage {
					t.Errorf("%s given at stage %d, want %d", c.Name, c.ExpiryNotice, stage)
				}
				seen[c.Name] = true
				return event(f, "expiring")
			})
			mu.Lock()
			total += n
			mu.Unlock()
			return err
		})
		if total != len(seen) {
			t.Errorf("NoteExpiring counted %d, noted %d", total, len(seen))
		}
		return seen
	}
	week := 7 * 24 * time.Hour
	if got := sweep(1, base, week); len(got) != 2 || !got["soon"] || !got["expiring"] {
		t.Fatalf("7-day sweep noted %v, want soon and expiring", got)
	}
	if got := sweep(1, base, week); len(got) != 0 {
		t.Fatalf("a second 7-day sweep noted %v", got)
	}
	if got := sweep(2, base.Add(5*24*time.Hour+time.Hour), 24*time.Hour); len(got) != 1 || !got["soon"] {
		t.Fatalf("1-day sweep noted %v, want soon", got)
	}
	if k, _ := s.APIKeyByName(ctx, f.tenant.ID, "soon", base); k.ExpiryNotice != 2 || k.ID != soon.ID {
		t.Fatalf("soon's stage %d, want 2", k.ExpiryNotice)
	}
}

// testOutboxRace: changes announcing events to several webhooks at once, in different
// orders, all commit, and each webhook's queue holds each of its messages once.
func testOutboxRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	w1 := mustCreateWebhook(t, s, f, keyhaven.EventAccessCreated)
	w2 := mustCreateWebhook(t, s, f, keyhaven.EventAccessCreated, keyhaven.EventAccessUpdated)
	const n = 24
	if ok := race(t, n, "", func(i int) error {
		e := notice(f, keyhaven.EventAccessCreated, i)
		if i%2 == 0 {
			// To w2 first, then to both.
			e.Notices = append([]keyhaven.Notice{{Type: keyhaven.EventAccessUpdated, Data: func() any { return i }}}, e.Notices...)
		}
		return s.AppendAudit(ctx, e)
	}); ok != n {
		t.Fatalf("%d of %d changes committed", ok, n)
	}
	if got, err := s.CountPendingWebhookDeliveries(ctx); err != nil || got != n+n+n/2 {
		t.Fatalf("%d pending, %v; want %d", got, err, n+n+n/2)
	}
	seen := map[string]map[string]bool{w1.ID: {}, w2.ID: {}}
	for {
		got := claimAll(t, s, "a", base)
		if len(got) == 0 {
			break
		}
		for id, ds := range got {
			d := ds[0]
			if seen[id][d.MessageID] {
				t.Fatalf("%s queued twice", d.MessageID)
			}
			seen[id][d.MessageID] = true
			finish(t, s, d, "a", keyhaven.DeliveryDelivered, time.Time{})
		}
	}
	if len(seen[w1.ID]) != n || len(seen[w2.ID]) != n+n/2 {
		t.Fatalf("webhooks delivered %d and %d messages, want %d and %d", len(seen[w1.ID]), len(seen[w2.ID]), n, n+n/2)
	}
}
