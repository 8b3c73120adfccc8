package keyhaven_test

import (
	"slices"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// keyActions are the four things done to an application's access keys, each needing its
// _ANY or _OWN permission. key is an active key of app.
var keyActions = []struct {
	name     string
	any, own keyhaven.Permission
	// right is what AccessKeyRightsOn says of the action.
	right func(keyhaven.AccessKeyRights) bool
	do    func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application, key *keyhaven.Credential) error
}{
	{"view", keyhaven.VIEW_ACCESS_KEYS_ANY, keyhaven.VIEW_ACCESS_KEYS_OWN, func(r keyhaven.AccessKeyRights) bool { return r.View }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application, key *keyhaven.Credential) error {
		_, err := f.svc.AccessKey(f.ctx, p, app.ID, key.ID)
		return err
	}},
	{"list", keyhaven.VIEW_ACCESS_KEYS_ANY, keyhaven.VIEW_ACCESS_KEYS_OWN, func(r keyhaven.AccessKeyRights) bool { return r.View }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application, key *keyhaven.Credential) error {
		keys, err := f.svc.ListAccessKeys(f.ctx, p, app.ID, keyhaven.Page{Limit: 1000})
		return listed(keys, err, key.ID, func(c *keyhaven.Credential) string { return c.ID })
	}},
	{"create", keyhaven.CREATE_ACCESS_KEYS_ANY, keyhaven.CREATE_ACCESS_KEYS_OWN, func(r keyhaven.AccessKeyRights) bool { return r.Create }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application, _ *keyhaven.Credential) error {
		_, _, err := f.svc.CreateAccessKey(f.ctx, p, app.ID, keyhaven.AccessKeyInput{Name: "new", Scopes: names(keyhaven.READ)})
		return err
	}},
	{"edit", keyhaven.EDIT_ACCESS_KEYS_ANY, keyhaven.EDIT_ACCESS_KEYS_OWN, func(r keyhaven.AccessKeyRights) bool { return r.Edit }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application, key *keyhaven.Credential) error {
		_, err := f.svc.UpdateAccessKey(f.ctx, p, app.ID, key.ID, keyhaven.AccessKeyUpdate{Name: ptr("renamed")})
		return err
	}},
	{"revoke", keyhaven.REVOKE_ACCESS_KEYS_ANY, keyhaven.REVOKE_ACCESS_KEYS_OWN, func(r keyhaven.AccessKeyRights) bool { return r.Revoke }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application, key *keyhaven.Credential) error {
		_, err := f.svc.RevokeAccessKey(f.ctx, p, app.ID, key.ID)
		return err
	}},
}

// TestAccessKeyPermissionsReachAnyOrOwn: each access key action needs its _ANY permission,
// which reaches every application, or its _OWN one, which reaches the applications the
// caller's user created. Another user's application is not found by an _OWN caller that may
// not see it, and forbidden to one that may (VIEW_APPLICATIONS). Principal.AccessKeyRightsOn,
// which pages read to offer an action, says what the service allows.
func TestAccessKeyPermissionsReachAnyOrOwn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		holds string // the action's permission held: none, own or any
		app   string // whose application: the caller's user's (own) or another user's (other)
		view  bool   // the caller also holds VIEW_APPLICATIONS
		want  string
	}{
		{"none", "own", false, missingPermission},
		{"none", "other", false, missingPermission},
		{"none", "own", true, missingPermission},
		{"none", "other", true, missingPermission},
		{"own", "own", false, okay},
		{"own", "other", false, notFound},
		{"own", "own", true, okay},
		{"own", "other", true, keyhaven.EFORBIDDEN + ":not_own_application"},
		{"any", "own", false, okay},
		{"any", "other", false, okay},
		{"any", "own", true, okay},
		{"any", "other", true, okay},
	}
	f := newFixture(t)
	for _, action := range keyActions {
		for _, tc := range tests {
			name := action.name + "/" + tc.holds + "/" + tc.app + "-application"
			if tc.view {
				name += "/with-VIEW_APPLICATIONS"
			}
			t.Run(name, func(t *testing.T) {
				f.t = t
				// Every caller holds READ, the scope of the key "create" makes.
				holds := []keyhaven.Permission{keyhaven.READ}
				switch tc.holds {
				case "own":
					holds = append(holds, action.own)
				case "any":
					holds = append(holds, action.any)
				}
				if tc.view {
					holds = append(holds, keyhaven.VIEW_APPLICATIONS)
				}
				p := f.as(holds...)
				owner := f.admin.UserID
				if tc.app == "own" {
					owner = p.UserID
				}
				app := f.application(owner)
				key, _ := f.accessKey(app, owner, time.Time{})
				// What the principal is told it may do is what the service lets it do.
				if got, want := action.right(p.AccessKeyRightsOn(app)), tc.want == okay; got != want {
					t.Errorf("AccessKeyRightsOn says %s the keys of the %s application holding %v: %v, want %v", action.name, tc.app, p.Permissions.Strings(), got, want)
				}
				if got := outcome(action.do(f, p, app, key)); got != tc.want {
					t.Errorf("%s the keys of the %s application holding %v: got %s, want %s", action.name, tc.app, p.Permissions.Strings(), got, tc.want)
				}
			})
		}
	}
}

