package usage_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/usage"
)

var ctx = context.Background()

var quiet = slog.New(slog.DiscardHandler)

// t0 is a minute's start; tests count around it.
var t0 = time.Date(2030, 5, 17, 10, 59, 0, 0, time.UTC)

// recorder is a store that keeps the flushes it is given and fails while told to.
type recorder struct {
	mu      sync.Mutex
	flushes []*keyhaven.UsageFlush
	fail    error
}

func (r *recorder) AddUsage(_ context.Context, f *keyhaven.UsageFlush) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.flushes = append(r.flushes, f)
	return nil
}

// counts returns every count flushed, as "tenant credential outcome minute=count", sorted.
func (r *recorder) counts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, f := range r.flushes {
		for _, c := range f.Counts {
			out = append(out, fmt.Sprintf("%s %s %s %s=%d", c.TenantID, c.CredentialID, c.Outcome, c.Minute.Format("15:04"), c.Count))
		}
	}
	slices.Sort(out)
	return out
}

func verdict(code keyhaven.VerdictCode, c *keyhaven.Credential) *keyhaven.Verdict {
	return &keyhaven.Verdict{Code: code, Credential: c}
}

// TestCountedUnder: each verdict counts under the device access or credential it names, in the
// credential's own tenant; a verdict naming none counts in the tenant the use was confined to
// (totals only), else nowhere; sessions count nowhere.
func TestCountedUnder(t *testing.T) {
	key := &keyhaven.Credential{ID: "key-1", TenantID: "tnt-a", Kind: keyhaven.KindAPIKey}
	gateway := &keyhaven.Principal{TenantID: "tnt-a", CredentialID: "key-gw"}
	for _, tc := range []struct {
		name string
		use  keyhaven.Use
		v    *keyhaven.Verdict
		want []string
	}{
		{"Credential", keyhaven.Use{}, verdict(keyhaven.CodeValid, key), []string{"tnt-a key-1 VALID 10:59=1"}},
		{"CredentialOnAnotherTenantsPath", keyhaven.Use{Tenant: "other"}, verdict(keyhaven.CodeWrongTenant, key),
			[]string{"tnt-a key-1 WRONG_TENANT 10:59=1"}},
		{"AccessKey", keyhaven.Use{}, verdict(keyhaven.CodeRevoked, &keyhaven.Credential{ID: "akey-1", TenantID: "tnt-b", Kind: keyhaven.KindAccessKey}),
			[]string{"tnt-b akey-1 REVOKED 10:59=1"}},
		{"Session", keyhaven.Use{}, verdict(keyhaven.CodeValid, &keyhaven.Credential{ID: "ses-1", TenantID: "tnt-a", Kind: keyhaven.KindSession}), []string{}},
		{"DeviceAccess", keyhaven.Use{Device: &keyhaven.DeviceLogin{Username: "dev"}, Caller: gateway},
			&keyhaven.Verdict{Code: keyhaven.CodeSuspended, Access: &keyhaven.Access{ID: "acc-1", TenantID: "tnt-a"}},
			[]string{"tnt-a acc-1 SUSPENDED 10:59=1"}},
		{"DeviceWrongPassword", keyhaven.Use{Device: &keyhaven.DeviceLogin{Username: "dev"}, Caller: gateway},
			&keyhaven.Verdict{Code: keyhaven.CodeInvalidCredentials}, []string{"tnt-a  INVALID_CREDENTIALS 10:59=1"}},
		{"RefusedToken", keyhaven.Use{Tokens: true},
			&keyhaven.Verdict{Code: keyhaven.CodeExpired, Token: &keyhaven.TokenClaims{Subject: "key-1"}, Tenant: &keyhaven.Tenant{ID: "tnt-a"}},
			[]string{"tnt-a key-1 EXPIRED 10:59=1"}},
		{"UnknownSecretOfATenantsVerifier", keyhaven.Use{Scope: "tnt-a"}, verdict(keyhaven.CodeNotFound, nil), []string{"tnt-a  NOT_FOUND 10:59=1"}},
		{"UnknownSecretAnonymous", keyhaven.Use{}, verdict(keyhaven.CodeNotFound, nil), []string{}},
		{"UnknownSecretOnATenantsPath", keyhaven.Use{Tenant: "acme"}, verdict(keyhaven.CodeNotFound, nil), []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := keyhaven.NewManualClock(t0.Add(30 * time.Second))
			r := &recorder{}
			c := usage.New(r, clock, quiet)
			c.Judged(&tc.use, tc.v)
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if got := r.counts(); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCounterSumsPerMinute: uses from many goroutines are counted exactly, per minute (the
// verdict's own time), and a flush with nothing to add adds nothing.
func TestCounterSumsPerMinute(t *testing.T) {
	clock := keyhaven.NewManualClock(t0)
	r := &recorder{}
	c := usage.New(r, clock, quiet)
	key := &keyhaven.Credential{ID: "key-1", TenantID: "tnt-a", Kind: keyhaven.KindAPIKey}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeValid, key))
				c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeRateLimited, key))
			}
		})
	}
	wg.Wait()
	clock.Advance(time.Minute)
	c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeValid, key))
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"tnt-a key-1 RATE_LIMITED 10:59=8000", "tnt-a key-1 VALID 10:59=8000", "tnt-a key-1 VALID 11:00=1"}
	if got := r.counts(); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(r.flushes) != 1 {
		t.Errorf("%d flushes, want 1: a flush with nothing to add adds nothing", len(r.flushes))
	}
}

