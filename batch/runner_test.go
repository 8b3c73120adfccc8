package batch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/batch"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a service on a manual clock over a store the test keeps, to read what the service
// does not show.
type env struct {
	svc   *keyhaven.Service
	store keyhaven.Store
	clock *keyhaven.ManualClock
}

// newEnv returns an env over a fresh store from open.
func newEnv(t testing.TB, open testdb.Opener) *env { return envOver(open(t)) }

// envOver returns an env over store, with cheap argon2id parameters unless a test sets its
// own.
func envOver(store keyhaven.Store) *env {
	e := &env{svc: keyhaven.NewService(store, discard), store: store, clock: keyhaven.NewManualClock(time.Now().Truncate(time.Microsecond))}
	e.svc.Clock = e.clock
	key, _ := secret.ParseKey(secret.NewKey())
	e.svc.Sealer, _ = secret.NewSealer(key)
	e.svc.PasswordParams = apitest.FastPasswords
	return e
}

// newTenant creates a tenant with an offering and an active contract "contract-001" and
// returns its admin's principal.
func newTenant(t testing.TB, svc *keyhaven.Service, name string) *keyhaven.Principal {
	t.Helper()
	ctx := context.Background()
	created, err := svc.CreateTenant(ctx, name, "admin@"+name+".test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, keyhaven.Use{Secret: created.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateProductOffering(ctx, p, keyhaven.ProductOfferingInput{ID: "plain", Name: "Plain"}); err != nil {
		t.Fatal(err)
	}
	now := svc.Now()
	if _, err := svc.CreateContract(ctx, p, keyhaven.ContractInput{ID: "contract-001", ProductOfferingID: "plain",
		StartDate: now.Add(-time.Hour), EndDate: now.Add(24 * 365 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return p
}

// chosen returns n batch items with chosen usernames and passwords: each costs an argon2id.
func chosen(n int) []keyhaven.AccessInput {
	items := make([]keyhaven.AccessInput, n)
	for i := range items {
		pw := fmt.Sprintf("chosen-password-%05d", i)
		items[i] = keyhaven.AccessInput{Username: fmt.Sprintf("device-%05d", i), Password: &pw}
	}
	return items
}

func submit(t testing.TB, svc *keyhaven.Service, p *keyhaven.Principal, in keyhaven.BatchInput) *keyhaven.BatchTask {
	t.Helper()
	in.ContractID = "contract-001"
	task, err := svc.SubmitBatch(context.Background(), p, in)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func (e *env) task(t testing.TB, tenantID, id string) *keyhaven.BatchTask {
	t.Helper()
	got, err := e.store.BatchTask(context.Background(), tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// taskAccesses reads every access a task created, page by page.
func (e *env) taskAccesses(t testing.TB, tenantID, id string) []*keyhaven.Access {
	t.Helper()
	var all []*keyhaven.Access
	page := keyhaven.Page{Limit: 1000}
	for {
		accs, err := e.store.BatchAccesses(context.Background(), tenantID, id, page)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, accs...)
		if len(accs) < page.Limit {
			return all
		}
		page.After = keyhaven.BatchCursor(accs[len(accs)-1])
	}
}

// step takes one turn, which must run a task.
func step(t testing.TB, r *batch.Runner) {
	t.Helper()
	if ran, err := r.RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v; want a turn run", ran, err)
	}
}

// drain runs turns until no task is left to run.
func drain(t testing.TB, r *batch.Runner) {
	t.Helper()
	for range 10000 {
		ran, err := r.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !ran {
			return
		}
	}
	t.Fatal("the runner never ran out of work")
}

// start runs r in the background until the returned stop is called; stop reports how long
// Run took to return after its context ended.
func start(t testing.TB, r *batch.Runner) (stop func() time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	stopped := false
	stop = func() time.Duration {
		if stopped {
			return 0
		}
		stopped = true
		began := time.Now()
		cancel()
		<-done
		return time.Since(began)
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestTenantsTakeTurns checks that a big batch of chosen passwords does not hold up another
// tenant's small batch submitted after it: the small one finishes within about one chunk of
// the big one's work.
func TestTenantsTakeTurns(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open)
			alpha, beta := newTenant(t, e.svc, "alpha"), newTenant(t, e.svc, "beta")
			r := batch.New(e.svc, discard)
			r.ChunkSize = 10
			big := submit(t, e.svc, alpha, keyhaven.BatchInput{Accesses: chosen(100)})
			step(t, r)
			step(t, r)

			one := 1
			small := submit(t, e.svc, beta, keyhaven.BatchInput{NumberOfAccesses: &one})
			before := e.task(t, alpha.TenantID, big.ID).Processed
			for turns := 0; e.task(t, beta.TenantID, small.ID).State != keyhaven.BatchDone; turns++ {
				if turns == 20 {
					t.Fatalf("the small batch is not DONE after %d turns: %+v", turns, e.task(t, beta.TenantID, small.ID))
				}
				step(t, r)
			}
			after := e.task(t, alpha.TenantID, big.ID)
			if after.Processed == after.Requested || after.Processed-before > r.ChunkSize {
				t.Fatalf("the big batch went from %d to %d of %d (%s) while the small one ran, want at most %d more",
					before, after.Processed, after.Requested, after.State, r.ChunkSize)
			}
			drain(t, r)
			if got := e.task(t, alpha.TenantID, big.ID); got.State != keyhaven.BatchDone || got.Created != big.Requested {
				t.Fatalf("the big batch ended %s with %d created, want DONE with %d", got.State, got.Created, big.Requested)
			}
		})
	}
}

// TestChunkEndsWithItsWork checks that a chunk ends at the first item that takes its building
// past ChunkWork, whatever ChunkSize allows.
func TestChunkEndsWithItsWork(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open)
			p := newTenant(t, e.svc, "acme")
			b := submit(t, e.svc, p, keyhaven.BatchInput{Accesses: chosen(5)})
			r := batch.New(e.svc, discard)
			r.ChunkSize, r.ChunkWork = 100, time.Nanosecond // every item takes longer
			for want := 1; want <= 5; want++ {
				step(t, r)
				if got := e.task(t, p.TenantID, b.ID).Processed; got != want {
					t.Fatalf("after %d turns %d items processed, want one a turn", want, got)
				}
			}
		})
	}
}

