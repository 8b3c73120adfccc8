package storetest

import (
	"errors"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// holdWindow is how long a test gives a second change of a held row to get in, which it
// must not: a store that does not hold the row lets it in at once.
//
// It is a window in which something must not happen, not a wait for a background loop: the
// second change blocks inside the database (a row lock on PostgreSQL, the write lock on
// SQLite), which no injected clock times and which signals nothing a test could poll for, so
// the test watches, for a while, for the change that must not come. A store that holds the row
// passes whatever the window; one that does not fails unless its second change takes longer
// than the window to get in.
const holdWindow = 50 * time.Millisecond

// serialized checks that a state change holds its row until it commits. While first's
// change runs, a second change of the same row starts: it must not run until first has
// committed, and must then see first's write (sawFirst). It returns second's error.
func serialized[T any](t *testing.T, update func(change func(*T) error) error, first, second func(*T) error, sawFirst func(*T) bool) error {
	t.Helper()
	entered := make(chan bool, 1)
	done := make(chan error, 1)
	err := update(func(held *T) error {
		go func() {
			done <- update(func(held *T) error {
				entered <- sawFirst(held)
				return second(held)
			})
		}()
		select {
		case <-entered:
			t.Error("a second change of the row ran while the first held it")
		case <-time.After(holdWindow):
		}
		return first(held)
	})
	if err != nil {
		t.Fatalf("first change: %v", err)
	}
	err = <-done
	select {
	case saw := <-entered:
		if !saw {
			t.Error("the second change did not see the first one's write")
		}
	default:
	}
	return err
}

// errFinal is what the domain answers for a change of something in a final state.
var errFinal = keyhaven.Reasonf(keyhaven.ECONFLICT, "final", "final")

// testAccessChangeRace: a password change that starts while a terminate holds the access
// sees TERMINATED, so "TERMINATED is final" holds.
func testAccessChangeRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	a := newAccess(f, newContract(t, s, f), "racing-device", f.admin.ID, 0)
	if err := s.CreateAccess(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	err := serialized(t, func(change func(*keyhaven.Access) error) error {
		_, err := s.UpdateAccess(ctx, f.tenant.ID, a.ID, change, nil)
		return err
	}, func(a *keyhaven.Access) error {
		a.Status = keyhaven.AccessTerminated
		return nil
	}, func(a *keyhaven.Access) error {
		if a.Status == keyhaven.AccessTerminated {
			return errFinal
		}
		a.PasswordHash = "$sha256$changed"
		return nil
	}, func(a *keyhaven.Access) bool { return a.Status == keyhaven.AccessTerminated })
	if !errors.Is(err, errFinal) {
		t.Errorf("password change after a terminate: %v, want the change's own error", err)
	}
	got, _ := s.Access(ctx, f.tenant.ID, a.ID)
	if got.Status != keyhaven.AccessTerminated || got.PasswordHash != a.PasswordHash {
		t.Errorf("access after the race: %s %s, want TERMINATED with its old password", got.Status, got.PasswordHash)
	}
}

// testContractChangeRace: a suspend that starts while a terminate holds the contract sees
// TERMINATED.
func testContractChangeRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	c := newContract(t, s, f)
	err := serialized(t, func(change func(*keyhaven.Contract) error) error {
		_, err := s.UpdateContract(ctx, f.tenant.ID, c.ID, change, nil)
		return err
	}, func(c *keyhaven.Contract) error {
		c.Status = keyhaven.ContractTerminated
		return nil
	}, func(c *keyhaven.Contract) error {
		if c.Status == keyhaven.ContractTerminated {
			return errFinal
		}
		c.Status = keyhaven.ContractSuspended
		return nil
	}, func(c *keyhaven.Contract) bool { return c.Status == keyhaven.ContractTerminated })
	if !errors.Is(err, errFinal) {
		t.Errorf("suspend after a terminate: %v", err)
	}
	if got, _ := s.Contract(ctx, f.tenant.ID, c.ID); got.Status != keyhaven.ContractTerminated {
		t.Errorf("contract after the race: %s, want TERMINATED", got.Status)
	}
}

