package keyhaven

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"keyhaven.dev/keyhaven/view"
)

// Webhook is an endpoint of a tenant that is sent the events it subscribes to, signed per the
// Standard Webhooks specification with its secret.
type Webhook struct {
	ID          string
	TenantID    string
	URL         string
	Events      []EventType
	Description string
	Enabled     bool
	// Secret is the signing secret, sealed with the node's key and bound to the webhook's id:
	// the sender must sign with it, so it is kept, not hashed.
	Secret    string
	CreatedBy string // user id
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Subscribes reports whether w is sent events of type t.
func (w *Webhook) Subscribes(t EventType) bool { return slices.Contains(w.Events, t) }

// WebhookInput creates a webhook.
type WebhookInput struct {
	URL         string
	Events      []string
	Description string
	Enabled     *bool // default true
}

// WebhookUpdate changes a webhook; nil fields stay as they are.
type WebhookUpdate struct {
	URL         *string
	Events      *[]string
	Description *string
	Enabled     *bool
}

// Webhook limits.
const (
	// MaxWebhooks is how many webhooks a tenant may have.
	MaxWebhooks = 20
	// MaxWebhookURL is the longest URL a webhook may have, in bytes.
	MaxWebhookURL = 2048
	// WebhookSecretBytes is how many random bytes a signing secret holds.
	WebhookSecretBytes = 32
	// WebhookSecretPrefix starts every signing secret (Standard Webhooks).
	WebhookSecretPrefix = "whsec_"
	// WebhookTimeout is how long a receiver has to answer an attempt.
	WebhookTimeout = 10 * time.Second
	// WebhookHistory is how long delivery attempts are kept for the deliveries listing.
	WebhookHistory = 30 * 24 * time.Hour
)

// DefaultRetrySchedule is how long a failed delivery waits before each retry: eight attempts
// over about 27 hours, exponential at first, then spread out.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Destinations restricts where webhooks may send (the operator's --webhook-allow): to host
// names listed, and to addresses within the listed ranges. A listed name is trusted whatever
// it resolves to; any other destination must resolve, when the webhook is created or changed
// and again on every connection the sender makes, only to addresses within the ranges, so
// that a name cannot rebind to an address the operator did not allow.
type Destinations struct {
	Prefixes []netip.Prefix
	// Hosts are lower-case names; one starting with "*." also matches every name under it.
	Hosts []string
}

// ParseDestinations reads a comma-separated list of CIDR ranges, addresses and host names
// ("*.example.com" matches the names under example.com). It returns nil for an empty list:
// webhooks may then send anywhere.
func ParseDestinations(list string) (*Destinations, error) {
	d := &Destinations{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case strings.Contains(f, "/"):
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR range", f)
			}
			d.Prefixes = append(d.Prefixes, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked())
		default:
			if a, err := netip.ParseAddr(f); err == nil {
				a = a.Unmap()
				d.Prefixes = append(d.Prefixes, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			name := strings.ToLower(strings.TrimSuffix(f, "."))
			if !validHostPattern(name) {
				return nil, fmt.Errorf("%q is not a CIDR range, an address or a host name", f)
			}
			d.Hosts = append(d.Hosts, name)
		}
	}
	if len(d.Prefixes) == 0 && len(d.Hosts) == 0 {
		return nil, nil
	}
	return d, nil
}

func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

func validHostPattern(name string) bool {
	name = strings.TrimPrefix(name, "*.")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// AllowsHost reports whether host is a listed name.
func (d *Destinations) AllowsHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range d.Hosts {
		if h == host || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) {
			return true
		}
	}
	return false
}

