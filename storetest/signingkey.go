package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

func newSigningKey(f fixture, at time.Time) *keyhaven.SigningKey {
	id := keyhaven.NewID("kid")
	return &keyhaven.SigningKey{ID: id, TenantID: f.tenant.ID, Alg: keyhaven.AlgES256,
		PublicJWK: fmt.Sprintf(`{"kid":%q}`, id), PrivateSealed: "sealed-" + id, CreatedAt: at}
}

func activeKeys(t *testing.T, s keyhaven.Store, f fixture) (active []*keyhaven.SigningKey, all []*keyhaven.SigningKey) {
	t.Helper()
	all, err := s.SigningKeys(ctx, f.tenant.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if k.RetiredAt.IsZero() {
			active = append(active, k)
		}
	}
	return active, all
}

// testSigningKeyRotation: the first key is made only when there is none, a rotation retires
// the active key at the new key's creation, retired keys are listed until the cutoff and
// deleted after it, and the active key comes first.
func testSigningKeyRotation(t *testing.T, s keyhaven.Store) {
	f, other := newTenant(t, s), newTenant(t, s)
	first := newSigningKey(f, base)
	got, rotated, err := s.RotateSigningKey(ctx, first, time.Time{}, nil)
	if err != nil || !rotated || got.ID != first.ID {
		t.Fatalf("first RotateSigningKey = %v, %v, %v; want the new key", got, rotated, err)
	}
	// A first use elsewhere finds the key already made.
	got, rotated, err = s.RotateSigningKey(ctx, newSigningKey(f, base.Add(time.Second)), time.Time{}, nil)
	if err != nil || rotated || got.ID != first.ID || got.PrivateSealed != first.PrivateSealed || !got.CreatedAt.Equal(base) {
		t.Fatalf("second first-use RotateSigningKey = %+v, %v, %v; want %+v kept", got, rotated, err, first)
	}
	// Not due: a key created after due stays.
	if _, rotated, err := s.RotateSigningKey(ctx, newSigningKey(f, base.Add(time.Hour)), base.Add(-time.Second), nil); err != nil || rotated {
		t.Fatalf("RotateSigningKey before due = %v, %v; want no rotation", rotated, err)
	}
	if ids, err := s.TenantsWithSigningKeysDue(ctx, base.Add(time.Second)); err != nil || len(ids) != 1 || ids[0] != f.tenant.ID {
		t.Fatalf("TenantsWithSigningKeysDue = %v, %v; want [%s]", ids, err, f.tenant.ID)
	}
	second := newSigningKey(f, base.Add(time.Hour))
	if got, rotated, err := s.RotateSigningKey(ctx, second, base.Add(time.Hour), nil); err != nil || !rotated || got.ID != second.ID {
		t.Fatalf("RotateSigningKey when due = %v, %v, %v; want the new key", got, rotated, err)
	}
	active, all := activeKeys(t, s, f)
	if len(active) != 1 || active[0].ID != second.ID || len(all) != 2 || all[0].ID != second.ID ||
		all[1].ID != first.ID || !all[1].RetiredAt.Equal(second.CreatedAt) {
		t.Fatalf("keys after rotation = %+v; want %s active first, then %s retired at %v", all, second.ID, first.ID, second.CreatedAt)
	}
	if listed, err := s.SigningKeys(ctx, f.tenant.ID, base.Add(time.Hour)); err != nil || len(listed) != 1 || listed[0].ID != second.ID {
		t.Fatalf("SigningKeys past the retired key's cutoff = %+v, %v; want the active key only", listed, err)
	}
	if keys, err := s.SigningKeys(ctx, other.tenant.ID, time.Time{}); err != nil || len(keys) != 0 {
		t.Fatalf("another tenant's SigningKeys = %v, %v; want none", keys, err)
	}
	if n, err := s.DeleteRetiredSigningKeys(ctx, base.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("DeleteRetiredSigningKeys at the retirement = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteRetiredSigningKeys(ctx, base.Add(time.Hour+time.Microsecond)); err != nil || n != 1 {
		t.Fatalf("DeleteRetiredSigningKeys after the retirement = %d, %v; want 1", n, err)
	}
	if _, all := activeKeys(t, s, f); len(all) != 1 || all[0].ID != second.ID {
		t.Fatalf("keys after deletion = %+v; want the active key only", all)
	}
	_, _, err = s.RotateSigningKey(ctx, &keyhaven.SigningKey{ID: keyhaven.NewID("kid"), TenantID: "tnt_missing", Alg: keyhaven.AlgES256, CreatedAt: base}, base, nil)
	wantCode(t, err, keyhaven.ENOTFOUND)
}

// testSigningKeyRotationRace: processes rotating one tenant's key at once leave exactly one
// active key; conditional rotations that race rotate it once.
func testSigningKeyRotationRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = s.RotateSigningKey(ctx, newSigningKey(f, base.Add(time.Duration(i)*time.Millisecond)), base.Add(time.Hour), nil)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("racing rotation: %v", err)
		}
	}
	if active, all := activeKeys(t, s, f); len(active) != 1 || len(all) != n {
		t.Fatalf("after %d racing rotations: %d active of %d keys; want 1 of %d", n, len(active), len(all), n)
	}
	// Racing rotations of a due key (automatic rotation on every node): one rotates.
	at := base.Add(48 * time.Hour)
	rotated := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			_, rotated[i], errs[i] = s.RotateSigningKey(ctx, newSigningKey(f, at), base.Add(time.Hour), nil)
		})
	}
	wg.Wait()
	count := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("racing due rotation: %v", errs[i])
		}
		if rotated[i] {
			count++
		}
	}
	if active, _ := activeKeys(t, s, f); count != 1 || len(active) != 1 || !active[0].CreatedAt.Equal(at) {
		t.Fatalf("racing due rotations rotated %d times, active %+v; want once", count, active)
	}
}

