package keyhaven_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

func kids(t *testing.T, f *fixture) []string {
	t.Helper()
	set, err := f.svc.JWKSet(f.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" {
			t.Fatalf("JWK Set key %s: public %v, use %q; want a public signing key", k.KeyID, k.IsPublic(), k.Use)
		}
		out = append(out, k.KeyID)
	}
	return out
}

// TestSigningKeyRotation: a tenant's first key is made on first use, sealed at rest; a
// rotation makes a new active key and keeps the old one listed until every token it signed
// has expired; garbage collection rotates a key past its age.
func TestSigningKeyRotation(t *testing.T) {
	f := newFixture(t)
	first := kids(t, f)
	if len(first) != 1 {
		t.Fatalf("first JWK Set = %v; want one key made on first use", first)
	}
	if again := kids(t, f); len(again) != 1 || again[0] != first[0] {
		t.Fatalf("JWK Set again = %v; want %v", again, first)
	}
	tenant, err := f.store.TenantByName(f.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.store.SigningKeys(f.ctx, tenant.ID, time.Time{})
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored keys = %v, %v", stored, err)
	}
	k := stored[0]
	if k.Alg != keyhaven.AlgES256 || strings.Contains(k.PrivateSealed, `"d"`) || strings.Contains(k.PublicJWK, `"d"`) {
		t.Fatalf("stored key: alg %s, sealed %q, public %s; want ES256, the private half sealed", k.Alg, k.PrivateSealed, k.PublicJWK)
	}
	raw, err := f.svc.Sealer.Open(k.PrivateSealed, keyhaven.SealedFor(keyhaven.SealedSigningKey, tenant.ID, k.ID))
	if err != nil || !json.Valid(raw) || !strings.Contains(string(raw), `"d"`) {
		t.Fatalf("the sealed private key opens to %d bytes, %v; want the private JWK", len(raw), err)
	}
	if _, err := f.svc.Sealer.Open(k.PrivateSealed, keyhaven.SealedFor(keyhaven.SealedSigningKey, "tnt_other", k.ID)); err == nil {
		t.Fatal("the sealed private key opens bound to another tenant")
	}

	f.clock.Advance(time.Minute)
	rotated, err := f.svc.RotateSigningKey(f.ctx, "acme", keyhaven.AlgEdDSA)
	if err != nil || rotated.Alg != keyhaven.AlgEdDSA {
		t.Fatalf("RotateSigningKey = %+v, %v", rotated, err)
	}
	if got := kids(t, f); len(got) != 2 || got[0] != rotated.ID || got[1] != first[0] {
		t.Fatalf("JWK Set after rotation = %v; want [%s %s]", got, rotated.ID, first[0])
	}
	_, err = f.svc.RotateSigningKey(f.ctx, "acme", "HS256")
	wantCode(t, err, keyhaven.EINVALID)
	_, err = f.svc.RotateSigningKey(f.ctx, "nobody", "")
	wantCode(t, err, keyhaven.ENOTFOUND)

	// The old key stays while a token it signed may live, then goes.
	f.clock.Advance(keyhaven.MaxTokenLifetime - time.Second)
	if _, err := f.svc.CollectGarbage(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, f); len(got) != 2 {
		t.Fatalf("JWK Set a second before the old key's tokens expire = %v; want both keys", got)
	}
	f.clock.Advance(keyhaven.KeySetMaxAge + time.Second)
	if _, err := f.svc.CollectGarbage(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, f); len(got) != 1 || got[0] != rotated.ID {
		t.Fatalf("JWK Set after the old key's tokens expired = %v; want [%s]", got, rotated.ID)
	}

	// Automatic rotation: a key older than its maximum age is replaced.
	f.clock.Advance(keyhaven.DefaultSigningKeyMaxAge - keyhaven.MaxTokenLifetime - keyhaven.KeySetMaxAge - time.Minute)
	if n, err := f.svc.RotateDueSigningKeys(f.ctx); err != nil || n != 0 {
		t.Fatalf("RotateDueSigningKeys before the key is due = %d, %v; want 0", n, err)
	}
	f.clock.Advance(2 * time.Minute)
	if _, err := f.svc.CollectGarbage(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, f); len(got) != 2 || got[1] != rotated.ID || got[0] == rotated.ID {
		t.Fatalf("JWK Set after the key's maximum age = %v; want a new key, then %s", got, rotated.ID)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := keyhaven.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}