// watched is a store that tells a test what the runner does: each claim's task id ("" when
// none was waiting) on claims, each read of a product offering (right before a chunk is
// built) on building, when set.
type watched struct {
	keyhaven.Store
	claims   chan string
	building chan struct{}
}

func (s watched) ClaimBatchTask(ctx context.Context, owner string, now, leaseUntil time.Time) (*keyhaven.BatchTask, error) {
	task, err := s.Store.ClaimBatchTask(ctx, owner, now, leaseUntil)
	if s.claims != nil && (err == nil || keyhaven.ErrorCode(err) == keyhaven.ENOTFOUND) {
		id := ""
		if task != nil {
			id = task.ID
		}
		s.claims <- id
	}
	return task, err
}

func (s watched) ProductOffering(ctx context.Context, tenantID, id string) (*keyhaven.ProductOffering, error) {
	o, err := s.Store.ProductOffering(ctx, tenantID, id)
	if s.building != nil {
		select {
		case s.building <- struct{}{}:
		default:
		}
	}
	return o, err
}

// next returns what ch gives next, failing after a minute.
func next[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("no %s within a minute", what)
		panic("unreachable")
	}
}

// TestRunnerPollsOnItsClock checks that a running runner looks for work it was not told
// about every Poll on the service's clock: a task submitted without waking it runs once the
// clock moves by Poll.
func TestRunnerPollsOnItsClock(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			claims := make(chan string, 100)
			e := envOver(watched{Store: open(t), claims: claims})
			p := newTenant(t, e.svc, "acme")
			r := batch.New(e.svc, discard)
			r.Poll = time.Hour
			start(t, r)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := e.clock.BlockUntilContext(ctx, 1); err != nil {
				t.Fatalf("the runner set no ticker on the service's clock: %v", err)
			}
			if id := next(t, claims, "first claim"); id != "" {
				t.Fatalf("claimed %s, want nothing yet", id)
			}
			n := 30
			b := submit(t, e.svc, p, keyhaven.BatchInput{NumberOfAccesses: &n}) // nobody wakes the runner
			e.clock.Advance(r.Poll)
			if id := next(t, claims, "claim after the poll"); id != b.ID {
				t.Fatalf("claimed %q after the poll, want %s", id, b.ID)
			}
			for next(t, claims, "claim") != "" { // until the runner runs out of work
			}
			if got := e.task(t, p.TenantID, b.ID); got.State != keyhaven.BatchDone || got.Created != n {
				t.Fatalf("task %s with %d created, want DONE with %d", got.State, got.Created, n)
			}
		})
	}
}