// testRevokedTokens: a revoked token is remembered per tenant, revoking it again changes
// nothing, and it is forgotten once expired.
func testRevokedTokens(t *testing.T, s keyhaven.Store) {
	f, other := newTenant(t, s), newTenant(t, s)
	for range 2 {
		if err := s.RevokeToken(ctx, f.tenant.ID, "jti_1", base.Add(time.Minute), nil); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
	}
	for _, tc := range []struct {
		tenant, jti string
		want        bool
	}{{f.tenant.ID, "jti_1", true}, {f.tenant.ID, "jti_2", false}, {other.tenant.ID, "jti_1", false}} {
		if got, err := s.TokenRevoked(ctx, tc.tenant, tc.jti); err != nil || got != tc.want {
			t.Fatalf("TokenRevoked(%s, %s) = %v, %v; want %v", tc.tenant, tc.jti, got, err, tc.want)
		}
	}
	if n, err := s.DeleteRevokedTokens(ctx, base.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("DeleteRevokedTokens at the expiry = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteRevokedTokens(ctx, base.Add(time.Minute+time.Microsecond)); err != nil || n != 1 {
		t.Fatalf("DeleteRevokedTokens after the expiry = %d, %v; want 1", n, err)
	}
}

// testCredentialByID: an API key or access key of the tenant by id, with its owner; another
// tenant's, a session or an unknown id is ENOTFOUND.
func testCredentialByID(t *testing.T, s keyhaven.Store) {
	f, other := newTenant(t, s), newTenant(t, s)
	r, err := s.CredentialByID(ctx, f.tenant.ID, f.key.ID)
	if err != nil || r.Credential.ID != f.key.ID || r.Credential.Hash != f.key.Hash || r.Tenant.Name != f.tenant.Name ||
		r.Owner.ID != f.admin.ID || r.Owner.Deleted() || r.Credential.Permissions != keyhaven.AllPermissions {
		t.Fatalf("CredentialByID = %+v, %v", r, err)
	}
	_, err = s.CredentialByID(ctx, other.tenant.ID, f.key.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	session, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", keyhaven.AllPermissions)
	if err := s.CreateCredential(ctx, session, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.CredentialByID(ctx, f.tenant.ID, session.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
}
