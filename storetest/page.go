package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// pageThrough reads a list page by page, limit items at a time, each page continuing after
// the id of the previous page's last item, and returns the ids in the order read. It fails
// the test on a page longer than limit or a list that does not end.
func pageThrough[T any](t *testing.T, name string, limit int, id func(T) string, read func(keyhaven.Page) ([]T, error)) []string {
	t.Helper()
	var out []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s: pagination does not end", name)
		}
		items, err := read(keyhaven.Page{Limit: limit, After: after})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(items) > limit {
			t.Fatalf("%s: a page of %d, limit %d", name, len(items), limit)
		}
		if len(items) == 0 {
			return out
		}
		for _, it := range items {
			out = append(out, id(it))
		}
		after = id(items[len(items)-1])
	}
}

// wantPaged checks that pages held exactly want, each once, in the order of want.
func wantPaged(t *testing.T, name string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: pages held %d items %v, want %d %v", name, len(got), got, len(want), want)
	}
}

// testListPages reads every list the console pages through a few items at a time: each holds
// what the list does, in its order, once, and never another tenant's.
func testListPages(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	c := newContract(t, s, f)
	other := newContract(t, s, g)
	for i := range 3 {
		o := &keyhaven.ProductOffering{ID: fmt.Sprintf("offer-%d", i), TenantID: f.tenant.ID, Name: "Offer", CreatedAt: base}
		if err := s.CreateProductOffering(ctx, o, nil); err != nil {
			t.Fatal(err)
		}
		k := &keyhaven.Contract{ID: fmt.Sprintf("contract-1%02d", i), TenantID: f.tenant.ID, ProductOfferingID: o.ID,
			StartDate: base, EndDate: base.Add(time.Hour), Status: keyhaven.ContractSuspended, CreatedAt: base, UpdatedAt: base}
		if err := s.CreateContract(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	offerings := pageThrough(t, "ListProductOfferings", 2, func(o *keyhaven.ProductOffering) string { return o.ID },
		func(p keyhaven.Page) ([]*keyhaven.ProductOffering, error) {
			return s.ListProductOfferings(ctx, f.tenant.ID, p)
		})
	wantPaged(t, "ListProductOfferings", offerings, []string{"gold", "offer-0", "offer-1", "offer-2"})
	contracts := pageThrough(t, "ListContracts", 2, func(c *keyhaven.Contract) string { return c.ID },
		func(p keyhaven.Page) ([]*keyhaven.Contract, error) {
			return s.ListContracts(ctx, f.tenant.ID, keyhaven.ContractFilter{Page: p})
		})
	wantPaged(t, "ListContracts", contracts, []string{"contract-001", "contract-100", "contract-101", "contract-102"})
	suspended := pageThrough(t, "ListContracts by status", 2, func(c *keyhaven.Contract) string { return c.ID },
		func(p keyhaven.Page) ([]*keyhaven.Contract, error) {
			return s.ListContracts(ctx, f.tenant.ID, keyhaven.ContractFilter{Status: keyhaven.ContractSuspended, Page: p})
		})
	wantPaged(t, "ListContracts by status", suspended, []string{"contract-100", "contract-101", "contract-102"})

	var accesses, suspendedAccesses []string
	for i := range 7 {
		a := newAccess(f, c, fmt.Sprintf("pager-%d", i), f.admin.ID, 0)
		if i%2 == 1 {
			a.Status = keyhaven.AccessSuspended
			suspendedAccesses = append(suspendedAccesses, a.ID)
		}
		if err := s.CreateAccess(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		accesses = append(accesses, a.ID)
	}
	if err := s.CreateAccess(ctx, newAccess(g, other, "pager-other", g.admin.ID, 0), nil); err != nil {
		t.Fatal(err)
	}
	got := pageThrough(t, "ListAccesses", 3, func(a *keyhaven.Access) string { return a.ID },
		func(p keyhaven.Page) ([]*keyhaven.Access, error) {
			return s.ListAccesses(ctx, f.tenant.ID, keyhaven.AccessFilter{Page: p})
		})
	wantPaged(t, "ListAccesses", got, accesses)
	got = pageThrough(t, "ListAccesses by status", 2, func(a *keyhaven.Access) string { return a.ID },
		func(p keyhaven.Page) ([]*keyhaven.Access, error) {
			return s.ListAccesses(ctx, f.tenant.ID, keyhaven.AccessFilter{Status: keyhaven.AccessSuspended, Page: p})
		})
	wantPaged(t, "ListAccesses by status", got, suspendedAccesses)

	var apps []string
	for i := range 5 {
		apps = append(apps, mustCreateApp(t, s, f, fmt.Sprintf("pager-%d", i), f.admin.ID).ID)
	}
	mustCreateApp(t, s, g, "pager-other", g.admin.ID)
	got = pageThrough(t, "ListApplications", 2, func(a *keyhaven.Application) string { return a.ID },
		func(p keyhaven.Page) ([]*keyhaven.Application, error) {
			return s.ListApplications(ctx, f.tenant.ID, "", p)
		})
	wantPaged(t, "ListApplications", got, apps)
	app := &keyhaven.Application{ID: apps[0], TenantID: f.tenant.ID}
	var keys []string
	for i := range 5 {
		k, _ := newAccessKey(app, f.admin.ID, fmt.Sprintf("pager-%d", i), time.Time{})
		if err := s.CreateAccessKey(ctx, k, base, nil); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.ID)
	}
	got = pageThrough(t, "ListAccessKeys", 2, func(c *keyhaven.Credential) string { return c.ID },
		func(p keyhaven.Page) ([]*keyhaven.Credential, error) {
			return s.ListAccessKeys(ctx, f.tenant.ID, app.ID, p)
		})
	wantPaged(t, "ListAccessKeys", got, keys)

	var events []string
	for range 5 {
		e := &keyhaven.AuditEvent{ID: keyhaven.NewID("evt"), TenantID: f.tenant.ID, At: base, ActorKind: "system",
			Action: "pager.test", TargetType: "test", Outcome: keyhaven.OutcomeSuccess}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		events = append([]string{e.ID}, events...) // newest first
	}
	got = pageThrough(t, "ListAudit", 2, func(e *keyhaven.AuditEvent) string { return e.ID },
		func(p keyhaven.Page) ([]*keyhaven.AuditEvent, error) {
			return s.ListAudit(ctx, f.tenant.ID, keyhaven.AuditFilter{Action: "pager.test", Page: p})
		})
	wantPaged(t, "ListAudit", got, events)
}

// testBatchTaskPages lists a tenant's batch tasks a page at a time: newest first, each once,
// with their progress, and never another tenant's.
func testBatchTaskPages(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	c := newContract(t, s, f)
	var want []string
	for i := range 7 {
		task := newTask(f, c, 10+i)
		if err := s.CreateBatchTask(ctx, task, nil); err != nil {
			t.Fatal(err)
		}
		want = append([]string{task.ID}, want...)
	}
	if err := s.CreateBatchTask(ctx, newTask(g, newContract(t, s, g), 1), nil); err != nil {
		t.Fatal(err)
	}
	got := pageThrough(t, "ListBatchTasks", 3, func(t *keyhaven.BatchTask) string { return t.ID },
		func(p keyhaven.Page) ([]*keyhaven.BatchTask, error) { return s.ListBatchTasks(ctx, f.tenant.ID, p) })
	wantPaged(t, "ListBatchTasks", got, want)

	// A task's progress is listed as it stands.
	claimed, err := s.ClaimBatchTask(ctx, "r", base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ch := &keyhaven.BatchChunk{TaskID: claimed.ID, TenantID: claimed.TenantID, Owner: "r", Processed: 1, LeaseUntil: base.Add(time.Hour), Now: base,
		Accesses: []*keyhaven.Access{newAccess(f, c, "listed-0", claimed.ID, 0)}}
	if claimed.TenantID != f.tenant.ID {
		ch.Accesses = nil
	}
	if _, err := s.SaveBatchChunk(ctx, ch); err != nil {
		t.Fatal(err)
	}
	tasks, err := s.ListBatchTasks(ctx, claimed.TenantID, keyhaven.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(tasks, func(t *keyhaven.BatchTask) bool { return t.ID == claimed.ID })
	if i < 0 || tasks[i].State != keyhaven.BatchInProgress || tasks[i].Processed != 1 || tasks[i].Requested != claimed.Requested {
		t.Fatalf("the claimed task is listed as %+v", tasks[max(i, 0)])
	}
}

// testUserEmails resolves user ids to emails in one call: deleted users included, unknown ids
// and another tenant's users absent.
func testUserEmails(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	live := newUser(f.tenant, "live@example.com", 0)
	gone := newUser(f.tenant, "gone@example.com", 0)
	for _, u := range []*keyhaven.User{live, gone} {
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, f.tenant.ID, gone.ID, func(*keyhaven.User) error { return nil }, base, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserEmails(ctx, f.tenant.ID, []string{live.ID, gone.ID, f.admin.ID, g.admin.ID, "usr_unknown", live.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{live.ID: "live@example.com", gone.ID: "gone@example.com", f.admin.ID: f.admin.Email}
	if len(got) != len(want) {
		t.Fatalf("UserEmails = %v, want %v", got, want)
	}
	for id, email := range want {
		if got[id] != email {
			t.Fatalf("UserEmails = %v, want %v", got, want)
		}
	}
	if got, err := s.UserEmails(ctx, f.tenant.ID, nil); err != nil || len(got) != 0 {
		t.Fatalf("UserEmails of no ids = %v, %v; want none", got, err)
	}
}