// TestApplicationPermissions: reading and listing applications needs VIEW_APPLICATIONS, which
// CREATE_, EDIT_ and REVOKE_APPLICATION imply and which reaches every application; an access
// key permission, _ANY or _OWN, lets its holder see only the applications its user created.
// Creating, editing and revoking need their own permission.
func TestApplicationPermissions(t *testing.T) {
	t.Parallel()
	both := func(o string) [2]string { return [2]string{o, o} }
	ownOnly := [2]string{okay, notFound}
	type outcomes struct {
		read, list, edit, revoke [2]string // on the caller's user's application and on another's
		create                   string
	}
	none := outcomes{both(missingPermission), both(missingPermission), both(missingPermission), both(missingPermission), missingPermission}
	seeAll := outcomes{both(okay), both(okay), both(missingPermission), both(missingPermission), missingPermission}
	seeOwn := outcomes{ownOnly, ownOnly, both(missingPermission), both(missingPermission), missingPermission}
	tests := []struct {
		holds []keyhaven.Permission
		want  outcomes
	}{
		{nil, none},
		{[]keyhaven.Permission{keyhaven.READ, keyhaven.WRITE, keyhaven.KEY_MANAGEMENT, keyhaven.USER_MANAGEMENT, keyhaven.AUDIT_READ}, none},
		{[]keyhaven.Permission{keyhaven.VIEW_APPLICATIONS}, seeAll},
		{[]keyhaven.Permission{keyhaven.CREATE_APPLICATION}, outcomes{both(okay), both(okay), both(missingPermission), both(missingPermission), okay}},
		{[]keyhaven.Permission{keyhaven.EDIT_APPLICATION}, outcomes{both(okay), both(okay), both(okay), both(missingPermission), missingPermission}},
		{[]keyhaven.Permission{keyhaven.REVOKE_APPLICATION}, outcomes{both(okay), both(okay), both(missingPermission), both(okay), missingPermission}},
		{[]keyhaven.Permission{keyhaven.VIEW_ACCESS_KEYS_OWN}, seeOwn},
		{[]keyhaven.Permission{keyhaven.VIEW_ACCESS_KEYS_ANY}, seeOwn},
		{[]keyhaven.Permission{keyhaven.CREATE_ACCESS_KEYS_OWN}, seeOwn},
		{[]keyhaven.Permission{keyhaven.CREATE_ACCESS_KEYS_ANY}, seeOwn},
		{[]keyhaven.Permission{keyhaven.EDIT_ACCESS_KEYS_OWN}, seeOwn},
		{[]keyhaven.Permission{keyhaven.EDIT_ACCESS_KEYS_ANY}, seeOwn},
		{[]keyhaven.Permission{keyhaven.REVOKE_ACCESS_KEYS_OWN}, seeOwn},
		{[]keyhaven.Permission{keyhaven.REVOKE_ACCESS_KEYS_ANY}, seeOwn},
		{[]keyhaven.Permission{keyhaven.VIEW_ACCESS_KEYS_OWN, keyhaven.VIEW_APPLICATIONS}, seeAll},
	}
	actions := []struct {
		name string
		want func(outcomes) [2]string
		do   func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application) error
	}{
		{"read", func(o outcomes) [2]string { return o.read }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application) error {
			_, err := f.svc.Application(f.ctx, p, app.ID)
			return err
		}},
		{"list", func(o outcomes) [2]string { return o.list }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application) error {
			apps, err := f.svc.ListApplications(f.ctx, p, keyhaven.Page{Limit: 1000})
			return listed(apps, err, app.ID, func(a *keyhaven.Application) string { return a.ID })
		}},
		{"edit", func(o outcomes) [2]string { return o.edit }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application) error {
			_, err := f.svc.UpdateApplication(f.ctx, p, app.ID, keyhaven.ApplicationInput{Description: ptr("changed")})
			return err
		}},
		{"revoke", func(o outcomes) [2]string { return o.revoke }, func(f *fixture, p *keyhaven.Principal, app *keyhaven.Application) error {
			_, err := f.svc.RevokeApplication(f.ctx, p, app.ID)
			return err
		}},
		{"create", func(o outcomes) [2]string { return both(o.create) }, func(f *fixture, p *keyhaven.Principal, _ *keyhaven.Application) error {
			_, err := f.svc.CreateApplication(f.ctx, p, keyhaven.ApplicationInput{Name: ptr(f.name("created"))})
			return err
		}},
	}
	f := newFixture(t)
	for _, tc := range tests {
		for _, action := range actions {
			for i, whose := range []string{"own", "other"} {
				if action.name == "create" && whose == "other" {
					continue // creating reaches no existing application
				}
				t.Run(holding(tc.holds)+"/"+action.name+"/"+whose, func(t *testing.T) {
					f.t = t
					p := f.as(tc.holds...)
					owner := f.admin.UserID
					if whose == "own" {
						owner = p.UserID
					}
					app := f.application(owner)
					want := action.want(tc.want)[i]
					if got := outcome(action.do(f, p, app)); got != want {
						t.Errorf("%s the %s application holding %v: got %s, want %s", action.name, whose, tc.holds, got, want)
					}
				})
			}
		}
	}
}