// TestLeaseRunsOutOnTheClock checks that a runner that stopped without letting go (a crashed
// node) holds its task until its lease runs out on the service's clock, and that another
// runner then finishes the task where it stands, with every item created exactly once.
func TestLeaseRunsOutOnTheClock(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open)
			p := newTenant(t, e.svc, "acme")
			n := 50
			b := submit(t, e.svc, p, keyhaven.BatchInput{NumberOfAccesses: &n})
			crashed, other := batch.New(e.svc, discard), batch.New(e.svc, discard)
			crashed.ChunkSize = 10
			step(t, crashed)
			if ran, err := other.RunOnce(context.Background()); ran || err != nil {
				t.Fatalf("RunOnce = %v, %v while the lease holds; want nothing run", ran, err)
			}
			e.clock.Advance(crashed.Lease - time.Microsecond)
			if ran, err := other.RunOnce(context.Background()); ran || err != nil {
				t.Fatalf("RunOnce = %v, %v before the lease ran out; want nothing run", ran, err)
			}
			e.clock.Advance(time.Microsecond)
			drain(t, other)
			got := e.task(t, p.TenantID, b.ID)
			if got.State != keyhaven.BatchDone || got.Created != n || got.Failed != 0 {
				t.Fatalf("task %s, created %d, failed %d; want DONE, %d, 0", got.State, got.Created, got.Failed, n)
			}
			for i, a := range e.taskAccesses(t, p.TenantID, b.ID) {
				if a.BatchSeq != i {
					t.Fatalf("access %d is item %d: an item was lost or made twice", i, a.BatchSeq)
				}
			}
			// The crashed runner, back, finds its lease taken and nothing to do.
			if ran, err := crashed.RunOnce(context.Background()); ran || err != nil {
				t.Fatalf("the old runner's RunOnce = %v, %v; want nothing run", ran, err)
			}
		})
	}
}