// AllowsAddr reports whether a is within a listed range.
func (d *Destinations) AllowsAddr(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range d.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolver finds the addresses of a host name.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// lookupTimeout bounds resolving a webhook's host when it is created or changed.
const lookupTimeout = 5 * time.Second

// checkWebhookURL validates a webhook's URL: http or https, a host, no user information, no
// fragment, at most MaxWebhookURL bytes and, when the operator restricts destinations, one
// they allow (see Destinations).
func (s *Service) checkWebhookURL(ctx context.Context, raw string) error {
	invalid := func(reason, msg string) error {
		return &Error{Code: EINVALID, Reason: reason, Message: "url: " + msg, Fields: []FieldError{{Field: "url", Message: msg}}}
	}
	if raw == "" {
		return invalid("invalid_input", "is required")
	}
	if len(raw) > MaxWebhookURL {
		return invalid("invalid_input", fmt.Sprintf("must be at most %d bytes", MaxWebhookURL))
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return invalid("invalid_input", "must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return invalid("invalid_input", "must be an absolute http or https URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("invalid_input", "must be an http or https URL")
	case u.User != nil:
		return invalid("invalid_input", "must not hold a user name or password")
	case u.Hostname() == "":
		return invalid("invalid_input", "must name a host")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("invalid_input", "must not have a fragment")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return invalid("invalid_input", "must have a port between 1 and 65535")
		}
	}
	d := s.WebhookDestinations
	if d == nil {
		return nil
	}
	host := u.Hostname()
	refused := invalid("destination_not_allowed", "is not a destination this server may send webhooks to")
	if a, err := netip.ParseAddr(host); err == nil {
		if !d.AllowsAddr(a) {
			return refused
		}
		return nil
	}
	if d.AllowsHost(host) {
		return nil
	}
	if len(d.Prefixes) == 0 {
		return refused
	}
	resolver := s.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := resolver.LookupNetIP(lctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return invalid("destination_not_allowed", "names a host that cannot be resolved")
	}
	for _, a := range addrs {
		if !d.AllowsAddr(a) {
			return refused
		}
	}
	return nil
}

// redacted stands in for what a URL carries for its receiver, in records and logs.
const redacted = "xxxxx"

// redactURL returns a webhook URL as audit records may show it: where it sends, with its user
// information, its query's values and its fragment, which may carry credentials of the
// receiver's, each replaced by redacted. What cannot be parsed as a URL is not shown.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return redacted
	case u.Opaque != "":
		u.Opaque = redacted
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			if name, _, ok := strings.Cut(p, "="); ok {
				params[i] = name + "=" + redacted
			} else {
				params[i] = redacted // a bare value, maybe a token itself
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = redacted, ""
	}
	return auditText(u.String())
}

