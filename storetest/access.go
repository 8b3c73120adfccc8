package storetest

import (
	"fmt"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

func newContract(t *testing.T, s keyhaven.Store, f fixture) *keyhaven.Contract {
	t.Helper()
	o := &keyhaven.ProductOffering{ID: "gold", TenantID: f.tenant.ID, Name: "Gold", AccessValidityDays: 30, CreatedAt: base}
	if err := s.CreateProductOffering(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	c := &keyhaven.Contract{ID: "contract-001", TenantID: f.tenant.ID, ProductOfferingID: "gold", CustomerName: "Acme",
		StartDate: base, EndDate: base.Add(365 * 24 * time.Hour), Status: keyhaven.ContractActive, CreatedAt: base, UpdatedAt: base}
	if err := s.CreateContract(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func newAccess(f fixture, c *keyhaven.Contract, username, createdBy string, seq int) *keyhaven.Access {
	return &keyhaven.Access{
		ID: keyhaven.NewID("acc"), TenantID: f.tenant.ID, ContractID: c.ID, ProductOfferingID: c.ProductOfferingID,
		DeviceName: "device-" + username, Username: username, PasswordHash: "$sha256$x", Status: keyhaven.AccessActive,
		ValidFrom: base, ValidUntil: c.EndDate, CreatedAt: base, UpdatedAt: base, CreatedBy: createdBy, BatchSeq: seq,
	}
}

func testContracts(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	c := newContract(t, s, f)
	wantCode(t, s.CreateContract(ctx, c, nil), keyhaven.ECONFLICT)
	got, err := s.Contract(ctx, f.tenant.ID, c.ID)
	if err != nil || got.ProductOfferingID != "gold" || !got.EndDate.Equal(c.EndDate) || got.Status != keyhaven.ContractActive || got.CustomerName != "Acme" {
		t.Fatalf("Contract = %+v, %v", got, err)
	}
	_, err = s.Contract(ctx, g.tenant.ID, c.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	if o, err := s.ProductOffering(ctx, f.tenant.ID, "gold"); err != nil || o.AccessValidityDays != 30 {
		t.Fatalf("ProductOffering = %+v, %v", o, err)
	}
	c.Status, c.UpdatedAt = keyhaven.ContractSuspended, base.Add(time.Hour)
	if _, err := s.UpdateContract(ctx, c.TenantID, c.ID, to(c), nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ListContracts(ctx, f.tenant.ID, keyhaven.ContractFilter{Status: keyhaven.ContractSuspended}); len(l) != 1 {
		t.Fatalf("ListContracts by status: %d", len(l))
	}
	if l, _ := s.ListContracts(ctx, f.tenant.ID, keyhaven.ContractFilter{Status: keyhaven.ContractActive}); len(l) != 0 {
		t.Fatalf("ListContracts by another status: %d", len(l))
	}
	if l, _ := s.ListProductOfferings(ctx, f.tenant.ID, keyhaven.Page{}); len(l) != 1 {
		t.Fatalf("ListProductOfferings: %d", len(l))
	}
}

func testAccesses(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	c := newContract(t, s, f)
	a := newAccess(f, c, "device-one", f.admin.ID, 0)
	if err := s.CreateAccess(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	dup := newAccess(f, c, "device-one", f.admin.ID, 0)
	if err := s.CreateAccess(ctx, dup, nil); keyhaven.ErrorReason(err) != "username_taken" {
		t.Fatalf("duplicate username: %v", err)
	}
	got, err := s.Access(ctx, f.tenant.ID, a.ID)
	if err != nil || got.Username != "device-one" || got.ProductOfferingName != "Gold" || got.ContractStatus != keyhaven.ContractActive ||
		!got.ValidUntil.Equal(c.EndDate) || got.PasswordHash != "$sha256$x" {
		t.Fatalf("Access = %+v, %v", got, err)
	}
	if by, err := s.AccessByUsername(ctx, f.tenant.ID, "device-one"); err != nil || by.ID != a.ID {
		t.Fatalf("AccessByUsername = %v, %v", by, err)
	}
	_, err = s.AccessByUsername(ctx, g.tenant.ID, "device-one")
	wantCode(t, err, keyhaven.ENOTFOUND)
	a.Status, a.PasswordHash = keyhaven.AccessSuspended, "$sha256$y"
	if _, err := s.UpdateAccess(ctx, a.TenantID, a.ID, to(a), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Access(ctx, f.tenant.ID, a.ID); got.Status != keyhaven.AccessSuspended || got.PasswordHash != "$sha256$y" {
		t.Fatalf("after update: %+v", got)
	}
	if l, _ := s.ListAccesses(ctx, f.tenant.ID, keyhaven.AccessFilter{Status: keyhaven.AccessSuspended, ContractID: c.ID}); len(l) != 1 {
		t.Fatalf("ListAccesses by status: %d", len(l))
	}
	if l, _ := s.ListAccesses(ctx, g.tenant.ID, keyhaven.AccessFilter{}); len(l) != 0 {
		t.Fatalf("another tenant lists %d accesses", len(l))
	}
}

func newTask(f fixture, c *keyhaven.Contract, requested int) *keyhaven.BatchTask {
	return &keyhaven.BatchTask{ID: "job-" + keyhaven.NewID("b")[2:], TenantID: f.tenant.ID, ContractID: c.ID, CreatedBy: f.admin.ID,
		Requested: requested, State: keyhaven.BatchAcknowledged, CreatedAt: base}
}

func testBatchLeases(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	c := newContract(t, s, f)
	task := newTask(f, c, 4)
	if err := s.CreateBatchTask(ctx, task, nil); err != nil {
		t.Fatal(err)
	}
	// Many runners claim at once: exactly one gets the task.
	ok := race(t, 10, keyhaven.ENOTFOUND, func(i int) error {
		_, err := s.ClaimBatchTask(ctx, fmt.Sprintf("runner-%d", i), base, base.Add(time.Minute))
		return err
	})
	if ok != 1 {
		t.Fatalf("%d runners claimed one task", ok)
	}
	got, _ := s.BatchTask(ctx, f.tenant.ID, task.ID)
	owner := got.Owner
	if got.State != keyhaven.BatchInProgress || owner == "" || !got.StartedAt.Equal(base) {
		t.Fatalf("claimed task %+v", got)
	}
	chunk := func(owner string, from, to int, done bool, names ...string) *keyhaven.BatchChunk {
		ch := &keyhaven.BatchChunk{TaskID: task.ID, TenantID: f.tenant.ID, Owner: owner, Processed: to, Done: done,
			LeaseUntil: base.Add(2 * time.Minute), Now: base}
		for i, n := range names {
			ch.Accesses = append(ch.Accesses, newAccess(f, c, n, task.ID, from+i))
		}
		return ch
	}
	// A runner without the lease stores nothing.
	if _, err := s.SaveBatchChunk(ctx, chunk("intruder", 0, 2, false, "b-0", "b-1")); keyhaven.ErrorReason(err) != "lease_lost" {
		t.Fatalf("chunk from a runner without the lease: %v", err)
	}
	if l, _ := s.BatchAccesses(ctx, f.tenant.ID, task.ID, keyhaven.Page{}); len(l) != 0 {
		t.Fatalf("a lost lease stored %d accesses", len(l))
	}
	if err := s.CreateAccess(ctx, newAccess(f, c, "b-taken", f.admin.ID, 0), nil); err != nil {
		t.Fatal(err)
	}
	n, err := s.SaveBatchChunk(ctx, chunk(owner, 0, 2, false, "b-0", "b-taken"))
	if err != nil || n != 1 {
		t.Fatalf("SaveBatchChunk = %d, %v; want 1 created", n, err)
	}
	// The lease is still held until it runs out; then another runner takes over where the
	// task stands.
	if _, err := s.ClaimBatchTask(ctx, "runner-x", base.Add(time.Minute), base.Add(2*time.Minute)); keyhaven.ErrorCode(err) != keyhaven.ENOTFOUND {
		t.Fatalf("claimed a task whose lease holds: %v", err)
	}
	taken, err := s.ClaimBatchTask(ctx, "runner-x", base.Add(3*time.Minute), base.Add(4*time.Minute))
	if err != nil || taken.Processed != 2 || taken.Created != 1 || taken.Failed != 1 {
		t.Fatalf("takeover = %+v, %v", taken, err)
	}
	if _, err := s.SaveBatchChunk(ctx, chunk(owner, 2, 4, true, "b-2", "b-3")); keyhaven.ErrorReason(err) != "lease_lost" {
		t.Fatalf("the old owner stored after a takeover: %v", err)
	}
	if n, err := s.SaveBatchChunk(ctx, chunk("runner-x", 2, 4, true, "b-2", "b-2")); err != nil || n != 1 {
		t.Fatalf("final chunk = %d, %v; want 1 (a duplicate inside the chunk fails)", n, err)
	}
	got, _ = s.BatchTask(ctx, f.tenant.ID, task.ID)
	if got.State != keyhaven.BatchDone || got.Processed != 4 || got.Created != 2 || got.Failed != 2 || got.FinishedAt.IsZero() {
		t.Fatalf("finished task %+v", got)
	}
	errs, _ := s.BatchErrors(ctx, task.ID)
	if len(errs) != 2 || errs[0].Index != 1 || errs[0].Code != "username_taken" || errs[1].Index != 3 {
		t.Fatalf("errors %+v", errs)
	}
	accs, _ := s.BatchAccesses(ctx, f.tenant.ID, task.ID, keyhaven.Page{})
	if len(accs) != 2 || accs[0].Username != "b-0" || accs[1].Username != "b-2" {
		t.Fatalf("batch accesses %+v", accs)
	}
	if _, err := s.ClaimBatchTask(ctx, "runner-y", base.Add(time.Hour), base.Add(2*time.Hour)); keyhaven.ErrorCode(err) != keyhaven.ENOTFOUND {
		t.Fatalf("claimed a finished task: %v", err)
	}

	// Finishing and releasing.
	other := newTask(f, c, 1)
	other.CreatedAt = base.Add(time.Second)
	if err := s.CreateBatchTask(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimBatchTask(ctx, "runner-z", base, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseBatchLeases(ctx); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimBatchTask(ctx, "runner-w", base, base.Add(time.Hour))
	if err != nil || claimed.ID != other.ID {
		t.Fatalf("claim after release: %v, %v", claimed, err)
	}
	claimed.State, claimed.Reason, claimed.FinishedAt = keyhaven.BatchRejected, "contract suspended", base
	wantCode(t, s.FinishBatchTask(ctx, claimed, "runner-z", nil), keyhaven.ECONFLICT)
	if err := s.FinishBatchTask(ctx, claimed, "runner-w", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.BatchTask(ctx, f.tenant.ID, other.ID); got.State != keyhaven.BatchRejected || got.Reason != "contract suspended" {
		t.Fatalf("finished %+v", got)
	}
}

// testBatchChunkAtomic checks that a chunk's accesses, its item errors, the task's progress
// and, with the last chunk, the task's audit record are stored together or not at all, for a
// chunk of more accesses than one statement may carry too, and that nothing of a chunk that
// failed or was stored before comes back with the next.
func testBatchChunkAtomic(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	c := newContract(t, s, f)
	const half = 1500
	task := newTask(f, c, 2*half)
	if err := s.CreateBatchTask(ctx, task, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimBatchTask(ctx, "runner", base, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	taken := newAccess(f, c, "atomic-taken", f.admin.ID, 0)
	if err := s.CreateAccess(ctx, taken, nil); err != nil {
		t.Fatal(err)
	}
	chunk := func(from int) *keyhaven.BatchChunk {
		ch := &keyhaven.BatchChunk{TaskID: task.ID, TenantID: f.tenant.ID, Owner: "runner", Processed: from + half,
			Done: from+half == task.Requested, LeaseUntil: base.Add(time.Hour), Now: base.Add(time.Minute)}
		for i := from; i < from+half; i++ {
			ch.Accesses = append(ch.Accesses, newAccess(f, c, fmt.Sprintf("atomic-%04d", i), task.ID, i))
		}
		ch.Accesses[10].Username = "atomic-taken"
		return ch
	}
	want := func(processed, created, failed int) {
		t.Helper()
		got, err := s.BatchTask(ctx, f.tenant.ID, task.ID)
		if err != nil || got.Processed != processed || got.Created != created || got.Failed != failed {
			t.Fatalf("task %+v, %v; want processed %d, created %d, failed %d", got, err, processed, created, failed)
		}
		var accs []*keyhaven.Access
		for page := (keyhaven.Page{Limit: 1000}); ; {
			l, err := s.BatchAccesses(ctx, f.tenant.ID, task.ID, page)
			if err != nil {
				t.Fatal(err)
			}
			accs = append(accs, l...)
			if len(l) < page.Limit {
				break
			}
			page.After = keyhaven.BatchCursor(l[len(l)-1])
		}
		errs, err := s.BatchErrors(ctx, task.ID)
		if err != nil || len(accs) != created || len(errs) != failed {
			t.Fatalf("%d accesses and %d errors stored (%v), want %d and %d", len(accs), len(errs), err, created, failed)
		}
		for i, e := range errs {
			if e.Index != i*half+10 || e.Code != "username_taken" {
				t.Fatalf("error %d: %+v, want item %d's username taken", i, e, i*half+10)
			}
		}
	}

	// An access whose id is taken (which never happens but here) fails the chunk's
	// transaction at its last row: nothing of the chunk is stored.
	broken := chunk(0)
	broken.Accesses[half-1].ID = taken.ID
	if _, err := s.SaveBatchChunk(ctx, broken); err == nil {
		t.Fatal("a chunk with a taken access id was stored")
	}
	want(0, 0, 0)

	n, err := s.SaveBatchChunk(ctx, chunk(0))
	if err != nil || n != half-1 {
		t.Fatalf("SaveBatchChunk = %d, %v; want %d", n, err, half-1)
	}
	want(half, half-1, 1)

	last := chunk(half)
	var counts [2]int
	last.Finished = func(created, failed int) *keyhaven.AuditEvent {
		counts = [2]int{created, failed}
		return &keyhaven.AuditEvent{ID: keyhaven.NewID("evt"), TenantID: f.tenant.ID, At: base, ActorKind: "batch",
			Action: "access.batch.finish", TargetType: "batch_task", TargetID: task.ID, Outcome: keyhaven.OutcomeSuccess}
	}
	if n, err := s.SaveBatchChunk(ctx, last); err != nil || n != half-1 {
		t.Fatalf("last SaveBatchChunk = %d, %v; want %d", n, err, half-1)
	}
	want(2*half, 2*half-2, 2)
	if counts != [2]int{2*half - 2, 2} {
		t.Fatalf("the audit record was made with counts %v, want the task's final ones", counts)
	}
	events, err := s.ListAudit(ctx, f.tenant.ID, keyhaven.AuditFilter{Action: "access.batch.finish"})
	if err != nil || len(events) != 1 || events[0].TargetID != task.ID {
		t.Fatalf("audit %v, %v; want the task's end recorded with its last chunk", events, err)
	}
	if got, _ := s.BatchTask(ctx, f.tenant.ID, task.ID); got.State != keyhaven.BatchDone || !got.FinishedAt.Equal(last.Now) {
		t.Fatalf("task %s finished at %v, want DONE at %v", got.State, got.FinishedAt, last.Now)
	}
}

// testBatchTurns checks the order in which runners get tasks: tenants take turns, then the
// tasks of a tenant, whatever their age, and a newer task does not jump its tenant's turn.
func testBatchTurns(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	cf, cg := newContract(t, s, f), newContract(t, s, g)
	names := map[string]string{}
	add := func(fx fixture, c *keyhaven.Contract, name string, at time.Time) {
		task := newTask(fx, c, 10)
		task.CreatedAt = at
		if err := s.CreateBatchTask(ctx, task, nil); err != nil {
			t.Fatal(err)
		}
		names[task.ID] = name
	}
	add(f, cf, "f1", base)
	add(f, cf, "f2", base.Add(time.Second))
	add(g, cg, "g1", base.Add(2*time.Second))
	now := base
	claim := func(want string) {
		t.Helper()
		now = now.Add(2 * time.Minute) // every earlier lease has run out
		got, err := s.ClaimBatchTask(ctx, "runner", now, now.Add(time.Minute))
		if err != nil {
			t.Fatalf("claim: %v; want %s", err, want)
		}
		if names[got.ID] != want {
			t.Fatalf("claimed %s, want %s", names[got.ID], want)
		}
	}
	for _, want := range []string{"f1", "g1", "f2", "g1", "f1", "g1", "f2"} {
		claim(want)
	}
	add(f, cf, "f3", now)
	for _, want := range []string{"g1", "f3", "g1", "f1"} {
		claim(want)
	}
}

// testBatchHolding checks that a runner may claim again the task it holds, that releasing
// hands it to any runner at once, and that a stored chunk counts as its tenant's turn.
func testBatchHolding(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	cf, cg := newContract(t, s, f), newContract(t, s, g)
	a := newTask(f, cf, 10)
	if err := s.CreateBatchTask(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	until := base.Add(time.Hour)
	claim := func(owner string) string {
		t.Helper()
		got, err := s.ClaimBatchTask(ctx, owner, base, until)
		if keyhaven.ErrorCode(err) == keyhaven.ENOTFOUND {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return got.ID
	}
	if got := claim("r1"); got != a.ID {
		t.Fatalf("r1 claimed %q, want %s", got, a.ID)
	}
	if got := claim("r2"); got != "" {
		t.Fatalf("r2 claimed %s held by r1", got)
	}
	if got := claim("r1"); got != a.ID {
		t.Fatalf("r1 claimed %q again, want the task it holds, %s", got, a.ID)
	}
	if err := s.ReleaseBatchTask(ctx, a.ID, "r2"); err != nil {
		t.Fatal(err)
	}
	if got := claim("r2"); got != "" {
		t.Fatalf("r2 claimed %s after releasing what it does not hold", got)
	}
	if err := s.ReleaseBatchTask(ctx, a.ID, "r1"); err != nil {
		t.Fatal(err)
	}
	if got := claim("r2"); got != a.ID {
		t.Fatalf("r2 claimed %q after r1 let go, want %s", got, a.ID)
	}

	// r2 holds a; b of another tenant takes the next turn, then a's stored chunk puts f
	// behind g.
	b := newTask(g, cg, 10)
	if err := s.CreateBatchTask(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	if got := claim("r2"); got != b.ID {
		t.Fatalf("r2 claimed %q, want the other tenant's %s", got, b.ID)
	}
	ch := &keyhaven.BatchChunk{TaskID: a.ID, TenantID: f.tenant.ID, Owner: "r2", Processed: 1, LeaseUntil: until, Now: base,
		Accesses: []*keyhaven.Access{newAccess(f, cf, "turn-0", a.ID, 0)}}
	if _, err := s.SaveBatchChunk(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if got := claim("r2"); got != b.ID {
		t.Fatalf("r2 claimed %q after a chunk of %s, want %s", got, a.ID, b.ID)
	}
}

func testBatchPurge(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	c := newContract(t, s, f)
	task := newTask(f, c, 1)
	task.Input = "sealed-input"
	if err := s.CreateBatchTask(ctx, task, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimBatchTask(ctx, "r", base, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	a := newAccess(f, c, "purge-me", task.ID, 0)
	a.BatchSecret = "sealed-password"
	ch := &keyhaven.BatchChunk{TaskID: task.ID, TenantID: f.tenant.ID, Owner: "r", Processed: 1, Done: true,
		LeaseUntil: base.Add(time.Hour), Now: base, Accesses: []*keyhaven.Access{a}}
	if _, err := s.SaveBatchChunk(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.BatchTask(ctx, f.tenant.ID, task.ID); got.Input != "" {
		t.Fatal("a finished task keeps its input")
	}
	if n, _ := s.PurgeBatchPasswords(ctx, base, base); n != 0 {
		t.Fatalf("purged %d tasks finished at the cutoff", n)
	}
	if accs, _ := s.BatchAccesses(ctx, f.tenant.ID, task.ID, keyhaven.Page{}); accs[0].BatchSecret != "sealed-password" {
		t.Fatal("password gone early")
	}
	if n, err := s.PurgeBatchPasswords(ctx, base.Add(time.Second), base.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("PurgeBatchPasswords = %d, %v", n, err)
	}
	accs, _ := s.BatchAccesses(ctx, f.tenant.ID, task.ID, keyhaven.Page{})
	if len(accs) != 1 || accs[0].BatchSecret != "" {
		t.Fatalf("after the purge: %+v", accs)
	}
	if got, _ := s.BatchTask(ctx, f.tenant.ID, task.ID); got.PurgedAt.IsZero() {
		t.Fatal("purge not recorded")
	}
}

// testBatchQueue counts the unfinished tasks of every tenant: acknowledged and in progress,
// not those that ended, whichever way.
func testBatchQueue(t *testing.T, s keyhaven.Store) {
	want := func(n int) {
		t.Helper()
		if got, err := s.UnfinishedBatchTasks(ctx); err != nil || got != n {
			t.Fatalf("UnfinishedBatchTasks = %d, %v; want %d", got, err, n)
		}
	}
	want(0)
	f, g := newTenant(t, s), newTenant(t, s)
	cf, cg := newContract(t, s, f), newContract(t, s, g)
	done, rejected, waiting := newTask(f, cf, 1), newTask(f, cf, 1), newTask(g, cg, 1)
	refused := newTask(g, cg, 1)
	refused.State, refused.Reason, refused.FinishedAt = keyhaven.BatchRejected, "contract suspended", base
	for _, task := range []*keyhaven.BatchTask{done, rejected, waiting, refused} {
		if err := s.CreateBatchTask(ctx, task, nil); err != nil {
			t.Fatal(err)
		}
	}
	want(3)
	claim := func(id string) *keyhaven.BatchTask {
		t.Helper()
		// Tasks take turns: another's claim is let go, and that task goes to the back.
		for range 8 {
			got, err := s.ClaimBatchTask(ctx, "r-"+id, base, base.Add(time.Hour))
			if err != nil {
				t.Fatalf("claim %s: %v", id, err)
			}
			if got.ID == id {
				return got
			}
			if err := s.ReleaseBatchTask(ctx, got.ID, "r-"+id); err != nil {
				t.Fatal(err)
			}
		}
		t.Fatalf("task %s never had its turn", id)
		return nil
	}
	claim(done.ID)
	want(3) // in progress is unfinished
	ch := &keyhaven.BatchChunk{TaskID: done.ID, TenantID: f.tenant.ID, Owner: "r-" + done.ID, Processed: 1, Done: true,
		LeaseUntil: base.Add(time.Hour), Now: base, Accesses: []*keyhaven.Access{newAccess(f, cf, "queued-0", done.ID, 0)}}
	if _, err := s.SaveBatchChunk(ctx, ch); err != nil {
		t.Fatal(err)
	}
	want(2)
	r := claim(rejected.ID)
	r.State, r.Reason, r.FinishedAt = keyhaven.BatchRejected, "contract suspended", base
	if err := s.FinishBatchTask(ctx, r, "r-"+rejected.ID, nil); err != nil {
		t.Fatal(err)
	}
	want(1)
}

// testBatchAccessPages pages through a task's accesses: ordered by index whatever their ids,
// skipping the index of an item that failed, each page after the index of the previous
// page's last access, and only the tenant's task.
func testBatchAccessPages(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	c := newContract(t, s, f)
	task, other := newTask(f, c, 8), newTask(f, c, 1)
	for _, tk := range []*keyhaven.BatchTask{task, other} {
		if err := s.CreateBatchTask(ctx, tk, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimBatchTask(ctx, "r", base, base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateAccess(ctx, newAccess(f, c, "page-3", f.admin.ID, 0), nil); err != nil {
		t.Fatal(err)
	}
	// Ids are made in the reverse of the items' order: the order is the index's, not the id's.
	ch := &keyhaven.BatchChunk{TaskID: task.ID, TenantID: f.tenant.ID, Owner: "r", Processed: 8, Done: true,
		LeaseUntil: base.Add(time.Hour), Now: base}
	ch.Accesses = make([]*keyhaven.Access, 8)
	for i := 7; i >= 0; i-- {
		ch.Accesses[i] = newAccess(f, c, fmt.Sprintf("page-%d", i), task.ID, i)
	}
	if n, err := s.SaveBatchChunk(ctx, ch); err != nil || n != 7 {
		t.Fatalf("SaveBatchChunk = %d, %v; want 7 created (page-3 is taken)", n, err)
	}
	ch = &keyhaven.BatchChunk{TaskID: other.ID, TenantID: f.tenant.ID, Owner: "r", Processed: 1, Done: true,
		LeaseUntil: base.Add(time.Hour), Now: base, Accesses: []*keyhaven.Access{newAccess(f, c, "other-0", other.ID, 0)}}
	if _, err := s.SaveBatchChunk(ctx, ch); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		page  keyhaven.Page
		want  []int
		code  string
		other bool
	}{
		{name: "first page", page: keyhaven.Page{Limit: 3}, want: []int{0, 1, 2}},
		{name: "after index 2", page: keyhaven.Page{Limit: 3, After: "2"}, want: []int{4, 5, 6}},
		{name: "after the failed index", page: keyhaven.Page{Limit: 2, After: "3"}, want: []int{4, 5}},
		{name: "last page", page: keyhaven.Page{Limit: 3, After: "6"}, want: []int{7}},
		{name: "past the end", page: keyhaven.Page{Limit: 3, After: "7"}, want: []int{}},
		{name: "no limit is the default", page: keyhaven.Page{}, want: []int{0, 1, 2, 4, 5, 6, 7}},
		{name: "not an index", page: keyhaven.Page{After: "acc_06bq5xk2hz1f8m3v9c4r7t0w"}, code: keyhaven.EINVALID},
		{name: "negative index", page: keyhaven.Page{After: "-1"}, code: keyhaven.EINVALID},
		{name: "another tenant", page: keyhaven.Page{}, want: []int{}, other: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tenant := f.tenant.ID
			if tc.other {
				tenant = g.tenant.ID
			}
			got, err := s.BatchAccesses(ctx, tenant, task.ID, tc.page)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			idx := []int{}
			for _, a := range got {
				if a.CreatedBy != task.ID || a.Username != fmt.Sprintf("page-%d", a.BatchSeq) {
					t.Fatalf("access %s (index %d) of %s in the page", a.Username, a.BatchSeq, a.CreatedBy)
				}
				idx = append(idx, a.BatchSeq)
			}
			if fmt.Sprint(idx) != fmt.Sprint(tc.want) {
				t.Fatalf("indexes %v, want %v", idx, tc.want)
			}
		})
	}
}

// testBatchTaskCursors lists a tenant's tasks newest first, each page after the id of the
// previous page's last task, and never another tenant's, whatever the cursor names.
func testBatchTaskCursors(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	c, gc := newContract(t, s, f), newContract(t, s, g)
	var ids []string // oldest first
	for i := range 5 {
		task := newTask(f, c, i+1)
		if err := s.CreateBatchTask(ctx, task, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
		if err := s.CreateBatchTask(ctx, newTask(g, gc, 1), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		tenant string
		page   keyhaven.Page
		want   []string
	}{
		{"newest first", f.tenant.ID, keyhaven.Page{Limit: 2}, []string{ids[4], ids[3]}},
		{"after a task", f.tenant.ID, keyhaven.Page{Limit: 2, After: ids[3]}, []string{ids[2], ids[1]}},
		{"last page", f.tenant.ID, keyhaven.Page{Limit: 2, After: ids[1]}, []string{ids[0]}},
		{"past the end", f.tenant.ID, keyhaven.Page{Limit: 2, After: ids[0]}, nil},
		{"no limit is the default", f.tenant.ID, keyhaven.Page{}, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"another tenant's task as the cursor", g.tenant.ID, keyhaven.Page{Limit: 10, After: ids[0]}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListBatchTasks(ctx, tc.tenant, tc.page)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, task := range got {
				if task.TenantID != tc.tenant {
					t.Fatalf("task %s of tenant %s listed for %s", task.ID, task.TenantID, tc.tenant)
				}
				gotIDs = append(gotIDs, task.ID)
			}
			if fmt.Sprint(gotIDs) != fmt.Sprint(tc.want) {
				t.Fatalf("tasks %v, want %v", gotIDs, tc.want)
			}
		})
	}
	if got, err := s.ListBatchTasks(ctx, g.tenant.ID, keyhaven.Page{}); err != nil || len(got) != 5 {
		t.Fatalf("the other tenant's tasks: %d, %v; want its 5", len(got), err)
	}
	if got, _ := s.ListBatchTasks(ctx, f.tenant.ID, keyhaven.Page{Limit: 1}); len(got) != 1 || got[0].Requested != 5 || got[0].ContractID != c.ID {
		t.Fatalf("the newest task read back as %+v", got)
	}
}

func testIdempotencyKeys(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	rec := func() *keyhaven.IdempotencyRecord {
		return &keyhaven.IdempotencyRecord{TenantID: f.tenant.ID, CredentialID: f.key.ID, Key: "k", RequestHash: "h1",
			Permissions: keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.ACCESS_MANAGEMENT), CreatedAt: base}
	}
	fresh := race(t, 10, keyhaven.ECONFLICT, func(int) error {
		_, ok, err := s.PutIdempotencyKey(ctx, rec())
		if err == nil && !ok {
			return keyhaven.Errorf(keyhaven.ECONFLICT, "stored already")
		}
		return err
	})
	if fresh != 1 {
		t.Fatalf("%d of 10 racing PutIdempotencyKey calls stored the key, want 1", fresh)
	}
	got, ok, err := s.PutIdempotencyKey(ctx, rec())
	if err != nil || ok || got.Status != 0 || got.RequestHash != "h1" || got.Permissions != rec().Permissions {
		t.Fatalf("PutIdempotencyKey again = %+v, %v, %v", got, ok, err)
	}
	r := rec()
	r.Status, r.Response = 201, "sealed"
	if err := s.CompleteIdempotencyKey(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.PutIdempotencyKey(ctx, rec())
	if got.Status != 201 || got.Response != "sealed" {
		t.Fatalf("completed record %+v", got)
	}
	if n, err := s.DeleteIdempotencyKeys(ctx, base.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("DeleteIdempotencyKeys = %d, %v", n, err)
	}
	if _, ok, _ := s.PutIdempotencyKey(ctx, rec()); !ok {
		t.Fatal("an expired key still blocks")
	}
	// The same key of another credential of the same owner is another record.
	other := rec()
	other.CredentialID = keyhaven.NewID("key")
	if _, ok, err := s.PutIdempotencyKey(ctx, other); err != nil || !ok {
		t.Fatalf("the same key for another credential: stored %v, %v; want a new record", ok, err)
	}
	if err := s.DeleteIdempotencyKey(ctx, f.tenant.ID, f.key.ID, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.PutIdempotencyKey(ctx, rec()); !ok {
		t.Fatal("a deleted key still blocks")
	}
}