// TestBatchStopsWhenCreatorMayNot checks that a batch stops as FAILED, with the reason, once
// its creator is deleted or loses ACCESS_MANAGEMENT, before or after its first chunk.
func TestBatchStopsWhenCreatorMayNot(t *testing.T) {
	changes := []struct {
		name, reason string
		change       func(svc *keyhaven.Service, admin *keyhaven.Principal, userID string) error
	}{
		{"deleted", "deleted", func(svc *keyhaven.Service, admin *keyhaven.Principal, id string) error {
			return svc.DeleteUser(context.Background(), admin, id)
		}},
		{"lost ACCESS_MANAGEMENT", "ACCESS_MANAGEMENT", func(svc *keyhaven.Service, admin *keyhaven.Principal, id string) error {
			perms := []string{"READ"}
			_, err := svc.UpdateUser(context.Background(), admin, id, keyhaven.UpdateUserInput{Permissions: &perms})
			return err
		}},
	}
	for name, open := range testdb.Engines() {
		for _, c := range changes {
			for _, chunksFirst := range []int{0, 1} {
				t.Run(fmt.Sprintf("%s/%s after %d chunks", name, c.name, chunksFirst), func(t *testing.T) {
					ctx := context.Background()
					e := newEnv(t, open)
					svc := e.svc
					admin := newTenant(t, svc, "acme")
					pw := "operator-password-1"
					u, _, err := svc.CreateUser(ctx, admin, keyhaven.CreateUserInput{Email: "operator@acme.test", Password: &pw,
						Permissions: []string{"ACCESS_MANAGEMENT", "READ"}})
					if err != nil {
						t.Fatal(err)
					}
					session, err := svc.Login(ctx, "acme", "operator@acme.test", pw)
					if err != nil {
						t.Fatal(err)
					}
					operator, err := svc.Authenticate(ctx, keyhaven.Use{Secret: session.Token})
					if err != nil {
						t.Fatal(err)
					}
					r := batch.New(svc, discard)
					r.ChunkSize = 10
					n := 50
					b := submit(t, svc, operator, keyhaven.BatchInput{NumberOfAccesses: &n})
					for range chunksFirst {
						step(t, r)
					}
					if err := c.change(svc, admin, u.ID); err != nil {
						t.Fatal(err)
					}
					drain(t, r)
					got := e.task(t, admin.TenantID, b.ID)
					if got.State != keyhaven.BatchFailed || !strings.Contains(got.Reason, c.reason) {
						t.Fatalf("task %s (%q), want FAILED with a reason naming %q", got.State, got.Reason, c.reason)
					}
					if want := chunksFirst * r.ChunkSize; got.Processed != want || got.Created != want {
						t.Fatalf("processed %d, created %d; want %d: no access after the change", got.Processed, got.Created, want)
					}
					if accs := e.taskAccesses(t, admin.TenantID, b.ID); len(accs) != got.Created {
						t.Fatalf("%d accesses stored, want %d", len(accs), got.Created)
					}
				})
			}
		}
	}
}

// TestShutdownStopsWithinAnItem cancels the runner while it builds a chunk of expensive
// items and checks that it stops at once, and that a later run finishes the task with every
// item created exactly once.
func TestShutdownStopsWithinAnItem(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			building := make(chan struct{}, 1)
			e := envOver(watched{Store: open(t), building: building})
			svc := e.svc
			svc.PasswordParams = secret.OWASP // tens of milliseconds an item
			p := newTenant(t, svc, "acme")
			const n = 200
			b := submit(t, svc, p, keyhaven.BatchInput{Accesses: chosen(n)})
			r := batch.New(svc, discard)
			r.ChunkSize = n         // one chunk of several seconds of argon2id...
			r.ChunkWork = time.Hour // ...not cut short by its cost: the runner must stop inside it
			select {                // what setting up the tenant read
			case <-building:
			default:
			}
			stop := start(t, r)
			next(t, building, "chunk begun")
			if took := stop(); took > 3*time.Second {
				t.Errorf("Run returned %v after its context ended, want within 3s", took)
			}
			if got := e.task(t, p.TenantID, b.ID); got.Processed == n {
				t.Fatalf("the task finished before the runner stopped: nothing was tested")
			}

			// The next run takes the task over at once: the stopped runner let go of its lease.
			svc.PasswordParams = apitest.FastPasswords
			drain(t, batch.New(svc, discard))
			got := e.task(t, p.TenantID, b.ID)
			if got.State != keyhaven.BatchDone || got.Created != n || got.Failed != 0 {
				t.Fatalf("after the restart: %s, created %d, failed %d; want DONE, %d, 0", got.State, got.Created, got.Failed, n)
			}
			accs := e.taskAccesses(t, p.TenantID, b.ID)
			if len(accs) != n {
				t.Fatalf("%d accesses stored, want %d", len(accs), n)
			}
			for i, a := range accs {
				if a.BatchSeq != i || a.Username != fmt.Sprintf("device-%05d", i) {
					t.Fatalf("access %d is item %d (%s): an item was lost or made twice", i, a.BatchSeq, a.Username)
				}
			}
		})
	}
}