// TestCounterKeepsWhatTheStoreRefused: a flush the store refuses is kept and sent again,
// unchanged and under the same id, before the counts that came since, which go in a flush of
// their own.
func TestCounterKeepsWhatTheStoreRefused(t *testing.T) {
	clock := keyhaven.NewManualClock(t0)
	r := &recorder{fail: errors.New("database down")}
	c := usage.New(r, clock, quiet)
	key := &keyhaven.Credential{ID: "key-1", TenantID: "tnt-a", Kind: keyhaven.KindAPIKey}
	c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeValid, key))
	if err := c.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded while the store failed")
	}
	c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeValid, key))
	if err := c.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded while the store failed")
	}
	r.fail = nil
	c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeValid, key))
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(r.flushes) != 2 {
		t.Fatalf("%d flushes, want 2: the one refused, then the counts since", len(r.flushes))
	}
	if got := r.flushes[0].Counts; len(got) != 1 || got[0].Count != 1 {
		t.Errorf("the refused flush came back as %+v, want its one use", got)
	}
	if got := r.flushes[1].Counts; len(got) != 1 || got[0].Count != 2 {
		t.Errorf("the flush after it holds %+v, want the 2 uses since", got)
	}
	if r.flushes[0].ID == r.flushes[1].ID {
		t.Error("two flushes with one id: the store would drop the second")
	}
}

// TestCounterBoundsWhatItHolds: while the store refuses, the counter holds at most MaxPending
// distinct counts; uses under new keys past that are dropped, and said so.
func TestCounterBoundsWhatItHolds(t *testing.T) {
	clock := keyhaven.NewManualClock(t0)
	r := &recorder{fail: errors.New("database down")}
	c := usage.New(r, clock, quiet)
	c.MaxPending = 3
	for i := range 5 {
		key := &keyhaven.Credential{ID: fmt.Sprintf("key-%d", i), TenantID: "tnt-a", Kind: keyhaven.KindAPIKey}
		c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeValid, key))
		c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeValid, key))
		if err := c.Flush(ctx); err == nil {
			t.Fatal("Flush succeeded while the store failed")
		}
	}
	if got := c.Dropped(); got != 4 {
		t.Errorf("Dropped = %d, want 4 (2 uses of each of 2 keys past the bound)", got)
	}
	r.fail = nil
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"tnt-a key-0 VALID 10:59=2", "tnt-a key-1 VALID 10:59=2", "tnt-a key-2 VALID 10:59=2"}
	if got := r.counts(); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// ambiguous is a store whose commit goes through but whose answer is lost: it adds the flush
// and reports a failure, once.
type ambiguous struct {
	keyhaven.Store
	once sync.Once
}

func (a *ambiguous) AddUsage(ctx context.Context, f *keyhaven.UsageFlush) error {
	err := a.Store.AddUsage(ctx, f)
	lost := false
	a.once.Do(func() { lost = true })
	if err == nil && lost {
		return errors.New("connection reset while committing")
	}
	return err
}

