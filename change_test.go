package keyhaven_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// racing stages a second request in the middle of a first one: during runs once, either
// right after the first request reads an access (Access) or while the store holds the access
// for the first request's write (inside UpdateAccess's change).
type racing struct {
	keyhaven.Store
	afterRead, whileHeld func()
}

func (r *racing) Access(ctx context.Context, tenantID, id string) (*keyhaven.Access, error) {
	a, err := r.Store.Access(ctx, tenantID, id)
	if d := r.afterRead; d != nil {
		r.afterRead = nil
		d()
	}
	return a, err
}

func (r *racing) UpdateAccess(ctx context.Context, tenantID, id string, change func(*keyhaven.Access) error, e *keyhaven.AuditEvent) (*keyhaven.Access, error) {
	return r.Store.UpdateAccess(ctx, tenantID, id, func(a *keyhaven.Access) error {
		if d := r.whileHeld; d != nil {
			r.whileHeld = nil
			d()
		}
		return change(a)
	}, e)
}

type raceFixture struct {
	a, b   *keyhaven.Service
	store  *racing
	p      *keyhaven.Principal
	access *keyhaven.Access
}

func newRaceFixture(t *testing.T, db keyhaven.Store) *raceFixture {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	params := secret.Argon2Params{Memory: 1024, Time: 1, Threads: 1}
	a := keyhaven.NewService(db, log)
	a.PasswordParams = params
	created, err := a.CreateTenant(ctx, "acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Authenticate(ctx, keyhaven.Use{Secret: created.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateProductOffering(ctx, p, keyhaven.ProductOfferingInput{ID: "plain", Name: "Plain"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := a.CreateContract(ctx, p, keyhaven.ContractInput{ID: "contract-001", ProductOfferingID: "plain",
		StartDate: now.Add(-time.Hour), EndDate: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	acc, _, err := a.CreateAccess(ctx, p, "contract-001", keyhaven.AccessInput{})
	if err != nil {
		t.Fatal(err)
	}
	r := &racing{Store: db}
	b := keyhaven.NewService(r, log)
	b.PasswordParams = params
	return &raceFixture{a: a, b: b, store: r, p: p, access: acc}
}

// TestTerminatedAccessStaysTerminated: a terminate that commits in the middle of a password
// change is never undone. Committed after the change's first read, it makes the change fail
// (TERMINATED is final); started while the change holds the access, it waits and then
// terminates the changed access.
func TestTerminatedAccessStaysTerminated(t *testing.T) {
	ctx := context.Background()
	terminated := keyhaven.AccessTerminated
	pw := "a-new-password-long-enough"
	for name, open := range testdb.Engines() {
		t.Run(name+"/after-read", func(t *testing.T) {
			f := newRaceFixture(t, open(t))
			f.store.afterRead = func() {
				if _, err := f.a.UpdateAccess(ctx, f.p, f.access.ID, keyhaven.AccessUpdate{Status: &terminated}); err != nil {
					t.Fatalf("terminate: %v", err)
				}
			}
			_, err := f.b.UpdateAccess(ctx, f.p, f.access.ID, keyhaven.AccessUpdate{Password: &pw})
			if keyhaven.ErrorReason(err) != "access_terminated" {
				t.Errorf("password change of an access terminated meanwhile: %v, want access_terminated", err)
			}
			if got, _ := f.a.Access(ctx, f.p, f.access.ID); got.Status != keyhaven.AccessTerminated {
				t.Errorf("status after a terminate that committed mid-way through a password change: %s, want TERMINATED", got.Status)
			}
		})
		t.Run(name+"/while-held", func(t *testing.T) {
			f := newRaceFixture(t, open(t))
			done := make(chan error, 1)
			f.store.whileHeld = func() {
				go func() {
					_, err := f.a.UpdateAccess(ctx, f.p, f.access.ID, keyhaven.AccessUpdate{Status: &terminated})
					done <- err
				}()
			}
			if _, err := f.b.UpdateAccess(ctx, f.p, f.access.ID, keyhaven.AccessUpdate{Password: &pw}); err != nil {
				t.Fatalf("password change: %v", err)
			}
			if err := <-done; err != nil {
				t.Fatalf("terminate: %v", err)
			}
			if got, _ := f.a.Access(ctx, f.p, f.access.ID); got.Status != keyhaven.AccessTerminated {
				t.Errorf("status after a terminate that waited for a password change: %s, want TERMINATED", got.Status)
			}
		})
	}
}

// TestChangeNeedsItsRecord: a change whose audit record cannot be written does not happen.
// The audit log is made unwritable underneath the service; every kind of change then fails
// and leaves its target as it was.
func TestChangeNeedsItsRecord(t *testing.T) {
	ctx := context.Background()
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			f := newRaceFixture(t, db)
			if _, err := db.SQL().ExecContext(ctx, `ALTER TABLE audit_events RENAME TO audit_events_gone`); err != nil {
				t.Fatal(err)
			}
			suspended := keyhaven.AccessSuspended
			if _, err := f.a.UpdateAccess(ctx, f.p, f.access.ID, keyhaven.AccessUpdate{Status: &suspended}); err == nil {
				t.Error("an access changed without its audit record")
			}
			if _, _, err := f.a.CreateUser(ctx, f.p, keyhaven.CreateUserInput{Email: "unrecorded@acme.test"}); err == nil {
				t.Error("a user was created without its audit record")
			}
			if _, err := db.SQL().ExecContext(ctx, `ALTER TABLE audit_events_gone RENAME TO audit_events`); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.a.Access(ctx, f.p, f.access.ID); got.Status != keyhaven.AccessActive {
				t.Errorf("access status %s after a change that could not be recorded, want ACTIVE", got.Status)
			}
			if users, _ := f.a.ListUsers(ctx, f.p, keyhaven.Page{}); len(users) != 1 {
				t.Errorf("%d users after a creation that could not be recorded, want 1", len(users))
			}
		})
	}
}

// TestRefusalOfNonsenseIsRecorded: a refused change whose target id is text no database
// column holds (a NUL, invalid UTF-8) is still recorded, with the id made printable.
func TestRefusalOfNonsenseIsRecorded(t *testing.T) {
	ctx := context.Background()
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			f := newRaceFixture(t, open(t))
			suspended := keyhaven.AccessSuspended
			_, err := f.a.UpdateAccess(ctx, f.p, "acc_\x00\xc2", keyhaven.AccessUpdate{Status: &suspended})
			if keyhaven.ErrorCode(err) != keyhaven.ENOTFOUND {
				t.Fatalf("update of a nonsense id: %v", err)
			}
			events, err := f.a.ListAudit(ctx, f.p, keyhaven.AuditFilter{Action: "access.update"})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Outcome != keyhaven.OutcomeFailure || events[0].TargetID != "acc_\uFFFD\uFFFD" {
				t.Fatalf("audit of the refusal: %+v", events)
			}
		})
	}
}
