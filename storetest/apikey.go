package storetest

import (
	"testing"
	"time"

	"keyhaven"
	"keyhaven/secret"
)

func testAPIKeyCRUD(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	zeta, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "ZETA", keyhaven.NewPermissionSet(keyhaven.READ))
	alpha, alphaSecret := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "ALPHA", keyhaven.NewPermissionSet(keyhaven.WRITE))
	for _, c := range []*keyhaven.Credential{zeta, alpha} {
		if err := s.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	sess, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", 0)
	if err := s.CreateCredential(ctx, sess); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListAPIKeys(ctx, f.tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	if len(names) != 3 || names[0] != "ALPHA" || names[1] != "ZETA" || names[2] != "bootstrap" {
		t.Fatalf("ListAPIKeys names %v, want [ALPHA ZETA bootstrap] (no sessions, ordered)", names)
	}
	got, err := s.APIKeyByName(ctx, f.tenant.ID, "ALPHA")
	if err != nil || got.ID != alpha.ID {
		t.Fatalf("APIKeyByName = %v, %v", got, err)
	}
	_, err = s.APIKeyByName(ctx, g.tenant.ID, "ALPHA")
	wantCode(t, err, keyhaven.ENOTFOUND)

	alpha.Name, alpha.Active, alpha.Permissions = "BETA", false, keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.WRITE)
	alpha.ExpiresAt = base.Add(time.Hour)
	if err := s.UpdateAPIKey(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	r, err := s.ResolveCredential(ctx, secret.Hash(alphaSecret))
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Credential; c.Name != "BETA" || c.Active || c.Permissions != alpha.Permissions || !c.ExpiresAt.Equal(alpha.ExpiresAt) {
		t.Fatalf("after update: %+v", c)
	}
	if _, code := keyhaven.Judge(r, base); code != keyhaven.CodeDisabled {
		t.Fatalf("inactive key judged %s, want %s", code, keyhaven.CodeDisabled)
	}
	alpha.Name = "ZETA"
	wantCode(t, s.UpdateAPIKey(ctx, alpha), keyhaven.ECONFLICT)
	alpha.Name = "BETA"
	alpha.ExpiresAt = time.Time{}
	if err := s.UpdateAPIKey(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.APIKeyByName(ctx, f.tenant.ID, "BETA"); !got.ExpiresAt.IsZero() {
		t.Fatal("expiry not cleared")
	}
	other := *alpha
	other.TenantID = g.tenant.ID
	wantCode(t, s.UpdateAPIKey(ctx, &other), keyhaven.ENOTFOUND)

	// Deleting the owner deletes its API keys.
	u := newUser(f.tenant, "keyowner@example.com", keyhaven.AllPermissions)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	owned, _ := newCredential(f.tenant.ID, u.ID, keyhaven.KindAPIKey, "OWNED", 0)
	if err := s.CreateCredential(ctx, owned); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, f.tenant.ID, u.ID, base); err != nil {
		t.Fatal(err)
	}
	_, err = s.APIKeyByName(ctx, f.tenant.ID, "OWNED")
	wantCode(t, err, keyhaven.ENOTFOUND)
}