// TestApplicationLimit: a tenant has at most its limit of active applications; revoked ones
// do not count.
func TestApplicationLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		limit           int
		active, revoked int
		want            string
	}{
		{"none, limit 0", 0, 0, 0, limitReached},
		{"below the limit", 3, 2, 0, okay},
		{"at the limit", 3, 3, 0, limitReached},
		{"revoked ones do not count", 3, 2, 5, okay},
		{"at the limit besides revoked ones", 3, 3, 5, limitReached},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for range tc.revoked {
				app := f.application(f.admin.UserID)
				if _, err := f.svc.RevokeApplication(f.ctx, f.admin, app.ID); err != nil {
					t.Fatal(err)
				}
			}
			for range tc.active {
				f.application(f.admin.UserID)
			}
			f.setLimits(keyhaven.Limits{Applications: tc.limit, AccessKeysPerApplication: 10, APIKeys: 10})
			_, err := f.svc.CreateApplication(f.ctx, f.admin, keyhaven.ApplicationInput{Name: ptr("one-more")})
			if got := outcome(err); got != tc.want {
				t.Errorf("create with %d active and %d revoked applications, limit %d: got %s, want %s", tc.active, tc.revoked, tc.limit, got, tc.want)
			}
		})
	}
}

// TestAccessKeyLimit: an application has at most the tenant's limit of active access keys;
// revoked and expired ones do not count, nor do other applications' keys.
func TestAccessKeyLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                  string
		limit                                 int
		active, revoked, expired, otherActive int
		want                                  string
	}{
		{"none, limit 0", 0, 0, 0, 0, 0, limitReached},
		{"below the limit", 3, 2, 0, 0, 0, okay},
		{"at the limit", 3, 3, 0, 0, 0, limitReached},
		{"revoked ones do not count", 3, 2, 4, 0, 0, okay},
		{"expired ones do not count", 3, 2, 0, 4, 0, okay},
		{"other applications' keys do not count", 3, 2, 0, 0, 3, okay},
		{"at the limit besides revoked and expired ones", 3, 3, 1, 1, 0, limitReached},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			app, other := f.application(f.admin.UserID), f.application(f.admin.UserID)
			for range tc.revoked {
				key, _ := f.accessKey(app, f.admin.UserID, time.Time{})
				if _, err := f.svc.RevokeAccessKey(f.ctx, f.admin, app.ID, key.ID); err != nil {
					t.Fatal(err)
				}
			}
			for range tc.expired {
				f.accessKey(app, f.admin.UserID, f.svc.Now().Add(time.Minute))
			}
			f.clock.Advance(time.Minute)
			for range tc.active {
				f.accessKey(app, f.admin.UserID, time.Time{})
			}
			for range tc.otherActive {
				f.accessKey(other, f.admin.UserID, time.Time{})
			}
			f.setLimits(keyhaven.Limits{Applications: 10, AccessKeysPerApplication: tc.limit, APIKeys: 10})
			_, _, err := f.svc.CreateAccessKey(f.ctx, f.admin, app.ID, keyhaven.AccessKeyInput{Name: "one-more", Scopes: names(keyhaven.READ)})
			if got := outcome(err); got != tc.want {
				t.Errorf("create with %d active, %d revoked, %d expired keys, limit %d: got %s, want %s",
					tc.active, tc.revoked, tc.expired, tc.limit, got, tc.want)
			}
		})
	}
}

