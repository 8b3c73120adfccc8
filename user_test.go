package keyhaven_test

import (
	"testing"

	"keyhaven.dev/keyhaven"
)

// TestUserGrants: managing users needs USER_MANAGEMENT, and a user is created with, or given,
// only permissions the calling credential holds (implied ones included).
func TestUserGrants(t *testing.T) {
	t.Parallel()
	manager := []keyhaven.Permission{keyhaven.USER_MANAGEMENT, keyhaven.READ, keyhaven.EDIT_APPLICATION}
	tests := []struct {
		name           string
		holds          []keyhaven.Permission
		perms          []string
		create, update string
	}{
		{"none", manager, nil, okay, okay},
		{"one held", manager, names(keyhaven.READ), okay, okay},
		{"all held", manager, names(manager...), okay, okay},
		{"implied by one held", manager, names(keyhaven.VIEW_APPLICATIONS), okay, okay},
		{"one not held", manager, names(keyhaven.READ, keyhaven.WRITE), escalation, escalation},
		{"_ANY when holding _OWN", append(manager, keyhaven.VIEW_ACCESS_KEYS_OWN), names(keyhaven.VIEW_ACCESS_KEYS_ANY), escalation, escalation},
		{"unknown", manager, []string{"READ", "ADMIN"}, invalidInput, invalidInput},
		{"without USER_MANAGEMENT", []keyhaven.Permission{keyhaven.READ, keyhaven.KEY_MANAGEMENT}, names(keyhaven.READ), missingPermission, missingPermission},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			p := f.as(tc.holds...)
			u, _, err := f.svc.CreateUser(f.ctx, p, keyhaven.CreateUserInput{Email: f.name("created") + "@acme.test", Permissions: tc.perms})
			if got := outcome(err); got != tc.create {
				t.Errorf("create with %v holding %v: got %s, want %s", tc.perms, tc.holds, got, tc.create)
			}
			if err == nil && u.Permissions.Missing(p.Permissions) != 0 {
				t.Errorf("created a user holding %v beyond the creator's %v", u.Permissions.Strings(), p.Permissions.Strings())
			}
			target := f.user(keyhaven.READ)
			_, err = f.svc.UpdateUser(f.ctx, p, target.ID, keyhaven.UpdateUserInput{Permissions: &tc.perms})
			if got := outcome(err); got != tc.update {
				t.Errorf("update to %v holding %v: got %s, want %s", tc.perms, tc.holds, got, tc.update)
			}
		})
	}
}

// TestManageUser: changing a user's permissions or password, or deleting the user, needs
// USER_MANAGEMENT and a target holding no permission the calling credential lacks. Reading
// another user needs USER_MANAGEMENT alone. Nobody deletes the user they act for.
func TestManageUser(t *testing.T) {
	t.Parallel()
	manager := []keyhaven.Permission{keyhaven.USER_MANAGEMENT, keyhaven.READ, keyhaven.WRITE, keyhaven.CREATE_APPLICATION}
	morePrivileged := keyhaven.EFORBIDDEN + ":user_more_privileged"
	tests := []struct {
		name         string
		holds        []keyhaven.Permission
		target       []keyhaven.Permission
		change, read string
	}{
		{"target holding nothing", manager, nil, okay, okay},
		{"target holding less", manager, []keyhaven.Permission{keyhaven.READ}, okay, okay},
		{"target holding the same", manager, manager, okay, okay},
		{"target holding one implied", manager, []keyhaven.Permission{keyhaven.VIEW_APPLICATIONS}, okay, okay},
		{"target holding one more", manager, []keyhaven.Permission{keyhaven.READ, keyhaven.AUDIT_READ}, morePrivileged, okay},
		{"target holding USER_MANAGEMENT and an _ANY of the caller's _OWN", append(manager, keyhaven.EDIT_ACCESS_KEYS_OWN),
			[]keyhaven.Permission{keyhaven.USER_MANAGEMENT, keyhaven.EDIT_ACCESS_KEYS_ANY}, morePrivileged, okay},
		{"without USER_MANAGEMENT", []keyhaven.Permission{keyhaven.READ, keyhaven.WRITE}, nil, missingPermission, missingPermission},
	}
	actions := []struct {
		name string
		do   func(f *fixture, p *keyhaven.Principal, id string) error
	}{
		{"read", func(f *fixture, p *keyhaven.Principal, id string) error {
			_, err := f.svc.User(f.ctx, p, id)
			return err
		}},
		{"set permissions", func(f *fixture, p *keyhaven.Principal, id string) error {
			_, err := f.svc.UpdateUser(f.ctx, p, id, keyhaven.UpdateUserInput{Permissions: &[]string{}})
			return err
		}},
		{"set password", func(f *fixture, p *keyhaven.Principal, id string) error {
			_, err := f.svc.UpdateUser(f.ctx, p, id, keyhaven.UpdateUserInput{Password: ptr("a-new-password-long-enough")})
			return err
		}},
		{"delete", func(f *fixture, p *keyhaven.Principal, id string) error {
			return f.svc.DeleteUser(f.ctx, p, id)
		}},
	}
	f := newFixture(t)
	for _, tc := range tests {
		for _, action := range actions {
			t.Run(tc.name+"/"+action.name, func(t *testing.T) {
				f.t = t
				p := f.as(tc.holds...)
				target := f.user(tc.target...)
				want := tc.change
				if action.name == "read" {
					want = tc.read
				}
				if got := outcome(action.do(f, p, target.ID)); got != want {
					t.Errorf("%s a user holding %v, holding %v: got %s, want %s", action.name, tc.target, tc.holds, got, want)
				}
				if _, err := f.store.User(f.ctx, f.admin.TenantID, target.ID); (err == nil) != (action.name != "delete" || want != okay) {
					t.Errorf("the target after %s: %v", action.name, err)
				}
			})
		}
	}
	// The caller's own user and users that do not exist.
	const unknown = "usr_0000000000000000000000zz"
	self := []struct {
		name  string
		holds []keyhaven.Permission
		id    string // "" the caller's own user
		do    func(f *fixture, p *keyhaven.Principal, id string) error
		want  string
	}{
		{"delete oneself", manager, "", actions[3].do, keyhaven.EFORBIDDEN + ":self_delete"},
		{"read oneself without USER_MANAGEMENT", []keyhaven.Permission{keyhaven.READ}, "", actions[0].do, okay},
		{"read a user that does not exist", manager, unknown, actions[0].do, notFound},
		{"change a user that does not exist", manager, unknown, actions[1].do, notFound},
		{"delete a user that does not exist", manager, unknown, actions[3].do, notFound},
		{"read a user by a malformed id", manager, "someone", actions[0].do, notFound},
	}
	for _, tc := range self {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			p := f.as(tc.holds...)
			id := tc.id
			if id == "" {
				id = p.UserID
			}
			if got := outcome(tc.do(f, p, id)); got != tc.want {
				t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
			}
		})
	}
}

