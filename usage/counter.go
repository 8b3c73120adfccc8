// Package usage counts the uses of credentials. Every verdict the service reaches is told to
// Counter.Judged (keyhaven.Service.Judged), which counts it in memory per tenant, credential,
// outcome and minute (what is counted: see keyhaven's usage.go); Counter.Run adds the counts
// to the store every interval, and once more when it stops, each flush exactly once.
package usage

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"keyhaven.dev/keyhaven"
)

// Store is where the counts go.
type Store interface {
	// AddUsage: see keyhaven.UsageStore.
	AddUsage(ctx context.Context, f *keyhaven.UsageFlush) error
}

// DefaultMaxPending bounds the distinct counts (tenant, credential, outcome, minute) a counter
// holds while the store cannot take them: about 100 bytes each.
const DefaultMaxPending = 1_000_000

// shards spreads the counting over locks: a use takes one at random, so that uses of one hot
// key from many cores do not queue on one lock.
const shards = 32

// key is what a use is counted under.
type key struct {
	tenant, credential string
	outcome            keyhaven.VerdictCode
	minute             int64 // unix seconds / 60
}

type shard struct {
	mu sync.Mutex
	m  map[key]int64
	_  [128 - 16]byte // one shard a cache line pair: cores counting in two shards do not contend
}

// Counter counts uses in memory and adds them to the store in flushes. Its zero value is not
// usable: see New.
type Counter struct {
	store Store
	clock keyhaven.Clock
	log   *slog.Logger
	// MaxPending bounds the distinct counts held while the store cannot take them; counts
	// under new keys past it are dropped (and logged), so that an outage costs bounded memory.
	MaxPending int

	shards [shards]shard

	mu      sync.Mutex           // one flush at a time
	pending *keyhaven.UsageFlush // a flush the store refused, retried as it is
	carry   map[key]int64        // counts not yet in a flush
	dropped int64
}

// New returns a counter adding to store on clock's time.
func New(store Store, clock keyhaven.Clock, log *slog.Logger) *Counter {
	return &Counter{store: store, clock: clock, log: log, MaxPending: DefaultMaxPending, carry: map[key]int64{}}
}

// Judged counts the verdict v reached on the use u, for keyhaven.Service.Judged: under the
// device access or credential it names, else in the tenant's totals when the use was confined
// to one tenant; sessions are not counted (see keyhaven's usage.go). It takes one of the
// counter's locks for a map update and never blocks on the store.
func (c *Counter) Judged(u *keyhaven.Use, v *keyhaven.Verdict) { c.Count(u, v, v.At()) }

// Count counts the verdict v reached on the use u at the instant at (the counter's clock's now
// when zero), like Judged.
func (c *Counter) Count(u *keyhaven.Use, v *keyhaven.Verdict, at time.Time) {
	k, ok := subject(u, v)
	if !ok {
		return
	}
	if at.IsZero() {
		at = c.clock.Now()
	}
	k.outcome, k.minute = v.Code, at.Unix()/60
	s := &c.shards[rand.Uint32()%shards]
	s.mu.Lock()
	if s.m == nil {
		s.m = map[key]int64{}
	}
	s.m[k]++
	s.mu.Unlock()
}

// subject returns whom a verdict counts under, and false when it counts nowhere.
func subject(u *keyhaven.Use, v *keyhaven.Verdict) (key, bool) {
	switch {
	case v.Access != nil:
		return key{tenant: v.Access.TenantID, credential: v.Access.ID}, true
	case v.Credential != nil:
		if v.Credential.Kind == keyhaven.KindSession {
			return key{}, false
		}
		return key{tenant: v.Credential.TenantID, credential: v.Credential.ID}, true
	case v.Token != nil && v.Tenant != nil:
		// An access token refused before its credential was read: counted under the
		// credential or device access it was issued to.
		return key{tenant: v.Tenant.ID, credential: v.Token.Subject}, true
	case u.Device != nil && u.Caller != nil:
		return key{tenant: u.Caller.TenantID}, true
	case u.Scope != "":
		return key{tenant: u.Scope}, true
	}
	return key{}, false
}

// Flush adds what the counter holds to the store: first a flush the store refused before,
// unchanged (the store adds it once however often it is sent), then the counts since. On
// error the counts are kept for the next flush.
func (c *Counter) Flush(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drain()
	for {
		if c.pending == nil {
			if len(c.carry) == 0 {
				return nil
			}
			f := &keyhaven.UsageFlush{ID: keyhaven.NewID("usf"), At: c.clock.Now().UTC(), Counts: make([]keyhaven.UsageCount, 0, len(c.carry))}
			for k, n := range c.carry {
				f.Counts = append(f.Counts, keyhaven.UsageCount{TenantID: k.tenant, CredentialID: k.credential, Outcome: k.outcome,
					Minute: time.Unix(k.minute*60, 0).UTC(), Count: n})
			}
			c.pending, c.carry = f, map[key]int64{}
		}
		if err := c.store.AddUsage(ctx, c.pending); err != nil {
			return err
		}
		c.pending = nil
	}
}

// drain moves the shards' counts into carry, within MaxPending distinct counts.
func (c *Counter) drain() {
	held := len(c.carry)
	if c.pending != nil {
		held += len(c.pending.Counts)
	}
	var dropped int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		m := s.m
		s.m = nil
		s.mu.Unlock()
		for k, n := range m {
			if _, ok := c.carry[k]; !ok {
				if held >= c.MaxPending {
					dropped += n
					continue
				}
				held++
			}
			c.carry[k] += n
		}
	}
	if dropped > 0 {
		c.dropped += dropped
		c.log.Warn("usage counts dropped: too many wait for the database", "dropped", dropped, "held", held)
	}
}

// Dropped returns how many uses the counter could not hold since it started.
func (c *Counter) Dropped() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// shutdownFlush bounds the last flush, when the counter stops: a store that does not answer
// does not hold up the process's exit for long.
const shutdownFlush = 10 * time.Second

// Run flushes on the counter's clock, interval after the previous flush ended, until ctx
// ends, then once more.
func (c *Counter) Run(ctx context.Context, interval time.Duration) {
	t := c.clock.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownFlush)
			defer cancel()
			if err := c.Flush(last); err != nil {
				c.log.Error("add usage counts", "err", err)
			}
			return
		case <-t.Chan():
			if err := c.Flush(ctx); err != nil {
				c.log.ErrorContext(ctx, "add usage counts; kept for the next flush", "err", err)
			}
			t.Reset(interval)
		}
	}
}
