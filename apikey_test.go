package keyhaven_test

import (
	"slices"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// TestAPIKeyGrants: managing API keys needs KEY_MANAGEMENT, and a key made or changed holds
// at least one permission, all held by the calling credential (implied ones included).
func TestAPIKeyGrants(t *testing.T) {
	t.Parallel()
	manager := []keyhaven.Permission{keyhaven.KEY_MANAGEMENT, keyhaven.READ, keyhaven.CREATE_APPLICATION}
	tests := []struct {
		name           string
		holds          []keyhaven.Permission
		perms          []string
		create, update string
	}{
		{"one held", manager, names(keyhaven.READ), okay, okay},
		{"all held", manager, names(manager...), okay, okay},
		{"implied by one held", manager, names(keyhaven.VIEW_APPLICATIONS), okay, okay},
		{"one not held", manager, names(keyhaven.READ, keyhaven.WRITE), escalation, escalation},
		{"_ANY when holding _OWN", append(manager, keyhaven.EDIT_ACCESS_KEYS_OWN), names(keyhaven.EDIT_ACCESS_KEYS_ANY), escalation, escalation},
		{"none", manager, nil, invalidInput, invalidInput},
		{"unknown", manager, []string{"read"}, invalidInput, invalidInput},
		{"without KEY_MANAGEMENT", []keyhaven.Permission{keyhaven.READ, keyhaven.WRITE}, names(keyhaven.READ), missingPermission, missingPermission},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			u := f.user(tc.holds...)
			p, _ := f.key(u, keyhaven.Permissions...)
			c, _, err := f.svc.CreateAPIKey(f.ctx, p, keyhaven.APIKeyInput{Name: f.name("created_"), Permissions: tc.perms})
			if got := outcome(err); got != tc.create {
				t.Errorf("create with %v holding %v: got %s, want %s", tc.perms, tc.holds, got, tc.create)
			}
			if err == nil && c.Permissions.Missing(p.Permissions) != 0 {
				t.Errorf("created a key holding %v beyond the creator's %v", c.Permissions.Strings(), p.Permissions.Strings())
			}
			_, target := f.key(u, keyhaven.READ)
			_, err = f.svc.UpdateAPIKey(f.ctx, p, target.Name, keyhaven.APIKeyUpdate{Permissions: &tc.perms})
			if got := outcome(err); got != tc.update {
				t.Errorf("update to %v holding %v: got %s, want %s", tc.perms, tc.holds, got, tc.update)
			}
		})
	}
}

// TestManageAPIKey: nobody changes or deletes an API key holding a permission the calling
// credential does not hold, nor the key it is calling with.
func TestManageAPIKey(t *testing.T) {
	t.Parallel()
	const own = "the caller's own"
	moreprivileged := keyhaven.EFORBIDDEN + ":key_more_privileged"
	tests := []struct {
		target []keyhaven.Permission // the key's permissions; nil: the calling key
		name   string                // "" the target's own name
		want   string
	}{
		{target: []keyhaven.Permission{keyhaven.READ}, want: okay},
		{target: []keyhaven.Permission{keyhaven.KEY_MANAGEMENT, keyhaven.READ, keyhaven.WRITE, keyhaven.CREATE_APPLICATION}, want: okay},
		{target: []keyhaven.Permission{keyhaven.VIEW_APPLICATIONS}, want: okay},
		{target: []keyhaven.Permission{keyhaven.READ, keyhaven.AUDIT_READ}, want: moreprivileged},
		{target: []keyhaven.Permission{keyhaven.EDIT_APPLICATION}, want: moreprivileged},
		{target: []keyhaven.Permission{keyhaven.CREATE_ACCESS_KEYS_ANY}, want: moreprivileged},
		{target: nil, want: keyhaven.EFORBIDDEN + ":own_key"},
		{target: []keyhaven.Permission{keyhaven.READ}, name: "no_such_key", want: notFound},
		{target: []keyhaven.Permission{keyhaven.READ}, name: "not a name", want: notFound},
	}
	actions := []struct {
		name string
		do   func(f *fixture, p *keyhaven.Principal, name string) error
	}{
		{"rename", func(f *fixture, p *keyhaven.Principal, name string) error {
			_, err := f.svc.UpdateAPIKey(f.ctx, p, name, keyhaven.APIKeyUpdate{Name: ptr(f.name("renamed_"))})
			return err
		}},
		{"deactivate", func(f *fixture, p *keyhaven.Principal, name string) error {
			_, err := f.svc.UpdateAPIKey(f.ctx, p, name, keyhaven.APIKeyUpdate{Active: ptr(false)})
			return err
		}},
		{"lower", func(f *fixture, p *keyhaven.Principal, name string) error {
			_, err := f.svc.UpdateAPIKey(f.ctx, p, name, keyhaven.APIKeyUpdate{Permissions: &[]string{"READ"}})
			return err
		}},
		{"delete", func(f *fixture, p *keyhaven.Principal, name string) error {
			return f.svc.DeleteAPIKey(f.ctx, p, name)
		}},
	}
	f := newFixture(t)
	for _, tc := range tests {
		for _, action := range actions {
			what := holding(tc.target)
			if tc.target == nil {
				what = own
			}
			if tc.name != "" {
				what = tc.name
			}
			t.Run(what+"/"+action.name, func(t *testing.T) {
				f.t = t
				admin, err := f.store.User(f.ctx, f.admin.TenantID, f.admin.UserID)
				if err != nil {
					t.Fatal(err)
				}
				p, caller := f.key(admin, keyhaven.KEY_MANAGEMENT, keyhaven.READ, keyhaven.WRITE, keyhaven.CREATE_APPLICATION)
				target := caller
				if tc.target != nil {
					_, target = f.key(admin, tc.target...)
				}
				name := target.Name
				if tc.name != "" {
					name = tc.name
				}
				if got := outcome(action.do(f, p, name)); got != tc.want {
					t.Errorf("%s %s key holding %v: got %s, want %s", action.name, what, p.Permissions.Strings(), got, tc.want)
				}
			})
		}
	}
}

