package storetest

import (
	"fmt"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
)

func newApp(f fixture, name, createdBy string) *keyhaven.Application {
	return &keyhaven.Application{
		ID: keyhaven.NewID("app"), TenantID: f.tenant.ID, Name: name, CreatedBy: createdBy,
		Description: "for " + name, CreatedAt: base, UpdatedAt: base,
	}
}

func newAccessKey(app *keyhaven.Application, owner, name string, expires time.Time) (*keyhaven.Credential, string) {
	sec := secret.Generate(secret.AccessKey)
	return &keyhaven.Credential{
		ID: keyhaven.NewID("akey"), TenantID: app.TenantID, Kind: keyhaven.KindAccessKey, OwnerID: owner,
		Name: name, ApplicationID: app.ID, Hash: secret.Hash(sec), Display: secret.Display(sec),
		Permissions: keyhaven.NewPermissionSet(keyhaven.READ), Active: true, ExpiresAt: expires, CreatedAt: base,
	}, sec
}

func mustCreateApp(t *testing.T, s keyhaven.Store, f fixture, name, createdBy string) *keyhaven.Application {
	t.Helper()
	a := newApp(f, name, createdBy)
	if err := s.CreateApplication(ctx, a, nil); err != nil {
		t.Fatalf("CreateApplication %s: %v", name, err)
	}
	return a
}