// TestCounterNeverCountsTwice: on both databases, a flush whose commit went through but was
// reported failed is sent again, and the store counts it once.
func TestCounterNeverCountsTwice(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			clock := keyhaven.NewManualClock(t0)
			svc := keyhaven.NewService(db, quiet)
			svc.Clock = clock
			created, err := svc.CreateTenant(ctx, "acme", "admin@acme.test")
			if err != nil {
				t.Fatal(err)
			}
			c := usage.New(&ambiguous{Store: db}, clock, quiet)
			svc.Judged = c.Judged
			for range 3 {
				if _, err := svc.Judge(ctx, keyhaven.Use{Secret: created.APIKey, Verification: true}); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Flush(ctx); err == nil {
				t.Fatal("the lost commit was not reported")
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			admin, err := svc.Authenticate(ctx, keyhaven.Use{Secret: created.APIKey})
			if err != nil {
				t.Fatal(err)
			}
			s, err := svc.Usage(ctx, admin, keyhaven.UsageQuery{Granularity: keyhaven.GranularityMinute,
				From: t0, To: t0.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			// The admin's own Authenticate above is counted in memory, not yet flushed.
			if got := s.Buckets[0].Outcomes[keyhaven.CodeValid]; got != 3 {
				t.Errorf("tenant's VALID uses at 10:59 = %d, want 3", got)
			}
		})
	}
}

// TestCounterRunFlushesOnTheClock: Run adds the counts once the interval has passed on its
// clock, not before, and once more when it stops.
func TestCounterRunFlushesOnTheClock(t *testing.T) {
	clock := keyhaven.NewManualClock(t0)
	r := &recorder{}
	c := usage.New(r, clock, quiet)
	key := &keyhaven.Credential{ID: "key-1", TenantID: "tnt-a", Kind: keyhaven.KindAPIKey}
	parked := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("the counter does not wait on the clock: %v", err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(runCtx, keyhaven.UsageFlushInterval)
	}()
	parked()
	c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeValid, key))
	clock.Advance(keyhaven.UsageFlushInterval - time.Nanosecond)
	if got := r.counts(); len(got) != 0 {
		t.Fatalf("counts added before the interval passed: %q", got)
	}
	clock.Advance(time.Nanosecond)
	parked() // flushed, and waiting for the next interval
	if got, want := r.counts(), []string{"tnt-a key-1 VALID 10:59=1"}; !slices.Equal(got, want) {
		t.Fatalf("once the interval passed: got %q, want %q", got, want)
	}
	c.Judged(&keyhaven.Use{}, verdict(keyhaven.CodeExpired, key))
	stop()
	<-done
	if got, want := r.counts(), []string{"tnt-a key-1 EXPIRED 10:59=1", "tnt-a key-1 VALID 10:59=1"}; !slices.Equal(got, want) {
		t.Fatalf("once stopped: got %q, want %q", got, want)
	}
}

// BenchmarkCounterParallel: the cost of counting a verdict on the verification path, from
// every core at once, over 10,000 keys. The verdict's time is given, as Judge gives it.
func BenchmarkCounterParallel(b *testing.B) {
	c := usage.New(&recorder{}, keyhaven.SystemClock(), quiet)
	keys := make([]*keyhaven.Verdict, 10_000)
	for i := range keys {
		keys[i] = verdict(keyhaven.CodeValid, &keyhaven.Credential{ID: fmt.Sprintf("key-%d", i), TenantID: "tnt-a", Kind: keyhaven.KindAPIKey})
	}
	u := &keyhaven.Use{}
	at := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Count(u, keys[i%len(keys)], at)
			i++
		}
	})
}

// BenchmarkCounterParallelHotKey: the same, every use of one key.
func BenchmarkCounterParallelHotKey(b *testing.B) {
	c := usage.New(&recorder{}, keyhaven.SystemClock(), quiet)
	v := verdict(keyhaven.CodeValid, &keyhaven.Credential{ID: "key-hot", TenantID: "tnt-a", Kind: keyhaven.KindAPIKey})
	u := &keyhaven.Use{}
	at := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Count(u, v, at)
		}
	})
}
