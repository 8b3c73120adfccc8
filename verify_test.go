package keyhaven_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
)

// resolutions is a CredentialResolver over a map, so that the judge's steps are tested on
// any state a store could hold.
type resolutions map[string]*keyhaven.Resolution

func (m resolutions) ResolveCredential(_ context.Context, hash string) (*keyhaven.Resolution, error) {
	if r, ok := m[hash]; ok {
		return r, nil
	}
	return nil, keyhaven.Errorf(keyhaven.ENOTFOUND, "no such credential")
}

// mistype returns s with its last character changed, as a typo would.
func mistype(s string) string {
	last := "x"
	if strings.HasSuffix(s, last) {
		last = "y"
	}
	return s[:len(s)-1] + last
}

// allow gives the key of a table's resolutions an IP allowlist.
func allow(prefixes ...string) func(resolutions) {
	return func(r resolutions) {
		for _, res := range r {
			if res.Credential.Kind == keyhaven.KindAPIKey {
				for _, p := range prefixes {
					res.Credential.IPAllowlist = append(res.Credential.IPAllowlist, netip.MustParsePrefix(p))
				}
			}
		}
	}
}

// limit gives the key of a table's resolutions a rate limit of n a minute.
func limit(n int64) func(resolutions) {
	return func(r resolutions) {
		for _, res := range r {
			if res.Credential.Kind == keyhaven.KindAPIKey {
				res.Credential.RateLimit = &keyhaven.RateLimit{Limit: n, Period: time.Minute}
			}
		}
	}
}

