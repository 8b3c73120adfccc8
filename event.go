package keyhaven

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// EventType names an event that webhooks announce.
type EventType string

// Event types. Every change to a key, an application, a user, an access or a batch task that
// the contract names is announced by the change itself: the store writes the event to the
// outbox in the change's transaction, with the change's audit record. Accesses created by a
// batch are announced together, by access_batch.completed, not one access.created each.
const (
	EventAPIKeyCreated        EventType = "api_key.created"
	EventAPIKeyUpdated        EventType = "api_key.updated"
	EventAPIKeyRotated        EventType = "api_key.rotated"
	EventAPIKeyDeleted        EventType = "api_key.deleted"
	EventAPIKeyExpiring       EventType = "api_key.expiring"
	EventAccessKeyCreated     EventType = "access_key.created"
	EventAccessKeyUpdated     EventType = "access_key.updated"
	EventAccessKeyRotated     EventType = "access_key.rotated"
	EventAccessKeyRevoked     EventType = "access_key.revoked"
	EventAccessKeyExpiring    EventType = "access_key.expiring"
	EventApplicationCreated   EventType = "application.created"
	EventApplicationRevoked   EventType = "application.revoked"
	EventUserDeleted          EventType = "user.deleted"
	EventAccessCreated        EventType = "access.created"
	EventAccessUpdated        EventType = "access.updated"
	EventAccessBatchCompleted EventType = "access_batch.completed"
	EventUsageExceeded        EventType = "credential.usage_exceeded"
	// EventWebhookTest goes only to the webhook tested; no webhook subscribes to it.
	EventWebhookTest EventType = "webhook.test"
)

// EventTypes lists every event type, in the contract's order.
var EventTypes = []EventType{
	EventAPIKeyCreated, EventAPIKeyUpdated, EventAPIKeyRotated, EventAPIKeyDeleted, EventAPIKeyExpiring,
	EventAccessKeyCreated, EventAccessKeyUpdated, EventAccessKeyRotated, EventAccessKeyRevoked, EventAccessKeyExpiring,
	EventApplicationCreated, EventApplicationRevoked, EventUserDeleted, EventAccessCreated, EventAccessUpdated,
	EventAccessBatchCompleted, EventUsageExceeded, EventWebhookTest,
}

// SubscribableEvents lists the event types a webhook may subscribe to: all but webhook.test.
var SubscribableEvents = EventTypes[:len(EventTypes)-1]

// subscribable reports whether a webhook may subscribe to t.
func (t EventType) subscribable() bool { return slices.Contains(SubscribableEvents, t) }

// Notice is an event a change announces. The store writes it to the outbox in the change's
// own transaction, after the change, when the change succeeds: one message, queued for each
// enabled webhook of the tenant subscribed to its type (or for Webhook alone, when set).
type Notice struct {
	// ID, when set, is the message's id (its webhook-id); the store makes one otherwise.
	ID   string
	Type EventType
	// Data returns the object the event is about, as its GET shows it and as the change left
	// it. The store calls it once, in the change's transaction, after the change is written.
	Data func() any
	// Webhook, when set, is the only webhook (by id) the notice goes to, subscribed or not.
	Webhook string
}