// TestAccessKeyScopes: an access key's scopes are at least one permission, all held by its
// creator (implied ones included).
func TestAccessKeyScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		holds  []keyhaven.Permission
		scopes []string
		want   string
	}{
		{"held", []keyhaven.Permission{keyhaven.READ, keyhaven.WRITE}, names(keyhaven.READ, keyhaven.WRITE), okay},
		{"implied by one held", []keyhaven.Permission{keyhaven.READ, keyhaven.EDIT_APPLICATION}, names(keyhaven.VIEW_APPLICATIONS), okay},
		{"_OWN implied by _ANY", []keyhaven.Permission{keyhaven.READ, keyhaven.REVOKE_ACCESS_KEYS_ANY}, names(keyhaven.REVOKE_ACCESS_KEYS_OWN), okay},
		{"the creating permission itself", []keyhaven.Permission{keyhaven.READ}, names(keyhaven.CREATE_ACCESS_KEYS_ANY), okay},
		{"one not held", []keyhaven.Permission{keyhaven.READ}, names(keyhaven.READ, keyhaven.WRITE), escalation},
		{"_ANY when holding _OWN", []keyhaven.Permission{keyhaven.READ, keyhaven.VIEW_ACCESS_KEYS_OWN}, names(keyhaven.VIEW_ACCESS_KEYS_ANY), escalation},
		{"none", []keyhaven.Permission{keyhaven.READ}, nil, invalidInput},
		{"unknown", []keyhaven.Permission{keyhaven.READ}, []string{"read"}, invalidInput},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			p := f.as(append(tc.holds, keyhaven.CREATE_ACCESS_KEYS_ANY)...)
			app := f.application(p.UserID)
			c, _, err := f.svc.CreateAccessKey(f.ctx, p, app.ID, keyhaven.AccessKeyInput{Name: "k", Scopes: tc.scopes})
			if got := outcome(err); got != tc.want {
				t.Fatalf("scopes %v holding %v: got %s, want %s", tc.scopes, p.Permissions.Strings(), got, tc.want)
			}
			if err == nil && c.Permissions.Missing(p.Permissions) != 0 {
				t.Errorf("the key holds %v beyond its creator's %v", c.Permissions.Strings(), p.Permissions.Strings())
			}
		})
	}
}

