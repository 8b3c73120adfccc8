package keyhaven

import (
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	good := func() *Resolution {
		return &Resolution{
			Credential: &Credential{ID: "key_1", Kind: KindAPIKey, Active: true, Permissions: NewPermissionSet(READ, WRITE, VIEW_APPLICATIONS)},
			Tenant:     &Tenant{ID: "tnt_1", Name: "acme"},
			Owner:      &User{ID: "usr_1", Permissions: NewPermissionSet(READ, CREATE_APPLICATION)},
		}
	}
	tests := []struct {
		name   string
		change func(r *Resolution)
		want   string
	}{
		{"valid", func(*Resolution) {}, CodeValid},
		{"owner deleted", func(r *Resolution) { r.Owner.DeletedAt = now }, CodeRevoked},
		{"revoked", func(r *Resolution) { r.Credential.RevokedAt = now.Add(-time.Second) }, CodeRevoked},
		{"expires now", func(r *Resolution) { r.Credential.ExpiresAt = now }, CodeExpired},
		{"expires later", func(r *Resolution) { r.Credential.ExpiresAt = now.Add(time.Nanosecond) }, CodeValid},
		{"inactive", func(r *Resolution) { r.Credential.Active = false }, CodeDisabled},
	}
	for _, tc := range tests {
		r := good()
		tc.change(r)
		p, code := Judge(r, now)
		if code != tc.want {
			t.Errorf("%s: code %s, want %s", tc.name, code, tc.want)
		}
		if (p != nil) != (code == CodeValid) {
			t.Errorf("%s: principal %v with code %s", tc.name, p, code)
		}
	}
	p, _ := Judge(good(), now)
	if want := NewPermissionSet(READ, VIEW_APPLICATIONS); p.Permissions != want {
		t.Errorf("effective permissions %v, want %v (own ∩ owner's, implications applied)", p.Permissions.Strings(), want.Strings())
	}
}