// Payload returns the notice's message as a webhook receives it:
// {"type","timestamp","data"}, timestamp being when the change happened.
func (n *Notice) Payload(at time.Time) ([]byte, error) {
	b, err := json.Marshal(struct {
		Type      EventType `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      any       `json:"data"`
	}{n.Type, at.UTC(), n.Data()})
	if err != nil {
		return nil, Internal(err)
	}
	return b, nil
}

// announce adds a notice of type t to e, the audit event of a change: it is written with the
// change if the change happens.
func (e *AuditEvent) announce(t EventType, data func() any) {
	e.Notices = append(e.Notices, Notice{Type: t, Data: data})
}

// Expiry notices: a key is announced *.expiring once when it has ExpiringSoon left, and once
// when it has ExpiringNow left. A key that has less than ExpiringSoon but more than
// ExpiringNow left when it is created (or given a new expiry) gets the first notice at once;
// one with ExpiringNow or less gets only the second, at once.
const (
	ExpiringSoon = 7 * 24 * time.Hour
	ExpiringNow  = 24 * time.Hour
)

// Expiry notice stages: which notices a key has had.
const (
	expiryNoticeNone = 0
	expiryNoticeSoon = 1 // the 7-day notice
	expiryNoticeNow  = 2 // the 1-day notice
)

// expiryStage returns the expiry notice stage a key expiring at expires has reached at now.
func expiryStage(expires, now time.Time) int {
	switch {
	case expires.IsZero() || !now.Before(expires):
		return expiryNoticeNone
	case expires.Sub(now) <= ExpiringNow:
		return expiryNoticeNow
	case expires.Sub(now) <= ExpiringSoon:
		return expiryNoticeSoon
	}
	return expiryNoticeNone
}

// expiringEvent returns the expiring event type of a key's kind.
func expiringEvent(c *Credential) EventType {
	if c.Kind == KindAccessKey {
		return EventAccessKeyExpiring
	}
	return EventAPIKeyExpiring
}

// viewKey returns a key as its GET shows it at now, an API key or an access key.
func viewKey(c *Credential, now time.Time) any {
	if c.Kind == KindAccessKey {
		return ViewAccessKey(c, now)
	}
	return ViewAPIKey(c, now)
}

// setExpiry gives c the expiry notice stage of its expiry at now and, when it has one, announces
// it with e at once: a key created, or given an expiry, with less than ExpiringSoon left.
func setExpiry(e *AuditEvent, c *Credential, now time.Time) {
	c.ExpiryNotice = expiryStage(c.ExpiresAt, now)
	if c.ExpiryNotice != expiryNoticeNone {
		e.announce(expiringEvent(c), func() any { return viewKey(c, now) })
	}
}

// NoteExpiringKeys announces every API key and access key that has reached an expiry notice
// stage it was not announced at yet: with ExpiringNow left (first, so that a key that has
// less gets only that notice), then with ExpiringSoon left. Each key is marked and announced
// in one transaction, with a conditional write, so that of several nodes sweeping at once
// exactly one announces it. It returns how many notices it wrote. Garbage collection runs it.
func (s *Service) NoteExpiringKeys(ctx context.Context) (int, error) {
	now := s.now()
	total := 0
	for _, st := range []struct {
		stage  int
		within time.Duration
	}{{expiryNoticeNow, ExpiringNow}, {expiryNoticeSoon, ExpiringSoon}} {
		n, err := s.store.NoteExpiring(ctx, st.stage, now, now.Add(st.within), func(c *Credential) *AuditEvent {
			e := s.event(ctx, c.TenantID, nil, string(c.Kind)+".expiring", string(c.Kind), c.ID,
				map[string]any{"expiresAt": c.ExpiresAt, "daysLeft": int(st.within / (24 * time.Hour))})
			e.announce(expiringEvent(c), func() any { return viewKey(c, now) })
			return e
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// exceededNoticeDue reports whether running out of credits at now is news: the credits have
// not been announced as exceeded since they were last set or refilled.
func (c *Credits) exceededNoticeDue(now time.Time) bool {
	if c.ExceededAt.IsZero() {
		return true
	}
	return c.Refill != nil && c.ExceededAt.Before(c.Refill.Interval.PeriodStart(now))
}

// noteUsageExceeded announces credential.usage_exceeded for c, whose verification was refused
// for want of credits at now, if it is the first refusal since its credits were last set or
// refilled: the store marks the credits in the transaction that writes the notice, with a
// conditional write, so that it is announced once across nodes. A failure is logged: the
// verdict stands.
func (s *Service) noteUsageExceeded(ctx context.Context, c *Credential, now time.Time) {
	ctx = context.WithoutCancel(ctx)
	noted, err := s.store.NoteUsageExceeded(ctx, c.ID, now, RefillPeriodsAt(now), func(held *Credential) *AuditEvent {
		e := s.event(ctx, held.TenantID, nil, "credential.usage_exceeded", string(held.Kind), held.ID, nil)
		e.announce(EventUsageExceeded, func() any { return viewKey(held, now) })
		return e
	})
	if err != nil {
		s.Log.ErrorContext(ctx, "note usage exceeded", "credential", c.ID, "err", err)
		return
	}
	if noted {
		// Caches drop the credits they hold, which say the notice is still due.
		s.invalidate(ctx, c.ID)
	}
}