// TestRevokedApplicationIsFinal: a revoked application is gone for every action, and so are
// its keys, which stop working.
func TestRevokedApplicationIsFinal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		do   func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, secret string) error
		want string
	}{
		{"read", func(f *fixture, app *keyhaven.Application, _ *keyhaven.Credential, _ string) error {
			_, err := f.svc.Application(f.ctx, f.admin, app.ID)
			return err
		}, notFound},
		{"list", func(f *fixture, app *keyhaven.Application, _ *keyhaven.Credential, _ string) error {
			apps, err := f.svc.ListApplications(f.ctx, f.admin, keyhaven.Page{Limit: 1000})
			return listed(apps, err, app.ID, func(a *keyhaven.Application) string { return a.ID })
		}, notFound},
		{"edit", func(f *fixture, app *keyhaven.Application, _ *keyhaven.Credential, _ string) error {
			_, err := f.svc.UpdateApplication(f.ctx, f.admin, app.ID, keyhaven.ApplicationInput{Name: ptr("again")})
			return err
		}, notFound},
		{"revoke again", func(f *fixture, app *keyhaven.Application, _ *keyhaven.Credential, _ string) error {
			_, err := f.svc.RevokeApplication(f.ctx, f.admin, app.ID)
			return err
		}, notFound},
		{"create a key", func(f *fixture, app *keyhaven.Application, _ *keyhaven.Credential, _ string) error {
			_, _, err := f.svc.CreateAccessKey(f.ctx, f.admin, app.ID, keyhaven.AccessKeyInput{Name: "k", Scopes: names(keyhaven.READ)})
			return err
		}, notFound},
		{"view a key", func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, _ string) error {
			_, err := f.svc.AccessKey(f.ctx, f.admin, app.ID, key.ID)
			return err
		}, notFound},
		{"list keys", func(f *fixture, app *keyhaven.Application, _ *keyhaven.Credential, _ string) error {
			_, err := f.svc.ListAccessKeys(f.ctx, f.admin, app.ID, keyhaven.Page{Limit: 1000})
			return err
		}, notFound},
		{"edit a key", func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, _ string) error {
			_, err := f.svc.UpdateAccessKey(f.ctx, f.admin, app.ID, key.ID, keyhaven.AccessKeyUpdate{Name: ptr("again")})
			return err
		}, notFound},
		{"revoke a key", func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, _ string) error {
			_, err := f.svc.RevokeAccessKey(f.ctx, f.admin, app.ID, key.ID)
			return err
		}, notFound},
		{"authenticate with a key", func(f *fixture, _ *keyhaven.Application, _ *keyhaven.Credential, secret string) error {
			_, err := f.svc.Authenticate(f.ctx, keyhaven.Use{Secret: secret})
			return err
		}, unauthorized},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			app := f.application(f.admin.UserID)
			key, secret := f.accessKey(app, f.admin.UserID, time.Time{})
			revoked, err := f.svc.RevokeApplication(f.ctx, f.admin, app.ID)
			if err != nil {
				t.Fatal(err)
			}
			if revoked.Status() != keyhaven.ApplicationRevoked {
				t.Fatalf("status after revoking: got %s, want %s", revoked.Status(), keyhaven.ApplicationRevoked)
			}
			if got := outcome(tc.do(f, app, key, secret)); got != tc.want {
				t.Errorf("%s of a revoked application: got %s, want %s", tc.name, got, tc.want)
			}
		})
	}
}

// TestRevokedAccessKeyIsFinal: a revoked access key is gone for every action and never works
// again.
func TestRevokedAccessKeyIsFinal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		do   func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, secret string) error
		want string
	}{
		{"view", func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, _ string) error {
			_, err := f.svc.AccessKey(f.ctx, f.admin, app.ID, key.ID)
			return err
		}, notFound},
		{"list", func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, _ string) error {
			keys, err := f.svc.ListAccessKeys(f.ctx, f.admin, app.ID, keyhaven.Page{Limit: 1000})
			return listed(keys, err, key.ID, func(c *keyhaven.Credential) string { return c.ID })
		}, notFound},
		{"edit", func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, _ string) error {
			_, err := f.svc.UpdateAccessKey(f.ctx, f.admin, app.ID, key.ID, keyhaven.AccessKeyUpdate{Description: ptr("again")})
			return err
		}, notFound},
		{"revoke again", func(f *fixture, app *keyhaven.Application, key *keyhaven.Credential, _ string) error {
			_, err := f.svc.RevokeAccessKey(f.ctx, f.admin, app.ID, key.ID)
			return err
		}, notFound},
		{"authenticate", func(f *fixture, _ *keyhaven.Application, _ *keyhaven.Credential, secret string) error {
			_, err := f.svc.Authenticate(f.ctx, keyhaven.Use{Secret: secret})
			return err
		}, unauthorized},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			app := f.application(f.admin.UserID)
			key, secret := f.accessKey(app, f.admin.UserID, time.Time{})
			revoked, err := f.svc.RevokeAccessKey(f.ctx, f.admin, app.ID, key.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := keyhaven.AccessKeyStatusAt(revoked, f.svc.Now()); got != keyhaven.AccessKeyRevoked {
				t.Fatalf("status after revoking: got %s, want %s", got, keyhaven.AccessKeyRevoked)
			}
			if got := outcome(tc.do(f, app, key, secret)); got != tc.want {
				t.Errorf("%s a revoked access key: got %s, want %s", tc.name, got, tc.want)
			}
		})
	}
}