func testApplicationCRUD(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	other := newUser(f.tenant, "other@example.com", keyhaven.AllPermissions)
	if err := s.CreateUser(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	a := mustCreateApp(t, s, f, "billing", f.admin.ID)
	b := mustCreateApp(t, s, f, "crm", other.ID)
	got, err := s.Application(ctx, f.tenant.ID, a.ID)
	if err != nil || got.Name != "billing" || got.Description != "for billing" || got.CreatedBy != f.admin.ID || !got.CreatedAt.Equal(base) {
		t.Fatalf("Application = %+v, %v", got, err)
	}
	_, err = s.Application(ctx, g.tenant.ID, a.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	wantCode(t, s.CreateApplication(ctx, newApp(f, "billing", f.admin.ID), nil), keyhaven.ECONFLICT)
	if err := s.CreateApplication(ctx, newApp(g, "billing", g.admin.ID), nil); err != nil {
		t.Fatalf("same name in another tenant: %v", err)
	}
	all, _ := s.ListApplications(ctx, f.tenant.ID, "", keyhaven.Page{})
	mine, _ := s.ListApplications(ctx, f.tenant.ID, other.ID, keyhaven.Page{})
	if len(all) != 2 || len(mine) != 1 || mine[0].ID != b.ID {
		t.Fatalf("ListApplications: all %d, created by other %v", len(all), mine)
	}
	a.Name, a.UpdatedAt = "billing-v2", base.Add(time.Minute)
	if _, err := s.UpdateApplication(ctx, a.TenantID, a.ID, to(a), nil); err != nil {
		t.Fatal(err)
	}
	b.Name = "billing-v2"
	_, err = s.UpdateApplication(ctx, b.TenantID, b.ID, to(b), nil)
	wantCode(t, err, keyhaven.ECONFLICT)

	k1, sec1 := newAccessKey(a, f.admin.ID, "k1", time.Time{})
	k2, _ := newAccessKey(a, other.ID, "k2", time.Time{})
	for _, k := range []*keyhaven.Credential{k1, k2} {
		if err := s.CreateAccessKey(ctx, k, base, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := revokeApp(s, f.tenant.ID, a.ID, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, revokeApp(s, f.tenant.ID, a.ID, base), keyhaven.ENOTFOUND)
	got, _ = s.Application(ctx, f.tenant.ID, a.ID)
	if got.Status() != keyhaven.ApplicationRevoked {
		t.Fatalf("revoked application has status %s", got.Status())
	}
	r, err := s.ResolveCredential(ctx, secret.Hash(sec1))
	if err != nil || r.Credential.RevokedAt.IsZero() {
		t.Fatalf("key of a revoked application not revoked: %+v, %v", r, err)
	}
	if keys, _ := s.ListAccessKeys(ctx, f.tenant.ID, a.ID, keyhaven.Page{}); len(keys) != 0 {
		t.Fatalf("revoked application lists %d keys", len(keys))
	}
	k3, _ := newAccessKey(a, f.admin.ID, "k3", time.Time{})
	wantCode(t, s.CreateAccessKey(ctx, k3, base, nil), keyhaven.ENOTFOUND)
	if all, _ := s.ListApplications(ctx, f.tenant.ID, "", keyhaven.Page{}); len(all) != 1 {
		t.Fatalf("ListApplications after revoke: %d, want 1", len(all))
	}
	// A revoked application's name is free again.
	mustCreateApp(t, s, f, "billing-v2", f.admin.ID)
}

func testAccessKeyCRUD(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	a := mustCreateApp(t, s, f, "app", f.admin.ID)
	b := mustCreateApp(t, s, f, "other", f.admin.ID)
	k, _ := newAccessKey(a, f.admin.ID, "deploy", base.Add(time.Hour))
	k.Description = "CI deploys"
	if err := s.CreateAccessKey(ctx, k, base, nil); err != nil {
		t.Fatal(err)
	}
	dup, _ := newAccessKey(a, f.admin.ID, "deploy", time.Time{})
	wantCode(t, s.CreateAccessKey(ctx, dup, base, nil), keyhaven.ECONFLICT)
	same, _ := newAccessKey(b, f.admin.ID, "deploy", time.Time{})
	if err := s.CreateAccessKey(ctx, same, base, nil); err != nil {
		t.Fatalf("same key name in another application: %v", err)
	}
	got, err := s.AccessKey(ctx, f.tenant.ID, a.ID, k.ID)
	if err != nil || got.Name != "deploy" || got.Description != "CI deploys" || got.ApplicationID != a.ID ||
		!got.ExpiresAt.Equal(base.Add(time.Hour)) || got.Permissions != k.Permissions {
		t.Fatalf("AccessKey = %+v, %v", got, err)
	}
	_, err = s.AccessKey(ctx, f.tenant.ID, b.ID, k.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	_, err = s.AccessKey(ctx, g.tenant.ID, a.ID, k.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	k.Name, k.Description = "deploy-2", ""
	if _, err := s.UpdateAccessKey(ctx, k.TenantID, k.ApplicationID, k.ID, to(k), nil); err != nil {
		t.Fatal(err)
	}
	got, _ = s.AccessKey(ctx, f.tenant.ID, a.ID, k.ID)
	if got.Name != "deploy-2" || got.Description != "" {
		t.Fatalf("after update: %+v", got)
	}
	if err := revokeKey(s, f.tenant.ID, a.ID, k.ID, base); err != nil {
		t.Fatal(err)
	}
	wantCode(t, revokeKey(s, f.tenant.ID, a.ID, k.ID, base), keyhaven.ENOTFOUND)
	_, err = s.UpdateAccessKey(ctx, f.tenant.ID, b.ID, k.ID, to(k), nil)
	wantCode(t, err, keyhaven.ENOTFOUND)
	if keys, _ := s.ListAccessKeys(ctx, f.tenant.ID, a.ID, keyhaven.Page{}); len(keys) != 0 {
		t.Fatalf("revoked key listed: %d keys", len(keys))
	}
	// A revoked key's name is free again.
	again, _ := newAccessKey(a, f.admin.ID, "deploy-2", time.Time{})
	if err := s.CreateAccessKey(ctx, again, base, nil); err != nil {
		t.Fatalf("name of a revoked key: %v", err)
	}
}

func testApplicationLimitRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	ok := race(t, 50, keyhaven.ECONFLICT, func(i int) error {
		return s.CreateApplication(ctx, newApp(f, fmt.Sprintf("app-%d", i), f.admin.ID), nil)
	})
	if ok != keyhaven.DefaultLimit {
		t.Fatalf("%d of 50 racing CreateApplication calls succeeded, want %d", ok, keyhaven.DefaultLimit)
	}
	apps, _ := s.ListApplications(ctx, f.tenant.ID, "", keyhaven.Page{Limit: 100})
	if len(apps) != keyhaven.DefaultLimit {
		t.Fatalf("%d active applications, want %d", len(apps), keyhaven.DefaultLimit)
	}
	// Revoked applications do not count.
	if err := revokeApp(s, f.tenant.ID, apps[0].ID, base); err != nil {
		t.Fatal(err)
	}
	mustCreateApp(t, s, f, "after-revoke", f.admin.ID)
	wantCode(t, s.CreateApplication(ctx, newApp(f, "one-too-many", f.admin.ID), nil), keyhaven.ECONFLICT)
	// The limit is the tenant's setting.
	if err := s.SetTenantLimits(ctx, f.tenant.ID, keyhaven.Limits{Applications: 11, AccessKeysPerApplication: 2}, nil); err != nil {
		t.Fatal(err)
	}
	mustCreateApp(t, s, f, "eleventh", f.admin.ID)
	got, _ := s.TenantByName(ctx, f.tenant.Name)
	if got.Limits != (keyhaven.Limits{Applications: 11, AccessKeysPerApplication: 2}) {
		t.Fatalf("limits %+v", got.Limits)
	}
}

func testAccessKeyLimitRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	a := mustCreateApp(t, s, f, "app", f.admin.ID)
	// An expired key does not count.
	expired, _ := newAccessKey(a, f.admin.ID, "expired", base.Add(-time.Second))
	if err := s.CreateAccessKey(ctx, expired, base, nil); err != nil {
		t.Fatal(err)
	}
	ok := race(t, 50, keyhaven.ECONFLICT, func(i int) error {
		k, _ := newAccessKey(a, f.admin.ID, fmt.Sprintf("k%d", i), time.Time{})
		return s.CreateAccessKey(ctx, k, base, nil)
	})
	if ok != keyhaven.DefaultLimit {
		t.Fatalf("%d of 50 racing CreateAccessKey calls succeeded, want %d", ok, keyhaven.DefaultLimit)
	}
	keys, _ := s.ListAccessKeys(ctx, f.tenant.ID, a.ID, keyhaven.Page{Limit: 100})
	if len(keys) != keyhaven.DefaultLimit+1 {
		t.Fatalf("%d keys listed, want %d active and the expired one", len(keys), keyhaven.DefaultLimit)
	}
	// Revoked keys do not count.
	if err := revokeKey(s, f.tenant.ID, a.ID, keys[len(keys)-1].ID, base); err != nil {
		t.Fatal(err)
	}
	k, _ := newAccessKey(a, f.admin.ID, "after-revoke", time.Time{})
	if err := s.CreateAccessKey(ctx, k, base, nil); err != nil {
		t.Fatalf("after a revoke: %v", err)
	}
	// Keys that expire later count until they do.
	extra, _ := newAccessKey(a, f.admin.ID, "extra", time.Time{})
	wantCode(t, s.CreateAccessKey(ctx, extra, base, nil), keyhaven.ECONFLICT)
}

func testDeleteUserRevokesWhatItOwns(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	u := newUser(f.tenant, "leaver@example.com", keyhaven.AllPermissions)
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	mine := mustCreateApp(t, s, f, "leavers-app", u.ID)
	theirs := mustCreateApp(t, s, f, "admins-app", f.admin.ID)
	inMine, _ := newAccessKey(mine, f.admin.ID, "admin-key-in-leavers-app", time.Time{})
	ownInTheirs, _ := newAccessKey(theirs, u.ID, "leavers-key", time.Time{})
	adminsOwn, adminSecret := newAccessKey(theirs, f.admin.ID, "admins-key", time.Time{})
	for _, k := range []*keyhaven.Credential{inMine, ownInTheirs, adminsOwn} {
		if err := s.CreateAccessKey(ctx, k, base, nil); err != nil {
			t.Fatal(err)
		}
	}
	sess, sessSecret := newCredential(f.tenant.ID, u.ID, keyhaven.KindSession, "", keyhaven.AllPermissions)
	if err := s.CreateCredential(ctx, sess, nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountOwnedCredentials(ctx, f.tenant.ID, u.ID, base); n != 3 {
		t.Fatalf("CountOwnedCredentials = %d, want 3 (session, own key, key in own application)", n)
	}
	if err := s.DeleteUser(ctx, f.tenant.ID, u.ID, allow[keyhaven.User], base, nil); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Application(ctx, f.tenant.ID, mine.ID); a.Status() != keyhaven.ApplicationRevoked {
		t.Fatal("the deleted user's application is still active")
	}
	for _, k := range []*keyhaven.Credential{inMine, ownInTheirs} {
		if got, _ := s.AccessKey(ctx, f.tenant.ID, k.ApplicationID, k.ID); got.RevokedAt.IsZero() {
			t.Fatalf("key %s survived its owner's or application's deletion", k.Name)
		}
	}
	if got, _ := s.AccessKey(ctx, f.tenant.ID, theirs.ID, adminsOwn.ID); !got.RevokedAt.IsZero() {
		t.Fatal("another user's key in another application was revoked")
	}
	if _, err := s.ResolveCredential(ctx, secret.Hash(sessSecret)); keyhaven.ErrorCode(err) != keyhaven.ENOTFOUND {
		t.Fatalf("the deleted user's session survived: %v", err)
	}
	if _, err := s.ResolveCredential(ctx, secret.Hash(adminSecret)); err != nil {
		t.Fatal(err)
	}
}
