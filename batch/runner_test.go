package batch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"keyhaven"
	"keyhaven/batch"
	"keyhaven/internal/apitest"
	"keyhaven/internal/testdb"
	"keyhaven/secret"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// newService returns a service over a fresh store from open, with cheap argon2id
// parameters unless a test sets its own.
func newService(t testing.TB, open testdb.Opener) *keyhaven.Service {
	t.Helper()
	return serviceOver(open(t))
}

// stores holds the store under each test's service, for the tests to read what the service
// does not show.
var stores sync.Map // *keyhaven.Service -> keyhaven.Store

func serviceOver(store keyhaven.Store) *keyhaven.Service {
	svc := keyhaven.NewService(store, discard)
	stores.Store(svc, store)
	key, _ := secret.ParseKey(secret.NewKey())
	svc.Sealer, _ = secret.NewSealer(key)
	svc.PasswordParams = apitest.FastPasswords
	return svc
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

func storeOf(svc *keyhaven.Service) keyhaven.Store {
	s, _ := stores.Load(svc)
	return s.(keyhaven.Store)
}

func task(t testing.TB, svc *keyhaven.Service, tenantID, id string) *keyhaven.BatchTask {
	t.Helper()
	got, err := storeOf(svc).BatchTask(context.Background(), tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// taskAccesses reads every access a task created, page by page.
func taskAccesses(t testing.TB, svc *keyhaven.Service, tenantID, id string) []*keyhaven.Access {
	t.Helper()
	var all []*keyhaven.Access
	page := keyhaven.Page{Limit: 1000}
	for {
		accs, err := storeOf(svc).BatchAccesses(context.Background(), tenantID, id, page)
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

// waitTask polls a task until ok holds, failing past the deadline.
func waitTask(t testing.TB, svc *keyhaven.Service, tenantID, id string, what string, ok func(*keyhaven.BatchTask) bool) *keyhaven.BatchTask {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := task(t, svc, tenantID, id)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s not %s within 60s: %s %d/%d", id, what, got.State, got.Processed, got.Requested)
		}
		time.Sleep(time.Millisecond)
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
			svc := newService(t, open)
			alpha, beta := newTenant(t, svc, "alpha"), newTenant(t, svc, "beta")
			r := batch.New(svc, discard)
			r.ChunkSize = 10
			big := submit(t, svc, alpha, keyhaven.BatchInput{Accesses: chosen(1000)})
			start(t, r)
			waitTask(t, svc, alpha.TenantID, big.ID, "started", func(b *keyhaven.BatchTask) bool { return b.Processed > 0 })

			one := 1
			small := submit(t, svc, beta, keyhaven.BatchInput{NumberOfAccesses: &one})
			before := task(t, svc, alpha.TenantID, big.ID).Processed
			if before == big.Requested {
				t.Fatalf("the big batch finished before the small one was submitted: nothing was tested")
			}
			waitTask(t, svc, beta.TenantID, small.ID, "DONE", func(b *keyhaven.BatchTask) bool { return b.State == keyhaven.BatchDone })
			after := task(t, svc, alpha.TenantID, big.ID)
			if after.Processed == after.Requested || after.Processed-before > 2*r.ChunkSize {
				t.Fatalf("the big batch went from %d to %d of %d (%s) while the small one ran, want at most %d more",
					before, after.Processed, after.Requested, after.State, 2*r.ChunkSize)
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
					svc := newService(t, open)
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
						if ran, err := r.RunOnce(ctx); !ran || err != nil {
							t.Fatalf("RunOnce = %v, %v", ran, err)
						}
					}
					if err := c.change(svc, admin, u.ID); err != nil {
						t.Fatal(err)
					}
					drain(t, r)
					got := task(t, svc, admin.TenantID, b.ID)
					if got.State != keyhaven.BatchFailed || !strings.Contains(got.Reason, c.reason) {
						t.Fatalf("task %s (%q), want FAILED with a reason naming %q", got.State, got.Reason, c.reason)
					}
					if want := chunksFirst * r.ChunkSize; got.Processed != want || got.Created != want {
						t.Fatalf("processed %d, created %d; want %d: no access after the change", got.Processed, got.Created, want)
					}
					if accs := taskAccesses(t, svc, admin.TenantID, b.ID); len(accs) != got.Created {
						t.Fatalf("%d accesses stored, want %d", len(accs), got.Created)
					}
				})
			}
		}
	}
}

// offeringRead tells when a product offering has been read: the runner reads the task's
// offering right before it builds a chunk.
type offeringRead struct {
	keyhaven.Store
	read chan<- struct{}
}

func (s offeringRead) ProductOffering(ctx context.Context, tenantID, id string) (*keyhaven.ProductOffering, error) {
	o, err := s.Store.ProductOffering(ctx, tenantID, id)
	select {
	case s.read <- struct{}{}:
	default:
	}
	return o, err
}

// TestShutdownStopsWithinAnItem cancels the runner while it builds a chunk of expensive
// items and checks that it stops at once, and that a later run finishes the task with every
// item created exactly once.
func TestShutdownStopsWithinAnItem(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			building := make(chan struct{}, 1)
			svc := serviceOver(offeringRead{open(t), building})
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
			select {
			case <-building:
			case <-time.After(60 * time.Second):
				t.Fatal("the runner did not start the chunk within 60s")
			}
			if took := stop(); took > 3*time.Second {
				t.Errorf("Run returned %v after its context ended, want within 3s", took)
			}
			if got := task(t, svc, p.TenantID, b.ID); got.Processed == n {
				t.Fatalf("the task finished before the runner stopped: nothing was tested")
			}

			// The next run takes the task over at once: the stopped runner let go of its lease.
			svc.PasswordParams = apitest.FastPasswords
			drain(t, batch.New(svc, discard))
			got := task(t, svc, p.TenantID, b.ID)
			if got.State != keyhaven.BatchDone || got.Created != n || got.Failed != 0 {
				t.Fatalf("after the restart: %s, created %d, failed %d; want DONE, %d, 0", got.State, got.Created, got.Failed, n)
			}
			accs := taskAccesses(t, svc, p.TenantID, b.ID)
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