// TestSelfDemotionThroughNarrowCredential: the rule on managing users holds for the caller's
// own user too: a credential narrower than its owner cannot change the owner's permissions,
// and only a session of the owner's changes the owner's password.
func TestSelfDemotionThroughNarrowCredential(t *testing.T) {
	t.Parallel()
	allButAudit := perms(keyhaven.Permissions...) &^ perms(keyhaven.AUDIT_READ)
	morePrivileged := keyhaven.EFORBIDDEN + ":user_more_privileged"
	sessionRequired := keyhaven.EFORBIDDEN + ":session_required"
	tests := []struct {
		name     string
		via      keyhaven.CredentialKind
		key      keyhaven.PermissionSet // the API key's permissions
		password bool                   // change the password (with the right current one) instead of the permissions
		want     string
	}{
		{"demote through a session", keyhaven.KindSession, 0, false, okay},
		{"demote through a key holding everything", keyhaven.KindAPIKey, keyhaven.AllPermissions, false, okay},
		{"demote through a key holding only USER_MANAGEMENT", keyhaven.KindAPIKey, perms(keyhaven.USER_MANAGEMENT), false, morePrivileged},
		{"demote through a key lacking one permission", keyhaven.KindAPIKey, allButAudit, false, morePrivileged},
		{"re-password through a session", keyhaven.KindSession, 0, true, okay},
		{"re-password through a key holding everything", keyhaven.KindAPIKey, keyhaven.AllPermissions, true, sessionRequired},
		{"re-password through a key holding only USER_MANAGEMENT", keyhaven.KindAPIKey, perms(keyhaven.USER_MANAGEMENT), true, sessionRequired},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			owner := f.user(keyhaven.Permissions...)
			var p *keyhaven.Principal
			if tc.via == keyhaven.KindSession {
				p, _ = f.session(owner.Email, fixturePassword)
			} else {
				p, _ = f.key(owner, tc.key.List()...)
			}
			in := keyhaven.UpdateUserInput{Permissions: &[]string{string(keyhaven.USER_MANAGEMENT)}}
			if tc.password {
				in = keyhaven.UpdateUserInput{Password: ptr("a-new-password-long-enough"), CurrentPassword: ptr(fixturePassword)}
			}
			_, err := f.svc.UpdateUser(f.ctx, p, owner.ID, in)
			if got := outcome(err); got != tc.want {
				t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
			}
			after, err := f.store.User(f.ctx, f.admin.TenantID, owner.ID)
			if err != nil {
				t.Fatal(err)
			}
			demoted := after.Permissions != keyhaven.AllPermissions
			if demoted != (tc.want == okay && !tc.password) {
				t.Errorf("%s: the owner holds %v afterwards", tc.name, after.Permissions.Strings())
			}
		})
	}
}