// TestRaiseAPIKeyWithinOwner: whoever edits an API key, its permissions are raised only within
// what its owner holds, and within what the editor holds; keeping or lowering them is always
// allowed.
func TestRaiseAPIKeyWithinOwner(t *testing.T) {
	t.Parallel()
	all := keyhaven.Permissions
	exceedsOwner := keyhaven.EFORBIDDEN + ":exceeds_owner"
	tests := []struct {
		name               string
		editor, owner, key []keyhaven.Permission
		newPerms           []keyhaven.Permission
		want               string
	}{
		{"raised within the owner's", all, []keyhaven.Permission{keyhaven.KEY_MANAGEMENT, keyhaven.READ},
			[]keyhaven.Permission{keyhaven.READ}, []keyhaven.Permission{keyhaven.READ, keyhaven.KEY_MANAGEMENT}, okay},
		{"raised to one implied by the owner's", all, []keyhaven.Permission{keyhaven.READ, keyhaven.CREATE_APPLICATION},
			[]keyhaven.Permission{keyhaven.READ}, []keyhaven.Permission{keyhaven.READ, keyhaven.VIEW_APPLICATIONS}, okay},
		{"raised beyond the owner's", all, []keyhaven.Permission{keyhaven.KEY_MANAGEMENT, keyhaven.READ},
			[]keyhaven.Permission{keyhaven.READ}, []keyhaven.Permission{keyhaven.READ, keyhaven.WRITE}, exceedsOwner},
		{"replaced by one beyond the owner's", all, []keyhaven.Permission{keyhaven.READ},
			[]keyhaven.Permission{keyhaven.READ}, []keyhaven.Permission{keyhaven.WRITE}, exceedsOwner},
		{"lowered", all, []keyhaven.Permission{keyhaven.READ, keyhaven.WRITE},
			[]keyhaven.Permission{keyhaven.READ, keyhaven.WRITE}, []keyhaven.Permission{keyhaven.READ}, okay},
		{"kept while the owner lost one", all, []keyhaven.Permission{keyhaven.READ},
			[]keyhaven.Permission{keyhaven.READ, keyhaven.WRITE}, []keyhaven.Permission{keyhaven.READ, keyhaven.WRITE}, okay},
		{"raised beyond the editor's", []keyhaven.Permission{keyhaven.KEY_MANAGEMENT, keyhaven.READ}, all,
			[]keyhaven.Permission{keyhaven.READ}, []keyhaven.Permission{keyhaven.READ, keyhaven.WRITE}, escalation},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			editor, _ := f.key(f.user(tc.editor...), keyhaven.Permissions...)
			_, key := f.key(f.user(tc.owner...), tc.key...)
			newPerms := names(tc.newPerms...)
			_, err := f.svc.UpdateAPIKey(f.ctx, editor, key.Name, keyhaven.APIKeyUpdate{Permissions: &newPerms})
			if got := outcome(err); got != tc.want {
				t.Errorf("%v -> %v, owner holding %v: got %s, want %s", tc.key, tc.newPerms, tc.owner, got, tc.want)
			}
			want := perms(tc.key...)
			if err == nil {
				want = perms(tc.newPerms...)
			}
			after, err := f.store.APIKeyByName(f.ctx, f.admin.TenantID, key.Name, f.svc.Now())
			if err != nil || after.Permissions != want {
				t.Errorf("the key holds %v (%v), want %v", after.Permissions.Strings(), err, want.Strings())
			}
		})
	}
}