// TestAccessKeyStatusAt: an access key is EXPIRED from the instant its expiry passes, and
// REVOKED once revoked, expired or not.
func TestAccessKeyStatusAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name               string
		expiresAt, revoked time.Time
		want               keyhaven.AccessKeyStatus
	}{
		{"no expiry", time.Time{}, time.Time{}, keyhaven.AccessKeyActive},
		{"expires later", now.Add(time.Microsecond), time.Time{}, keyhaven.AccessKeyActive},
		{"expires now", now, time.Time{}, keyhaven.AccessKeyExpired},
		{"expired", now.Add(-time.Hour), time.Time{}, keyhaven.AccessKeyExpired},
		{"revoked", time.Time{}, now.Add(-time.Hour), keyhaven.AccessKeyRevoked},
		{"revoked, then expired", now.Add(-time.Minute), now.Add(-time.Hour), keyhaven.AccessKeyRevoked},
		{"revoked before its expiry", now.Add(time.Hour), now.Add(-time.Hour), keyhaven.AccessKeyRevoked},
	}
	for _, tc := range tests {
		c := &keyhaven.Credential{Kind: keyhaven.KindAccessKey, Active: true, ExpiresAt: tc.expiresAt, RevokedAt: tc.revoked}
		if got := keyhaven.AccessKeyStatusAt(c, now); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestAccessKeyExpiry: an access key's expiry is in the future when it is made; the key works
// until that instant and not from then on, while it stays listed as EXPIRED.
func TestAccessKeyExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		expiresIn      time.Duration // from creation
		after          time.Duration // time passed since creation when it is used
		create         string
		authenticate   string
		listedAsStatus keyhaven.AccessKeyStatus
	}{
		{"in the past", -time.Second, 0, invalidInput, "", ""},
		{"now", 0, 0, invalidInput, "", ""},
		{"before the expiry", time.Hour, time.Hour - time.Second, okay, okay, keyhaven.AccessKeyActive},
		{"at the expiry", time.Hour, time.Hour, okay, unauthorized, keyhaven.AccessKeyExpired},
		{"after the expiry", time.Hour, 2 * time.Hour, okay, unauthorized, keyhaven.AccessKeyExpired},
	}
	f := newFixture(t)
	app := f.application(f.admin.UserID)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			c, secret, err := f.svc.CreateAccessKey(f.ctx, f.admin, app.ID, keyhaven.AccessKeyInput{
				Name: f.name("k"), Scopes: names(keyhaven.READ), ExpiresAt: f.svc.Now().Add(tc.expiresIn)})
			if got := outcome(err); got != tc.create {
				t.Fatalf("create expiring in %s: got %s, want %s", tc.expiresIn, got, tc.create)
			}
			if err != nil {
				return
			}
			f.clock.Advance(tc.after)
			_, err = f.svc.Authenticate(f.ctx, keyhaven.Use{Secret: secret})
			if got := outcome(err); got != tc.authenticate {
				t.Errorf("authenticate %s after creation: got %s, want %s", tc.after, got, tc.authenticate)
			}
			keys, err := f.svc.ListAccessKeys(f.ctx, f.admin, app.ID, keyhaven.Page{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(keys, func(k *keyhaven.Credential) bool { return k.ID == c.ID })
			if i < 0 {
				t.Fatalf("a key %s after creation is not listed", tc.after)
			}
			if got := keyhaven.AccessKeyStatusAt(keys[i], f.svc.Now()); got != tc.listedAsStatus {
				t.Errorf("listed status %s after creation: got %s, want %s", tc.after, got, tc.listedAsStatus)
			}
		})
	}
}