// TestPasswordChangeRules: users change their own password only through a session of their
// own and with the current password; others' passwords are changed by their managers without
// it. A change ends every session of the user but the one making it.
func TestPasswordChangeRules(t *testing.T) {
	t.Parallel()
	const newPassword = "a-new-password-long-enough"
	manager := []keyhaven.Permission{keyhaven.USER_MANAGEMENT, keyhaven.READ}
	tests := []struct {
		name              string
		self              bool
		via               keyhaven.CredentialKind
		holds             []keyhaven.Permission // the caller's user's
		target            []keyhaven.Permission // the other user's
		current, password *string
		want              string
	}{
		{"own, through a session, with the current one", true, keyhaven.KindSession, []keyhaven.Permission{keyhaven.READ}, nil,
			ptr(fixturePassword), ptr(newPassword), okay},
		{"own, through a session of a manager, with the current one", true, keyhaven.KindSession, manager, nil,
			ptr(fixturePassword), ptr(newPassword), okay},
		{"own, through a session, without the current one", true, keyhaven.KindSession, manager, nil,
			nil, ptr(newPassword), invalidInput},
		{"own, through a session, with a wrong current one", true, keyhaven.KindSession, manager, nil,
			ptr("not-the-password-at-all"), ptr(newPassword), keyhaven.EFORBIDDEN + ":wrong_current_password"},
		{"own, through an API key, with the current one", true, keyhaven.KindAPIKey, manager, nil,
			ptr(fixturePassword), ptr(newPassword), keyhaven.EFORBIDDEN + ":session_required"},
		{"own, too short", true, keyhaven.KindSession, manager, nil,
			ptr(fixturePassword), ptr("short"), invalidInput},
		{"own, the current one alone", true, keyhaven.KindSession, manager, nil,
			ptr(fixturePassword), nil, invalidInput},
		{"another's, through a session of a manager", false, keyhaven.KindSession, manager, []keyhaven.Permission{keyhaven.READ},
			nil, ptr(newPassword), okay},
		{"another's, through an API key of a manager", false, keyhaven.KindAPIKey, manager, []keyhaven.Permission{keyhaven.READ},
			nil, ptr(newPassword), okay},
		{"another's, without USER_MANAGEMENT", false, keyhaven.KindSession, []keyhaven.Permission{keyhaven.READ}, []keyhaven.Permission{keyhaven.READ},
			nil, ptr(newPassword), missingPermission},
		{"another's, more privileged", false, keyhaven.KindSession, manager, []keyhaven.Permission{keyhaven.READ, keyhaven.WRITE},
			nil, ptr(newPassword), keyhaven.EFORBIDDEN + ":user_more_privileged"},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			caller := f.user(tc.holds...)
			var p *keyhaven.Principal
			var callerSession string
			if tc.via == keyhaven.KindSession {
				p, callerSession = f.session(caller.Email, fixturePassword)
			} else {
				p, _ = f.key(caller, keyhaven.Permissions...)
			}
			target := caller
			if !tc.self {
				target = f.user(tc.target...)
			}
			_, otherSession := f.session(target.Email, fixturePassword)
			_, err := f.svc.UpdateUser(f.ctx, p, target.ID, keyhaven.UpdateUserInput{Password: tc.password, CurrentPassword: tc.current})
			if got := outcome(err); got != tc.want {
				t.Fatalf("%s: got %s, want %s", tc.name, got, tc.want)
			}
			changed := err == nil
			// The target signs in with the new password exactly when it changed.
			_, err = f.svc.Login(f.ctx, "acme", target.Email, newPassword)
			if (err == nil) != changed {
				t.Errorf("sign in with the new password: %v, want success %v", err, changed)
			}
			// A change ends the target's other sessions, not the one that made it.
			if _, err := f.svc.Authenticate(f.ctx, keyhaven.Use{Secret: otherSession}); (err == nil) == changed {
				t.Errorf("the target's other session after the change: %v", err)
			}
			if callerSession != "" {
				if _, err := f.svc.Authenticate(f.ctx, keyhaven.Use{Secret: callerSession}); err != nil {
					t.Errorf("the calling session after the change: %v", err)
				}
			}
		})
	}
}

// TestAuditActors names the users audit events acted for, deleted ones included, to a
// principal that may read the audit log, and to no other.
func TestAuditActors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	kept, gone := f.user(keyhaven.READ), f.user(keyhaven.READ)
	if err := f.svc.DeleteUser(f.ctx, f.admin, gone.ID); err != nil {
		t.Fatal(err)
	}
	events := []*keyhaven.AuditEvent{{ActorUserID: kept.ID}, {ActorUserID: gone.ID}, {ActorUserID: kept.ID}, {ActorKind: "system"}}
	got, err := f.svc.AuditActors(f.ctx, f.as(keyhaven.AUDIT_READ), events)
	if err != nil || len(got) != 2 || got[kept.ID] != kept.Email || got[gone.ID] != gone.Email {
		t.Fatalf("AuditActors = %v, %v; want the emails of %s and %s", got, err, kept.Email, gone.Email)
	}
	if _, err := f.svc.AuditActors(f.ctx, f.as(keyhaven.READ, keyhaven.USER_MANAGEMENT), events); outcome(err) != missingPermission {
		t.Fatalf("AuditActors without AUDIT_READ: %v, want %s", err, missingPermission)
	}
}