// parseEvents validates the event types a webhook subscribes to: at least one, each
// subscribable, each once.
func parseEvents(field string, names []string) ([]EventType, error) {
	if len(names) == 0 {
		return nil, Invalid(FieldError{Field: field, Message: "must name at least one event type"})
	}
	var out []EventType
	for i, n := range names {
		t := EventType(n)
		if !t.subscribable() {
			msg := "unknown event type " + quoteShort(n)
			if t == EventWebhookTest {
				msg = "webhook.test is sent only by testing a webhook: it cannot be subscribed to"
			}
			return nil, Invalid(FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Message: msg})
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// NewWebhookSecret returns a new signing secret: WebhookSecretPrefix and the base64 of
// WebhookSecretBytes random bytes.
func NewWebhookSecret() string {
	b := make([]byte, WebhookSecretBytes)
	rand.Read(b)
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// webhookKey returns the key a secret signs with: its bytes, decoded.
func webhookKey(secret string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, WebhookSecretPrefix))
}

// ViewWebhook returns a webhook as its GET shows it: never its secret.
func ViewWebhook(w *Webhook) view.Webhook {
	events := make([]string, len(w.Events))
	for i, t := range w.Events {
		events[i] = string(t)
	}
	return view.Webhook{ID: w.ID, URL: w.URL, Events: events, Description: w.Description, Enabled: w.Enabled,
		CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

var errNoWebhook = Errorf(ENOTFOUND, "webhook not found")

// CreateWebhook creates a webhook of p's tenant and returns it with its signing secret, the
// only time the secret is shown. It needs WEBHOOK_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds WEBHOOK_MANAGEMENT; EINVALID if the
// URL, events or description are invalid, EINVALID (destination_not_allowed) if the URL is
// not a destination the operator allows; ECONFLICT (limit_reached) if the tenant has
// MaxWebhooks webhooks.
func (s *Service) CreateWebhook(ctx context.Context, p *Principal, in WebhookInput) (w *Webhook, secret string, err error) {
	e := s.event(ctx, p.TenantID, p, "webhook.create", "webhook", "", map[string]any{"url": redactURL(in.URL), "events": in.Events})
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(WEBHOOK_MANAGEMENT); err != nil {
		return nil, "", err
	}
	events, err := parseEvents("events", in.Events)
	if err != nil {
		return nil, "", err
	}
	if err := validateDescription("description", in.Description); err != nil {
		return nil, "", err
	}
	if err := s.checkWebhookURL(ctx, in.URL); err != nil {
		return nil, "", err
	}
	now := s.now()
	w = &Webhook{ID: NewID("whk"), TenantID: p.TenantID, URL: in.URL, Events: events, Description: in.Description,
		Enabled: in.Enabled == nil || *in.Enabled, CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now}
	secret = NewWebhookSecret()
	w.Secret = s.Sealer.Seal([]byte(secret), SealedFor(SealedWebhookSecret, w.ID))
	e.TargetID = w.ID
	if err := s.store.CreateWebhook(ctx, w, MaxWebhooks, e); err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// Webhook returns a webhook of p's tenant; it needs WEBHOOK_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds WEBHOOK_MANAGEMENT; ENOTFOUND if the
// tenant has no webhook with that id.
func (s *Service) Webhook(ctx context.Context, p *Principal, id string) (*Webhook, error) {
	if err := p.Require(WEBHOOK_MANAGEMENT); err != nil {
		return nil, err
	}
	if !ValidID("whk", id) {
		return nil, errNoWebhook
	}
	return s.store.Webhook(ctx, p.TenantID, id)
}

// ListWebhooks lists the webhooks of p's tenant, ordered by id; it needs WEBHOOK_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds WEBHOOK_MANAGEMENT.
func (s *Service) ListWebhooks(ctx context.Context, p *Principal, page Page) ([]*Webhook, error) {
	if err := p.Require(WEBHOOK_MANAGEMENT); err != nil {
		return nil, err
	}
	return s.store.ListWebhooks(ctx, p.TenantID, page)
}

// UpdateWebhook changes a webhook's URL, events, description or enabled flag; it needs
// WEBHOOK_MANAGEMENT. A disabled webhook is sent nothing new, and what it has queued waits
// until it is enabled again.
//
// Returns EFORBIDDEN (missing_permission) unless p holds WEBHOOK_MANAGEMENT; EINVALID if
// nothing is given to change or something is invalid (see CreateWebhook); ENOTFOUND if the
// tenant has no webhook with that id.
func (s *Service) UpdateWebhook(ctx context.Context, p *Principal, id string, in WebhookUpdate) (w *Webhook, err error) {
	d := map[string]any{}
	if in.URL != nil {
		d["url"] = redactURL(*in.URL)
	}
	if in.Events != nil {
		d["events"] = *in.Events
	}
	if in.Enabled != nil {
		d["enabled"] = *in.Enabled
	}
	e := s.event(ctx, p.TenantID, p, "webhook.update", "webhook", id, d)
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(WEBHOOK_MANAGEMENT); err != nil {
		return nil, err
	}
	if in.URL == nil && in.Events == nil && in.Description == nil && in.Enabled == nil {
		return nil, Invalid(FieldError{Field: "body", Message: "name at least one of url, events, description, enabled"})
	}
	var events []EventType
	if in.Events != nil {
		if events, err = parseEvents("events", *in.Events); err != nil {
			return nil, err
		}
	}
	if in.Description != nil {
		if err := validateDescription("description", *in.Description); err != nil {
			return nil, err
		}
	}
	if in.URL != nil {
		if err := s.checkWebhookURL(ctx, *in.URL); err != nil {
			return nil, err
		}
	}
	if !ValidID("whk", id) {
		return nil, errNoWebhook
	}
	now := s.now()
	return s.store.UpdateWebhook(ctx, p.TenantID, id, func(w *Webhook) error {
		if in.URL != nil {
			w.URL = *in.URL
		}
		if in.Events != nil {
			w.Events = events
		}
		if in.Description != nil {
			w.Description = *in.Description
		}
		if in.Enabled != nil {
			w.Enabled = *in.Enabled
		}
		w.UpdatedAt = now
		return nil
	}, e)
}

// DeleteWebhook deletes a webhook with everything queued for it and its delivery history;
// it needs WEBHOOK_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds WEBHOOK_MANAGEMENT; ENOTFOUND if the
// tenant has no webhook with that id.
func (s *Service) DeleteWebhook(ctx context.Context, p *Principal, id string) (err error) {
	e := s.event(ctx, p.TenantID, p, "webhook.delete", "webhook", id, nil)
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(WEBHOOK_MANAGEMENT); err != nil {
		return err
	}
	if !ValidID("whk", id) {
		return errNoWebhook
	}
	return s.store.DeleteWebhook(ctx, p.TenantID, id, e)
}

// TestWebhook sends a webhook.test event, describing the webhook, to the webhook alone, at
// the end of its queue; it needs WEBHOOK_MANAGEMENT. It returns the message's id (its
// webhook-id).
//
// Returns EFORBIDDEN (missing_permission) unless p holds WEBHOOK_MANAGEMENT; ENOTFOUND if the
// tenant has no webhook with that id; ECONFLICT (webhook_disabled) if it is disabled.
func (s *Service) TestWebhook(ctx context.Context, p *Principal, id string) (messageID string, err error) {
	e := s.event(ctx, p.TenantID, p, "webhook.test", "webhook", id, nil)
	defer func() { s.failed(ctx, e, err) }()
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
		return "", err
	}
	if !w.Enabled {
		return "", Reasonf(ECONFLICT, "webhook_disabled", "the webhook is disabled: enable it to test it")
	}
	n := Notice{ID: NewID("msg"), Type: EventWebhookTest, Webhook: w.ID, Data: func() any { return ViewWebhook(w) }}
	e.Notices = []Notice{n}
	if err := s.store.AppendAudit(ctx, e); err != nil {
		return "", err
	}
	return n.ID, nil
}

// WebhookAttempt is one attempt to deliver a message to a webhook, as the deliveries listing
// shows it.
type WebhookAttempt struct {
	ID        string
	TenantID  string
	WebhookID string
	MessageID string // the webhook-id header, the same on every attempt of the message
	Type      EventType
	Attempt   int // 1 for the first attempt of a delivery
	At        time.Time
	Status    int    // the response's status, 0 when none came
	Error     string // why no response came, or what the response was
	Outcome   string // DeliveryDelivered, DeliveryFailed or DeliveryExhausted
}

// Delivery outcomes: what an attempt came to.
const (
	DeliveryDelivered = "delivered" // a 2xx answer
	DeliveryFailed    = "failed"    // no 2xx answer; it will be retried
	DeliveryExhausted = "exhausted" // no 2xx answer and no retry left: given up
)

// ViewWebhookAttempt returns an attempt as the deliveries listing shows it.
func ViewWebhookAttempt(a *WebhookAttempt) view.WebhookDelivery {
	out := view.WebhookDelivery{ID: a.ID, EventID: a.MessageID, Type: string(a.Type), Attempt: a.Attempt, At: a.At,
		Error: a.Error, Outcome: a.Outcome}
	if a.Status != 0 {
		out.Status = &a.Status
	}
	return out
}

// ListWebhookDeliveries lists the delivery attempts of a webhook of p's tenant, newest
// first; it needs WEBHOOK_MANAGEMENT. Attempts are kept for WebhookHistory.
//
// Returns EFORBIDDEN (missing_permission) unless p holds WEBHOOK_MANAGEMENT; ENOTFOUND if the
// tenant has no webhook with that id.
func (s *Service) ListWebhookDeliveries(ctx context.Context, p *Principal, id string, page Page) ([]*WebhookAttempt, error) {
	if _, err := s.Webhook(ctx, p, id); err != nil {
		return nil, err
	}
	return s.store.ListWebhookAttempts(ctx, p.TenantID, id, page)
}

// ResendWebhookDelivery sends the message of a delivery attempt again, with its webhook-id
// and body, to the webhook, at the end of its queue; it needs WEBHOOK_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds WEBHOOK_MANAGEMENT; ENOTFOUND if the
// tenant has no such webhook or it no such attempt; ECONFLICT (webhook_disabled) if the
// webhook is disabled.
func (s *Service) ResendWebhookDelivery(ctx context.Context, p *Principal, webhookID, attemptID string) (err error) {
	e := s.event(ctx, p.TenantID, p, "webhook.resend", "webhook", webhookID, map[string]any{"delivery": auditText(attemptID)})
	defer func() { s.failed(ctx, e, err) }()
	w, err := s.Webhook(ctx, p, webhookID)
	if err != nil {
		return err
	}
	if !w.Enabled {
		return Reasonf(ECONFLICT, "webhook_disabled", "the webhook is disabled: enable it to resend")
	}
	if !ValidID("dlv", attemptID) {
		return Errorf(ENOTFOUND, "delivery not found")
	}
	return s.store.ResendWebhookMessage(ctx, p.TenantID, webhookID, attemptID, s.now(), e)
}

// WebhookDelivery is a message claimed for delivery to a webhook: what the sender needs to
// send one attempt.
type WebhookDelivery struct {
	ID        string // the queue entry's
	TenantID  string
	WebhookID string
	URL       string
	MessageID string // the webhook-id header
	Type      EventType
	Payload   []byte
	Attempt   int // this attempt's number, from 1
	// Secret is the webhook's sealed secret as stored; Key, once the service opened it, is
	// the key the sender signs with.
	Secret string
	Key    []byte
}

// ClaimWebhookDeliveries gives owner, until lease from now, up to n messages due for
// delivery, each the oldest one queued for its webhook (an endpoint's next message waits
// until the one before is delivered or given up), with their webhooks' signing keys.
// Returns an empty list when none is due. A message whose webhook's secret cannot be opened
// is logged and left claimed until its lease runs out, to be tried again: the others claimed
// with it go meanwhile.
func (s *Service) ClaimWebhookDeliveries(ctx context.Context, owner string, lease time.Duration, n int) ([]*WebhookDelivery, error) {
	now := s.now()
	ds, err := s.store.ClaimWebhookDeliveries(ctx, owner, now, now.Add(lease), n)
	if err != nil {
		return nil, err
	}
	out := ds[:0]
	for _, d := range ds {
		plain, err := s.Sealer.Open(d.Secret, SealedFor(SealedWebhookSecret, d.WebhookID))
		if err == nil {
			d.Key, err = webhookKey(string(plain))
		}
		if err != nil {
			s.Log.ErrorContext(ctx, "webhooks: the signing secret cannot be opened", "webhook", d.WebhookID, "err", err)
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// DeliveryResult is what an attempt came back with: a response's status, or why none came.
type DeliveryResult struct {
	At     time.Time
	Status int
	Error  string
}

// RetrySchedule returns how long failed deliveries wait before each retry.
func (s *Service) RetrySchedule() []time.Duration {
	if len(s.WebhookRetrySchedule) > 0 {
		return s.WebhookRetrySchedule
	}
	return DefaultRetrySchedule
}

// FinishWebhookDelivery records an attempt of d that owner made, and returns what it came
// to: a 2xx answer delivers the message; anything else is retried after the schedule's
// next wait, and given up once the schedule is used up. A delivered or given up message
// leaves the webhook's queue, so that its next one goes.
//
// Returns ECONFLICT (lease_lost) and records nothing if owner no longer holds d.
func (s *Service) FinishWebhookDelivery(ctx context.Context, d *WebhookDelivery, owner string, r DeliveryResult) (string, error) {
	a := &WebhookAttempt{ID: NewID("dlv"), TenantID: d.TenantID, WebhookID: d.WebhookID, MessageID: d.MessageID, Type: d.Type,
		Attempt: d.Attempt, At: r.At.UTC().Truncate(time.Microsecond), Status: r.Status, Error: auditText(r.Error)}
	var next time.Time
	schedule := s.RetrySchedule()
	switch {
	case r.Status >= 200 && r.Status < 300:
		a.Outcome = DeliveryDelivered
	case d.Attempt <= len(schedule):
		a.Outcome = DeliveryFailed
		next = s.now().Add(schedule[d.Attempt-1])
	default:
		a.Outcome = DeliveryExhausted
	}
	if err := s.store.FinishWebhookAttempt(ctx, d.ID, owner, a, next); err != nil {
		return "", err
	}
	return a.Outcome, nil
}

// CountPendingWebhookDeliveries returns how many messages wait for delivery, over every
// tenant.
func (s *Service) CountPendingWebhookDeliveries(ctx context.Context) (int, error) {
	return s.store.CountPendingWebhookDeliveries(ctx)
}
