// Package webhook delivers the events in keyhaven's outbox to the tenants' webhooks, signed
// per the Standard Webhooks specification (https://www.standardwebhooks.com).
//
// Every node runs a Sender. It claims the first queued message of each webhook with a lease,
// as batch tasks are claimed, so that exactly one node sends each attempt and a webhook's next
// message waits until the one before it is delivered or given up. It sends each message with
// the same webhook-id on every attempt; a 2xx answer delivers it, anything else (another
// status, a transport error, no answer within keyhaven.WebhookTimeout) is retried on the
// service's schedule, then given up. The queue lives in the database: what is pending
// survives restarts and crashes, and a lease held by a dead node runs out for another to
// take.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
)

// Sender sends the outbox's messages to the webhooks.
type Sender struct {
	Svc *keyhaven.Service
	Log *slog.Logger
	// Owner names this sender in the leases it takes; unique per process.
	Owner string
	// Lease is how long a claim on a message lasts: longer than an attempt takes.
	Lease time.Duration
	// Poll is how often, on the service's clock, the sender looks for messages it was not
	// told about (written on other nodes, due for a retry, or whose lease ran out).
	Poll time.Duration
	// Workers is how many attempts run at once, each to another webhook.
	Workers int
	// Client sends the attempts. New makes one that follows no redirect, uses no proxy and,
	// when the service restricts destinations, connects to allowed addresses only.
	Client *http.Client

	wake     chan struct{}
	outcomes [3]atomic.Uint64 // delivered, failed, exhausted
}

// New returns a sender with the default settings.
func New(svc *keyhaven.Service, log *slog.Logger) *Sender {
	host, _ := os.Hostname()
	return &Sender{
		Svc: svc, Log: log,
		Owner:   fmt.Sprintf("%s-%d-%s", host, os.Getpid(), secret.RandomString(6)),
		Lease:   time.Minute,
		Poll:    time.Second,
		Workers: 16,
		Client:  NewClient(svc.WebhookDestinations),
		wake:    make(chan struct{}, 1),
	}
}

// ErrDestination refuses a connection to an address the operator does not allow.
var ErrDestination = errors.New("the destination's address is not one this server may send webhooks to")

// NewClient returns the HTTP client of webhook attempts: it gives up after
// keyhaven.WebhookTimeout, follows no redirect (a 3xx is an answer like any other), uses no
// proxy, and, when dest is set, connects only to a listed host name or to addresses dest
// allows. The address is checked on each connection, once resolved, so that a name that
// resolved to an allowed address when its webhook was made cannot rebind to another.
func NewClient(dest *keyhaven.Destinations) *http.Client {
	plain := &net.Dialer{Timeout: keyhaven.WebhookTimeout}
	guarded := &net.Dialer{Timeout: keyhaven.WebhookTimeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !dest.AllowsAddr(ap.Addr()) {
			return ErrDestination
		}
		return nil
	}}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if dest == nil || dest.AllowsHost(host) {
				return plain.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   keyhaven.WebhookTimeout,
		ResponseHeaderTimeout: keyhaven.WebhookTimeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       keyhaven.WebhookTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Wake tells the sender that messages were queued.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Deliveries returns how many attempts this sender made, by what they came to:
// keyhaven.DeliveryDelivered, DeliveryFailed (to be retried) and DeliveryExhausted (given
// up).
func (s *Sender) Deliveries() map[string]uint64 {
	return map[string]uint64{
		keyhaven.DeliveryDelivered: s.outcomes[0].Load(),
		keyhaven.DeliveryFailed:    s.outcomes[1].Load(),
		keyhaven.DeliveryExhausted: s.outcomes[2].Load(),
	}
}

func (s *Sender) count(outcome string) {
	switch outcome {
	case keyhaven.DeliveryDelivered:
		s.outcomes[0].Add(1)
	case keyhaven.DeliveryFailed:
		s.outcomes[1].Add(1)
	case keyhaven.DeliveryExhausted:
		s.outcomes[2].Add(1)
	}
}

// Run sends messages until ctx ends: it claims what is due whenever it is woken, an attempt
// ends, or Poll passes on the service's clock, up to Workers attempts at once. When ctx ends
// it waits for the attempts under way, which end within keyhaven.WebhookTimeout.
func (s *Sender) Run(ctx context.Context) {
	t := s.Svc.Clock.NewTicker(s.Poll)
	defer t.Stop()
	slots := make(chan struct{}, max(s.Workers, 1))
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		if free := cap(slots) - len(slots); free > 0 {
			ds, err := s.Svc.ClaimWebhookDeliveries(ctx, s.Owner, s.Lease, free)
			if err != nil && ctx.Err() == nil {
				s.Log.ErrorContext(ctx, "webhooks: claim", "err", err)
			}
			for _, d := range ds {
				slots <- struct{}{}
				inflight.Go(func() {
					defer func() { <-slots; s.Wake() }()
					s.deliver(context.WithoutCancel(ctx), d)
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
		case <-s.wake:
		}
	}
}

// deliver makes one attempt of d and records it.
func (s *Sender) deliver(ctx context.Context, d *keyhaven.WebhookDelivery) {
	r := s.Send(ctx, d)
	outcome, err := s.Svc.FinishWebhookDelivery(ctx, d, s.Owner, r)
	if err != nil {
		s.Log.ErrorContext(ctx, "webhooks: record attempt", "webhook", d.WebhookID, "message", d.MessageID, "err", err)
		return
	}
	s.count(outcome)
	if outcome != keyhaven.DeliveryDelivered {
		s.Log.InfoContext(ctx, "webhooks: attempt failed", "webhook", d.WebhookID, "message", d.MessageID,
			"attempt", d.Attempt, "status", r.Status, "error", r.Error, "outcome", outcome)
	}
}

// Send makes one attempt of d: it POSTs the message's payload, signed, and returns what came
// back.
func (s *Sender) Send(ctx context.Context, d *keyhaven.WebhookDelivery) keyhaven.DeliveryResult {
	at := s.Svc.Now()
	r := keyhaven.DeliveryResult{At: at}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		r.Error = "the URL cannot be requested"
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keyhaven-webhooks")
	req.Header.Set("webhook-id", d.MessageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(d.Key, d.MessageID, at, d.Payload))
	res, err := s.Client.Do(req)
	if err != nil {
		r.Error = describe(err)
		return r
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	r.Status = res.StatusCode
	if res.StatusCode < 200 || res.StatusCode > 299 {
		r.Error = "the receiver answered " + res.Status
	}
	return r
}

// describe says why an attempt got no answer, without the URL (which may carry the tenant's
// own token).
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrDestination):
		return ErrDestination.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", keyhaven.WebhookTimeout)
	}
	return err.Error()
}

// Sign returns the webhook-signature header of a message: "v1," and the base64 of the
// HMAC-SHA256, keyed with the secret's bytes, of "{id}.{timestamp}.{body}".
func Sign(key []byte, id string, at time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, at.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