// TestAPIKeyLimit: a tenant has at most its limit of API keys; inactive ones count, expired
// ones (which are deleted) and sessions do not.
func TestAPIKeyLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                              string
		limit                             int
		live, inactive, expired, sessions int // besides the bootstrap key, which counts
		want                              string
	}{
		{"only the bootstrap key, limit 1", 1, 0, 0, 0, 0, limitReached},
		{"below the limit", 3, 1, 0, 0, 0, okay},
		{"at the limit", 3, 2, 0, 0, 0, limitReached},
		{"inactive ones count", 3, 1, 1, 0, 0, limitReached},
		{"expired ones do not count", 3, 1, 0, 3, 0, okay},
		{"sessions do not count", 2, 0, 0, 0, 3, okay},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			create := func(in keyhaven.APIKeyInput) {
				t.Helper()
				in.Name, in.Permissions = f.name("k"), names(keyhaven.READ)
				if _, _, err := f.svc.CreateAPIKey(f.ctx, f.admin, in); err != nil {
					t.Fatal(err)
				}
			}
			for range tc.expired {
				create(keyhaven.APIKeyInput{Expires: ptr(f.svc.Now().Add(time.Minute))})
			}
			f.clock.Advance(time.Minute)
			for range tc.live {
				create(keyhaven.APIKeyInput{})
			}
			for range tc.inactive {
				create(keyhaven.APIKeyInput{Active: ptr(false)})
			}
			for range tc.sessions {
				f.session("admin@acme.test", f.adminPassword)
			}
			f.setLimits(keyhaven.Limits{Applications: 10, AccessKeysPerApplication: 10, APIKeys: tc.limit})
			_, _, err := f.svc.CreateAPIKey(f.ctx, f.admin, keyhaven.APIKeyInput{Name: "one_more", Permissions: names(keyhaven.READ)})
			if got := outcome(err); got != tc.want {
				t.Errorf("create with %d live, %d inactive, %d expired keys and %d sessions, limit %d: got %s, want %s",
					tc.live+1, tc.inactive, tc.expired, tc.sessions, tc.limit, got, tc.want)
			}
		})
	}
}

// TestAPIKeyExpiry: an API key's expiry is in the future when it is set; the key works until
// that instant and from then on is gone: it authenticates nothing and cannot be found to be
// listed, changed or deleted.
func TestAPIKeyExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		expiresIn time.Duration // from creation
		after     time.Duration // time passed since creation when it is used
		create    string
		used      string // authenticating with it
		changed   string // renaming, deleting it
	}{
		{"in the past", -time.Second, 0, invalidInput, "", ""},
		{"now", 0, 0, invalidInput, "", ""},
		{"before the expiry", time.Hour, time.Hour - time.Microsecond, okay, okay, okay},
		{"at the expiry", time.Hour, time.Hour, okay, unauthorized, notFound},
		{"after the expiry", time.Hour, 2 * time.Hour, okay, unauthorized, notFound},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			name := f.name("expiring_")
			_, secret, err := f.svc.CreateAPIKey(f.ctx, f.admin, keyhaven.APIKeyInput{Name: name, Permissions: names(keyhaven.READ),
				Expires: ptr(f.svc.Now().Add(tc.expiresIn))})
			if got := outcome(err); got != tc.create {
				t.Fatalf("create expiring in %s: got %s, want %s", tc.expiresIn, got, tc.create)
			}
			if err != nil {
				return
			}
			f.clock.Advance(tc.after)
			_, err = f.svc.Authenticate(f.ctx, keyhaven.Use{Secret: secret})
			if got := outcome(err); got != tc.used {
				t.Errorf("authenticate %s after creation: got %s, want %s", tc.after, got, tc.used)
			}
			keys, err := f.svc.ListAPIKeys(f.ctx, f.admin)
			if err != nil {
				t.Fatal(err)
			}
			listed := slices.ContainsFunc(keys, func(c *keyhaven.Credential) bool { return c.Name == name })
			if listed != (tc.used == okay) {
				t.Errorf("listed %s after creation: got %v, want %v", tc.after, listed, tc.used == okay)
			}
			_, err = f.svc.UpdateAPIKey(f.ctx, f.admin, name, keyhaven.APIKeyUpdate{Active: ptr(true)})
			if got := outcome(err); got != tc.changed {
				t.Errorf("update %s after creation: got %s, want %s", tc.after, got, tc.changed)
			}
			if got := outcome(f.svc.DeleteAPIKey(f.ctx, f.admin, name)); got != tc.changed {
				t.Errorf("delete %s after creation: got %s, want %s", tc.after, got, tc.changed)
			}
		})
	}
}