// testApplicationChangeRace: a rename that starts while a revoke holds the application sees
// it revoked, and the revoke took the application's keys with it.
func testApplicationChangeRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	a := mustCreateApp(t, s, f, "racing-app", f.admin.ID)
	k, _ := newAccessKey(a, f.admin.ID, "k", time.Time{})
	if err := s.CreateAccessKey(ctx, k, base, nil); err != nil {
		t.Fatal(err)
	}
	err := serialized(t, func(change func(*keyhaven.Application) error) error {
		_, err := s.UpdateApplication(ctx, f.tenant.ID, a.ID, change, nil)
		return err
	}, func(a *keyhaven.Application) error {
		a.RevokedAt = base
		return nil
	}, func(a *keyhaven.Application) error {
		if !a.RevokedAt.IsZero() {
			return errFinal
		}
		a.Name = "renamed"
		return nil
	}, func(a *keyhaven.Application) bool { return !a.RevokedAt.IsZero() })
	if !errors.Is(err, errFinal) {
		t.Errorf("rename after a revoke: %v", err)
	}
	got, _ := s.Application(ctx, f.tenant.ID, a.ID)
	if got.RevokedAt.IsZero() || got.Name != "racing-app" {
		t.Errorf("application after the race: %+v", got)
	}
	if key, _ := s.AccessKey(ctx, f.tenant.ID, a.ID, k.ID); key.RevokedAt.IsZero() {
		t.Error("a revoked application's key is not revoked")
	}
}

// testAccessKeyChangeRace: a rename that starts while a revoke holds the key sees it revoked.
func testAccessKeyChangeRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	a := mustCreateApp(t, s, f, "app", f.admin.ID)
	k, _ := newAccessKey(a, f.admin.ID, "racing-key", time.Time{})
	if err := s.CreateAccessKey(ctx, k, base, nil); err != nil {
		t.Fatal(err)
	}
	err := serialized(t, func(change func(*keyhaven.Credential) error) error {
		_, err := s.UpdateAccessKey(ctx, f.tenant.ID, a.ID, k.ID, change, nil)
		return err
	}, func(c *keyhaven.Credential) error {
		c.RevokedAt = base
		return nil
	}, func(c *keyhaven.Credential) error {
		if !c.RevokedAt.IsZero() {
			return errFinal
		}
		c.Name = "renamed"
		return nil
	}, func(c *keyhaven.Credential) bool { return !c.RevokedAt.IsZero() })
	if !errors.Is(err, errFinal) {
		t.Errorf("rename after a revoke: %v", err)
	}
	if got, _ := s.AccessKey(ctx, f.tenant.ID, a.ID, k.ID); got.RevokedAt.IsZero() || got.Name != "racing-key" {
		t.Errorf("key after the race: %+v", got)
	}
}

// testAPIKeyChangeRace: an edit that starts while another narrows the key's permissions
// judges the narrowed key (the domain's "nobody raises a key beyond its owner" is judged on
// what is stored, not on what was read before).
func testAPIKeyChangeRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	c, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "RACING", keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.WRITE))
	if err := s.CreateCredential(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	readOnly := keyhaven.NewPermissionSet(keyhaven.READ)
	err := serialized(t, func(change func(*keyhaven.Credential) error) error {
		_, err := s.UpdateAPIKey(ctx, f.tenant.ID, "RACING", base, change, nil)
		return err
	}, func(c *keyhaven.Credential) error {
		c.Permissions = readOnly
		return nil
	}, func(c *keyhaven.Credential) error {
		if c.Permissions != readOnly {
			c.Active = false
		}
		return nil
	}, func(c *keyhaven.Credential) bool { return c.Permissions == readOnly })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.APIKeyByName(ctx, f.tenant.ID, "RACING", base); got.Permissions != readOnly || !got.Active {
		t.Errorf("key after the race: %v active %v", got.Permissions, got.Active)
	}
}

// testUserChangeRace: a change that starts while a demotion holds the user judges the
// demoted user.
func testUserChangeRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	u := newUser(f.tenant, "racer@example.com", keyhaven.AllPermissions)
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	readOnly := keyhaven.NewPermissionSet(keyhaven.READ)
	err := serialized(t, func(change func(*keyhaven.User) error) error {
		_, err := s.UpdateUser(ctx, f.tenant.ID, u.ID, change, nil, nil)
		return err
	}, func(u *keyhaven.User) error {
		u.Permissions = readOnly
		return nil
	}, func(u *keyhaven.User) error {
		u.PasswordHash = "$argon2id$second"
		return nil
	}, func(u *keyhaven.User) bool { return u.Permissions == readOnly })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.User(ctx, f.tenant.ID, u.ID); got.Permissions != readOnly || got.PasswordHash != "$argon2id$second" {
		t.Errorf("user after the race: %v %s, want both changes", got.Permissions, got.PasswordHash)
	}
}