// TestJudgeSteps judges bearer uses step by step, in the contract's order: found, state,
// tenant, IP allowlist, permissions, rate limit. Where a use fails two steps, the earlier one
// decides.
func TestJudgeSteps(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	key, session := secret.Generate(secret.APIKey), secret.Generate(secret.Session)
	good := func() resolutions {
		return resolutions{
			secret.Hash(key): {
				Credential: &keyhaven.Credential{ID: "key_1", Kind: keyhaven.KindAPIKey, Active: true,
					Permissions: keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.WRITE, keyhaven.VIEW_APPLICATIONS)},
				Tenant: &keyhaven.Tenant{ID: "tnt_1", Name: "acme"},
				Owner:  &keyhaven.User{ID: "usr_1", Permissions: keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.CREATE_APPLICATION)},
			},
			secret.Hash(session): {
				Credential: &keyhaven.Credential{ID: "ses_1", Kind: keyhaven.KindSession, Active: true, Permissions: keyhaven.AllPermissions},
				Tenant:     &keyhaven.Tenant{ID: "tnt_1", Name: "acme"},
				Owner:      &keyhaven.User{ID: "usr_1", Permissions: keyhaven.NewPermissionSet(keyhaven.READ)},
			},
		}
	}
	credential := func(r resolutions) *keyhaven.Credential { return r[secret.Hash(key)].Credential }
	tests := []struct {
		name   string
		use    keyhaven.Use
		change func(r resolutions)
		want   keyhaven.VerdictCode
	}{
		{"valid", keyhaven.Use{Secret: key}, nil, keyhaven.CodeValid},
		{"no secret", keyhaven.Use{}, nil, keyhaven.CodeNotFound},
		{"malformed", keyhaven.Use{Secret: mistype(key)}, nil, keyhaven.CodeNotFound},
		{"unknown", keyhaven.Use{Secret: secret.Generate(secret.APIKey)}, nil, keyhaven.CodeNotFound},
		{"other tenant in scope", keyhaven.Use{Secret: key, Scope: "tnt_2"}, nil, keyhaven.CodeNotFound},
		{"own tenant in scope", keyhaven.Use{Secret: key, Scope: "tnt_1"}, nil, keyhaven.CodeValid},
		{"other kind", keyhaven.Use{Secret: key, Kind: keyhaven.KindSession}, nil, keyhaven.CodeNotFound},
		{"the kind taken", keyhaven.Use{Secret: session, Kind: keyhaven.KindSession}, nil, keyhaven.CodeValid},
		{"owner deleted", keyhaven.Use{Secret: key}, func(r resolutions) { r[secret.Hash(key)].Owner.DeletedAt = now }, keyhaven.CodeRevoked},
		{"revoked", keyhaven.Use{Secret: key}, func(r resolutions) { credential(r).RevokedAt = now.Add(-time.Second) }, keyhaven.CodeRevoked},
		{"expires now", keyhaven.Use{Secret: key}, func(r resolutions) { credential(r).ExpiresAt = now }, keyhaven.CodeExpired},
		{"expires later", keyhaven.Use{Secret: key}, func(r resolutions) { credential(r).ExpiresAt = now.Add(time.Nanosecond) }, keyhaven.CodeValid},
		{"inactive", keyhaven.Use{Secret: key}, func(r resolutions) { credential(r).Active = false }, keyhaven.CodeDisabled},
		{"another tenant's API", keyhaven.Use{Secret: key, Tenant: "globex"}, nil, keyhaven.CodeWrongTenant},
		{"its tenant's API", keyhaven.Use{Secret: key, Tenant: "acme"}, nil, keyhaven.CodeValid},
		{"held permission", keyhaven.Use{Secret: key, Required: keyhaven.NewPermissionSet(keyhaven.READ)}, nil, keyhaven.CodeValid},
		{"permission only the key holds", keyhaven.Use{Secret: key, Required: keyhaven.NewPermissionSet(keyhaven.WRITE)}, nil, keyhaven.CodeInsufficientPermissions},
		{"permission only the owner holds", keyhaven.Use{Secret: key, Required: keyhaven.NewPermissionSet(keyhaven.CREATE_APPLICATION)}, nil, keyhaven.CodeInsufficientPermissions},
		// The first failing step decides.
		{"expired before wrong tenant", keyhaven.Use{Secret: key, Tenant: "globex"}, func(r resolutions) { credential(r).ExpiresAt = now }, keyhaven.CodeExpired},
		{"revoked before permissions", keyhaven.Use{Secret: key, Required: keyhaven.NewPermissionSet(keyhaven.WRITE)}, func(r resolutions) { credential(r).RevokedAt = now }, keyhaven.CodeRevoked},
		{"scope before state", keyhaven.Use{Secret: key, Scope: "tnt_2"}, func(r resolutions) { credential(r).Active = false }, keyhaven.CodeNotFound},
		{"wrong tenant before permissions", keyhaven.Use{Secret: key, Tenant: "globex", Required: keyhaven.NewPermissionSet(keyhaven.WRITE)}, nil, keyhaven.CodeWrongTenant},
		// A rotated secret works through its grace period, then is EXPIRED.
		{"retired secret in its grace", keyhaven.Use{Secret: key}, func(r resolutions) { r[secret.Hash(key)].SecretExpiresAt = now.Add(time.Nanosecond) }, keyhaven.CodeValid},
		{"retired secret past its grace", keyhaven.Use{Secret: key}, func(r resolutions) { r[secret.Hash(key)].SecretExpiresAt = now }, keyhaven.CodeExpired},
		{"revoked before retired", keyhaven.Use{Secret: key}, func(r resolutions) {
			r[secret.Hash(key)].SecretExpiresAt = now
			credential(r).RevokedAt = now
		}, keyhaven.CodeRevoked},
		// IP allowlists: the client's address, IPv4-mapped or not; none given fails closed.
		{"address in the allowlist", keyhaven.Use{Secret: key, IP: netip.MustParseAddr("10.1.2.3")}, allow("10.0.0.0/8"), keyhaven.CodeValid},
		{"mapped address in the allowlist", keyhaven.Use{Secret: key, IP: netip.MustParseAddr("::ffff:10.1.2.3")}, allow("10.0.0.0/8"), keyhaven.CodeValid},
		{"address outside the allowlist", keyhaven.Use{Secret: key, IP: netip.MustParseAddr("11.1.2.3")}, allow("10.0.0.0/8", "2001:db8::/32"), keyhaven.CodeIPNotAllowed},
		{"no address against an allowlist", keyhaven.Use{Secret: key}, allow("10.0.0.0/8"), keyhaven.CodeIPNotAllowed},
		{"no address, no allowlist", keyhaven.Use{Secret: key}, nil, keyhaven.CodeValid},
		{"expired before the allowlist", keyhaven.Use{Secret: key}, func(r resolutions) {
			allow("10.0.0.0/8")(r)
			credential(r).ExpiresAt = now
		}, keyhaven.CodeExpired},
		{"allowlist before permissions", keyhaven.Use{Secret: key, Required: keyhaven.NewPermissionSet(keyhaven.WRITE)}, allow("10.0.0.0/8"), keyhaven.CodeIPNotAllowed},
		// Rate limits take the use's cost; a refused use takes nothing.
		{"within the rate limit", keyhaven.Use{Secret: key, Cost: 3}, limit(3), keyhaven.CodeValid},
		{"past the rate limit", keyhaven.Use{Secret: key, Cost: 4}, limit(3), keyhaven.CodeRateLimited},
		{"permissions before the rate limit", keyhaven.Use{Secret: key, Cost: 4, Required: keyhaven.NewPermissionSet(keyhaven.WRITE)}, limit(3), keyhaven.CodeInsufficientPermissions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			if tc.change != nil {
				tc.change(r)
			}
			svc := keyhaven.NewService(nil, slog.New(slog.DiscardHandler))
			svc.Clock, svc.Credentials = keyhaven.NewManualClock(now), r
			var used []string
			svc.Used = func(c *keyhaven.Credential, _ time.Time) { used = append(used, c.ID) }
			v, err := svc.Judge(context.Background(), tc.use)
			if err != nil {
				t.Fatal(err)
			}
			if v.Code != tc.want {
				t.Fatalf("code %s, want %s", v.Code, tc.want)
			}
			if (v.Code == keyhaven.CodeValid) != (v.Err() == nil) {
				t.Errorf("verdict %s gives error %v", v.Code, v.Err())
			}
			// A credential in force stands for a principal and is recorded as used, whatever
			// a later step says.
			inForce := v.Code == keyhaven.CodeValid || v.Code == keyhaven.CodeWrongTenant || v.Code == keyhaven.CodeInsufficientPermissions ||
				v.Code == keyhaven.CodeIPNotAllowed || v.Code == keyhaven.CodeRateLimited
			if (v.Principal != nil) != inForce || (len(used) == 1) != inForce {
				t.Errorf("%s: principal %v, used %v", v.Code, v.Principal, used)
			}
		})
	}

	svc := keyhaven.NewService(nil, slog.New(slog.DiscardHandler))
	svc.Clock, svc.Credentials = keyhaven.NewManualClock(now), good()
	v, _ := svc.Judge(context.Background(), keyhaven.Use{Secret: key})
	if want := keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.VIEW_APPLICATIONS); v.Principal.Permissions != want {
		t.Errorf("effective permissions %v, want %v (own ∩ owner's, implications applied)", v.Principal.Permissions.Strings(), want.Strings())
	}
}

// TestVerdictErrors maps each refusal to the error keyhaven's own API answers with.
func TestVerdictErrors(t *testing.T) {
	for code, want := range map[keyhaven.VerdictCode]string{
		keyhaven.CodeNotFound:                keyhaven.EUNAUTHORIZED,
		keyhaven.CodeExpired:                 keyhaven.EUNAUTHORIZED,
		keyhaven.CodeRevoked:                 keyhaven.EUNAUTHORIZED,
		keyhaven.CodeDisabled:                keyhaven.EUNAUTHORIZED,
		keyhaven.CodeWrongTenant:             keyhaven.EFORBIDDEN,
		keyhaven.CodeInsufficientPermissions: keyhaven.EFORBIDDEN,
		keyhaven.CodeRateLimited:             keyhaven.ERATELIMITED,
		keyhaven.CodeIPNotAllowed:            keyhaven.EFORBIDDEN,
		keyhaven.CodeUsageExceeded:           keyhaven.EFORBIDDEN,
	} {
		if got := keyhaven.ErrorCode((&keyhaven.Verdict{Code: code}).Err()); got != want {
			t.Errorf("%s: %s, want %s", code, got, want)
		}
	}
}
