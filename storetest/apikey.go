package storetest

import (
	"fmt"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
)

func testAPIKeyCRUD(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	zeta, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "ZETA", keyhaven.NewPermissionSet(keyhaven.READ))
	alpha, alphaSecret := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "ALPHA", keyhaven.NewPermissionSet(keyhaven.WRITE))
	for _, c := range []*keyhaven.Credential{zeta, alpha} {
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	sess, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", 0)
	if err := s.CreateCredential(ctx, sess, nil); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListAPIKeys(ctx, f.tenant.ID, base)
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
	got, err := s.APIKeyByName(ctx, f.tenant.ID, "ALPHA", base)
	if err != nil || got.ID != alpha.ID {
		t.Fatalf("APIKeyByName = %v, %v", got, err)
	}
	_, err = s.APIKeyByName(ctx, g.tenant.ID, "ALPHA", base)
	wantCode(t, err, keyhaven.ENOTFOUND)

	alpha.Name, alpha.Active, alpha.Permissions = "BETA", false, keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.WRITE)
	alpha.ExpiresAt = base.Add(time.Hour)
	if err := putAPIKey(s, "ALPHA", alpha, base); err != nil {
		t.Fatal(err)
	}
	r, err := s.ResolveCredential(ctx, secret.Hash(alphaSecret))
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Credential; c.Name != "BETA" || c.Active || c.Permissions != alpha.Permissions || !c.ExpiresAt.Equal(alpha.ExpiresAt) {
		t.Fatalf("after update: %+v", c)
	}
	alpha.Name = "ZETA"
	wantCode(t, putAPIKey(s, "BETA", alpha, base), keyhaven.ECONFLICT)
	alpha.Name = "BETA"
	alpha.ExpiresAt = time.Time{}
	if err := putAPIKey(s, "BETA", alpha, base); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.APIKeyByName(ctx, f.tenant.ID, "BETA", base); !got.ExpiresAt.IsZero() {
		t.Fatal("expiry not cleared")
	}
	other := *alpha
	other.TenantID = g.tenant.ID
	wantCode(t, putAPIKey(s, "BETA", &other, base), keyhaven.ENOTFOUND)

	// Deleting the owner deletes its API keys.
	u := newUser(f.tenant, "keyowner@example.com", keyhaven.AllPermissions)
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	owned, _ := newCredential(f.tenant.ID, u.ID, keyhaven.KindAPIKey, "OWNED", 0)
	if err := s.CreateCredential(ctx, owned, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, f.tenant.ID, u.ID, allow[keyhaven.User], base, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.APIKeyByName(ctx, f.tenant.ID, "OWNED", base)
	wantCode(t, err, keyhaven.ENOTFOUND)
}

// testAPIKeyExpiredIsGone: an API key is gone the moment it expires, before garbage
// collection deletes its row: not found, not listed, not updatable (so it cannot be revived
// by clearing its expiry), and its name is free again.
func testAPIKeyExpiredIsGone(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	expiring, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "EXPIRING", keyhaven.NewPermissionSet(keyhaven.READ))
	expiring.ExpiresAt = base.Add(time.Hour)
	other, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "OTHER", keyhaven.NewPermissionSet(keyhaven.READ))
	for _, c := range []*keyhaven.Credential{expiring, other} {
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	before, at := base.Add(59*time.Minute), expiring.ExpiresAt
	if _, err := s.APIKeyByName(ctx, f.tenant.ID, "EXPIRING", before); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	_, err := s.APIKeyByName(ctx, f.tenant.ID, "EXPIRING", at)
	wantCode(t, err, keyhaven.ENOTFOUND)
	keys, err := s.ListAPIKeys(ctx, f.tenant.ID, at)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == "EXPIRING" {
			t.Fatal("an expired API key is listed")
		}
	}
	revived := *expiring
	revived.ExpiresAt = time.Time{}
	wantCode(t, putAPIKey(s, "EXPIRING", &revived, at), keyhaven.ENOTFOUND)

	// Its name is free: for a rename, then for a new key.
	other.Name = "EXPIRING"
	if err := putAPIKey(s, "OTHER", other, at); err != nil {
		t.Fatalf("rename onto an expired key's name: %v", err)
	}
	again, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "OTHER", 0)
	if err := s.CreateCredential(ctx, again, nil); err != nil {
		t.Fatalf("create with a live key's old name: %v", err)
	}
	expiring2, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "LATER", 0)
	expiring2.ExpiresAt = base.Add(time.Minute)
	if err := s.CreateCredential(ctx, expiring2, nil); err != nil {
		t.Fatal(err)
	}
	fresh, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "LATER", 0)
	fresh.CreatedAt = base.Add(time.Hour)
	if err := s.CreateCredential(ctx, fresh, nil); err != nil {
		t.Fatalf("create with an expired key's name: %v", err)
	}
	if got, err := s.APIKeyByName(ctx, f.tenant.ID, "LATER", fresh.CreatedAt); err != nil || got.ID != fresh.ID {
		t.Fatalf("APIKeyByName after reuse = %v, %v; want the new key", got, err)
	}
}

func testAPIKeyLimitRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	if got, _ := s.TenantByName(ctx, f.tenant.Name); got.Limits.APIKeys != keyhaven.DefaultAPIKeyLimit {
		t.Fatalf("API key limit %d, want the default %d", got.Limits.APIKeys, keyhaven.DefaultAPIKeyLimit)
	}
	const max = 10
	limits := keyhaven.Limits{Applications: keyhaven.DefaultLimit, AccessKeysPerApplication: keyhaven.DefaultLimit, APIKeys: max}
	if err := s.SetTenantLimits(ctx, f.tenant.ID, limits, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TenantByName(ctx, f.tenant.Name); got.Limits != limits {
		t.Fatalf("limits %+v, want %+v", got.Limits, limits)
	}
	// An inactive key counts; the bootstrap key counts too.
	inactive, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "INACTIVE", keyhaven.NewPermissionSet(keyhaven.READ))
	inactive.Active = false
	if err := s.CreateCredential(ctx, inactive, nil); err != nil {
		t.Fatal(err)
	}
	ok := race(t, 50, keyhaven.ECONFLICT, func(i int) error {
		c, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, fmt.Sprintf("K%d", i), keyhaven.NewPermissionSet(keyhaven.READ))
		return s.CreateCredential(ctx, c, nil)
	})
	if ok != max-2 {
		t.Fatalf("%d of 50 racing CreateCredential calls succeeded, want %d", ok, max-2)
	}
	keys, err := s.ListAPIKeys(ctx, f.tenant.ID, base)
	if err != nil || len(keys) != max {
		t.Fatalf("%d API keys listed (%v), want %d", len(keys), err, max)
	}
	extra, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "EXTRA", keyhaven.NewPermissionSet(keyhaven.READ))
	err = s.CreateCredential(ctx, extra, nil)
	if keyhaven.ErrorCode(err) != keyhaven.ECONFLICT || keyhaven.ErrorReason(err) != "limit_reached" {
		t.Fatalf("API key past the limit: %v, want ECONFLICT limit_reached", err)
	}
	// Sessions are not API keys: they neither count nor are refused.
	for range 3 {
		sess, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", 0)
		if err := s.CreateCredential(ctx, sess, nil); err != nil {
			t.Fatalf("session at the API key limit: %v", err)
		}
	}
	// The limit is per tenant.
	g := newTenant(t, s)
	other, _ := newCredential(g.tenant.ID, g.admin.ID, keyhaven.KindAPIKey, "EXTRA", keyhaven.NewPermissionSet(keyhaven.READ))
	if err := s.CreateCredential(ctx, other, nil); err != nil {
		t.Fatalf("another tenant's key: %v", err)
	}
	// Deleting a key frees its place.
	if err := s.DeleteCredential(ctx, f.tenant.ID, inactive.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCredential(ctx, extra, nil); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
}

// testAPIKeyPages: the paginated listing of API keys holds every live API key of the tenant
// once, in id order, page by page, and nothing else: no expired key, no session, no access
// key, no other tenant's key.
func testAPIKeyPages(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	want := map[string]bool{f.key.ID: true}
	for i := range 7 {
		c, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, fmt.Sprintf("K%d", 7-i), keyhaven.NewPermissionSet(keyhaven.READ))
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		want[c.ID] = true
	}
	expired, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "EXPIRED", keyhaven.NewPermissionSet(keyhaven.READ))
	expired.ExpiresAt = base.Add(time.Minute)
	sess, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", 0)
	foreign, _ := newCredential(g.tenant.ID, g.admin.ID, keyhaven.KindAPIKey, "FOREIGN", keyhaven.NewPermissionSet(keyhaven.READ))
	for _, c := range []*keyhaven.Credential{expired, sess, foreign} {
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	now := base.Add(time.Minute)
	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		keys, err := s.ListAPIKeysPage(ctx, f.tenant.ID, now, keyhaven.Page{Limit: 3, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 3 {
			t.Fatalf("page of %d keys, limit 3", len(keys))
		}
		if len(keys) == 0 {
			break
		}
		for _, k := range keys {
			if seen[k.ID] || k.ID <= after {
				t.Fatalf("key %s out of order or repeated", k.ID)
			}
			if !want[k.ID] {
				t.Fatalf("listed %s (%s %q), not a live API key of the tenant", k.ID, k.Kind, k.Name)
			}
			seen[k.ID] = true
			after = k.ID
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("pages held %d keys, want %d", len(seen), len(want))
	}
}