// testChangeRefused: a change function's error aborts the change: it is returned as is and
// nothing is written, nor audited.
func testChangeRefused(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	a := newAccess(f, newContract(t, s, f), "refused-device", f.admin.ID, 0)
	if err := s.CreateAccess(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	e := event(f, "access.update")
	_, err := s.UpdateAccess(ctx, f.tenant.ID, a.ID, func(held *keyhaven.Access) error {
		held.Status = keyhaven.AccessSuspended
		return errFinal
	}, e)
	if !errors.Is(err, errFinal) {
		t.Fatalf("refused change: %v, want the change's own error", err)
	}
	if got, _ := s.Access(ctx, f.tenant.ID, a.ID); got.Status != keyhaven.AccessActive {
		t.Errorf("a refused change was written: %s", got.Status)
	}
	if audited(t, s, f, e.ID) {
		t.Error("a refused change was audited as done")
	}
	_, err = s.UpdateAccess(ctx, f.tenant.ID, keyhaven.NewID("acc"), func(*keyhaven.Access) error {
		t.Error("change called for a missing access")
		return nil
	}, nil)
	wantCode(t, err, keyhaven.ENOTFOUND)
}

func event(f fixture, action string) *keyhaven.AuditEvent {
	return &keyhaven.AuditEvent{
		ID: keyhaven.NewID("evt"), TenantID: f.tenant.ID, At: base, ActorKind: "api_key", ActorID: f.key.ID,
		Action: action, TargetType: "test", Outcome: keyhaven.OutcomeSuccess,
	}
}

func audited(t *testing.T, s keyhaven.Store, f fixture, id string) bool {
	t.Helper()
	events, err := s.ListAudit(ctx, f.tenant.ID, keyhaven.AuditFilter{Page: keyhaven.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.ID == id {
			return true
		}
	}
	return false
}

// testChangeWithItsRecord: every change commits with its audit event or not at all. Each case
// first runs with an event whose id is taken (so that appending it fails): nothing may have
// changed. It then runs with a fresh event: the change and the event are both there.
func testChangeWithItsRecord(t *testing.T, s keyhaven.Store) {
	type change struct {
		name    string
		do      func(f fixture, e *keyhaven.AuditEvent) error
		changed func(t *testing.T, f fixture) bool
		setup   func(t *testing.T, f fixture)
	}
	contract := func(t *testing.T, f fixture) { newContract(t, s, f) }
	cases := []change{
		{"CreateUser", func(f fixture, e *keyhaven.AuditEvent) error {
			return s.CreateUser(ctx, newUser(f.tenant, "recorded@example.com", 0), e)
		}, func(t *testing.T, f fixture) bool {
			_, err := s.UserByEmail(ctx, f.tenant.ID, "recorded@example.com")
			return err == nil
		}, nil},
		{"UpdateUser", func(f fixture, e *keyhaven.AuditEvent) error {
			_, err := s.UpdateUser(ctx, f.tenant.ID, f.admin.ID, func(u *keyhaven.User) error {
				u.PasswordHash = "$argon2id$recorded"
				return nil
			}, &keyhaven.EndSessions{}, e)
			return err
		}, func(t *testing.T, f fixture) bool {
			u, _ := s.User(ctx, f.tenant.ID, f.admin.ID)
			return u.PasswordHash == "$argon2id$recorded"
		}, nil},
		{"DeleteUser", func(f fixture, e *keyhaven.AuditEvent) error {
			return s.DeleteUser(ctx, f.tenant.ID, f.admin.ID, allow[keyhaven.User], base, e)
		}, func(t *testing.T, f fixture) bool {
			_, err := s.User(ctx, f.tenant.ID, f.admin.ID)
			return err != nil
		}, nil},
		{"CreateCredential", func(f fixture, e *keyhaven.AuditEvent) error {
			c, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "RECORDED", 0)
			return s.CreateCredential(ctx, c, e)
		}, func(t *testing.T, f fixture) bool {
			_, err := s.APIKeyByName(ctx, f.tenant.ID, "RECORDED", base)
			return err == nil
		}, nil},
		{"DeleteCredential", func(f fixture, e *keyhaven.AuditEvent) error {
			return s.DeleteCredential(ctx, f.tenant.ID, f.key.ID, e)
		}, func(t *testing.T, f fixture) bool {
			_, err := s.APIKeyByName(ctx, f.tenant.ID, f.key.Name, base)
			return err != nil
		}, nil},
		{"UpdateAPIKey", func(f fixture, e *keyhaven.AuditEvent) error {
			_, err := s.UpdateAPIKey(ctx, f.tenant.ID, f.key.Name, base, func(c *keyhaven.Credential) error {
				c.Active = false
				return nil
			}, e)
			return err
		}, func(t *testing.T, f fixture) bool {
			c, _ := s.APIKeyByName(ctx, f.tenant.ID, f.key.Name, base)
			return !c.Active
		}, nil},
		{"SetTenantLimits", func(f fixture, e *keyhaven.AuditEvent) error {
			return s.SetTenantLimits(ctx, f.tenant.ID, keyhaven.Limits{Applications: 7, AccessKeysPerApplication: 7, APIKeys: 7}, e)
		}, func(t *testing.T, f fixture) bool {
			tn, _ := s.TenantByName(ctx, f.tenant.Name)
			return tn.Limits.Applications == 7
		}, nil},
		{"CreateApplication", func(f fixture, e *keyhaven.AuditEvent) error {
			return s.CreateApplication(ctx, newApp(f, "recorded", f.admin.ID), e)
		}, func(t *testing.T, f fixture) bool {
			apps, _ := s.ListApplications(ctx, f.tenant.ID, "", keyhaven.Page{})
			return len(apps) == 1
		}, nil},
		{"CreateContract", func(f fixture, e *keyhaven.AuditEvent) error {
			return s.CreateContract(ctx, &keyhaven.Contract{ID: "recorded-contract", TenantID: f.tenant.ID, ProductOfferingID: "gold",
				StartDate: base, EndDate: base.Add(time.Hour), Status: keyhaven.ContractActive, CreatedAt: base, UpdatedAt: base}, e)
		}, func(t *testing.T, f fixture) bool {
			_, err := s.Contract(ctx, f.tenant.ID, "recorded-contract")
			return err == nil
		}, contract},
		{"CreateAccess", func(f fixture, e *keyhaven.AuditEvent) error {
			return s.CreateAccess(ctx, newAccess(f, &keyhaven.Contract{ID: "contract-001", ProductOfferingID: "gold"}, "recorded", f.admin.ID, 0), e)
		}, func(t *testing.T, f fixture) bool {
			_, err := s.AccessByUsername(ctx, f.tenant.ID, "recorded")
			return err == nil
		}, contract},
		{"UpdateContract", func(f fixture, e *keyhaven.AuditEvent) error {
			_, err := s.UpdateContract(ctx, f.tenant.ID, "contract-001", func(c *keyhaven.Contract) error {
				c.Status = keyhaven.ContractTerminated
				return nil
			}, e)
			return err
		}, func(t *testing.T, f fixture) bool {
			c, _ := s.Contract(ctx, f.tenant.ID, "contract-001")
			return c.Status == keyhaven.ContractTerminated
		}, contract},
		{"CreateBatchTask", func(f fixture, e *keyhaven.AuditEvent) error {
			task := newTask(f, &keyhaven.Contract{ID: "contract-001"}, 1)
			task.ID = "job-recorded"
			return s.CreateBatchTask(ctx, task, e)
		}, func(t *testing.T, f fixture) bool {
			_, err := s.BatchTask(ctx, f.tenant.ID, "job-recorded")
			return err == nil
		}, contract},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newTenant(t, s)
			if c.setup != nil {
				c.setup(t, f)
			}
			taken := event(f, "taken")
			if err := s.AppendAudit(ctx, taken); err != nil {
				t.Fatal(err)
			}
			clash := event(f, "test."+c.name)
			clash.ID = taken.ID
			if err := c.do(f, clash); err == nil {
				t.Fatal("the change succeeded though its audit event could not be stored")
			}
			if c.changed(t, f) {
				t.Fatal("the change was stored without its audit event")
			}
			e := event(f, "test."+c.name)
			if err := c.do(f, e); err != nil {
				t.Fatal(err)
			}
			if !c.changed(t, f) {
				t.Fatal("the change was not stored")
			}
			if !audited(t, s, f, e.ID) {
				t.Fatal("the change was stored without its audit event")
			}
		})
	}
}
