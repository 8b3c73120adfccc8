package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// newAPIKey stores an API key of owner holding perms and returns its secret.
func newAPIKey(t *testing.T, e *apitest.Env, owner string, perms ...keyhaven.Permission) string {
	t.Helper()
	key := secret.Generate(secret.APIKey)
	err := e.Store.CreateCredential(context.Background(), &keyhaven.Credential{
		ID: keyhaven.NewID("key"), TenantID: e.Acme.Tenant.ID, Kind: keyhaven.KindAPIKey, OwnerID: owner,
		Name: strings.ReplaceAll(testdb.Name("key"), "-", "_"), Hash: secret.Hash(key), Display: secret.Display(key),
		Permissions: keyhaven.NewPermissionSet(perms...), Active: true, CreatedAt: e.Clock.Now(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// newAccessKey creates, with token, an application and an access key in it scoped to scopes,
// and returns the key's secret.
func newAccessKey(t *testing.T, e *apitest.Env, token string, scopes ...string) string {
	t.Helper()
	var app struct{ ID string }
	r := e.Do("POST", "/api/acme/applications", token, map[string]any{"name": testdb.Name("app")})
	if r.Status != http.StatusCreated {
		t.Fatalf("create application: %d %s", r.Status, r.Body)
	}
	r.Decode(t, &app)
	var k struct{ Key string }
	r = e.Do("POST", "/api/acme/applications/"+app.ID+"/access-keys", token, map[string]any{"name": "k", "scopes": scopes})
	if r.Status != http.StatusCreated {
		t.Fatalf("create access key: %d %s", r.Status, r.Body)
	}
	r.Decode(t, &k)
	return k.Key
}

// TestNarrowCredentialCannotTakeOverItsOwner is the account takeover of the review: a
// READ-only key (API key or access key) of the admin set the admin's password, and a
// USER_MANAGEMENT-only key demoted the admin for good. A user's own password changes only
// through a session of their own with the current password; managing a user, one's own
// included, is judged by the calling credential's effective permissions.
func TestNarrowCredentialCannotTakeOverItsOwner(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := userID(t, e, e.Acme.APIKey)
			readKey := newAPIKey(t, e, admin, keyhaven.READ)
			readAccessKey := newAccessKey(t, e, e.Acme.APIKey, "READ")
			managerKey := newAPIKey(t, e, admin, keyhaven.USER_MANAGEMENT)
			takeover := map[string]any{"password": "attacker-chosen-pw-1"}
			withCurrent := map[string]any{"password": "attacker-chosen-pw-1", "currentPassword": e.Acme.AdminPassword}
			for _, s := range []apitest.Scenario{
				{Name: "READ API key sets its owner's password", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: readKey,
					Body: takeover, ExpectedStatus: 403},
				{Name: "READ access key sets its owner's password", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: readAccessKey,
					Body: takeover, ExpectedStatus: 403},
				{Name: "READ API key with the current password", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: readKey,
					Body: withCurrent, ExpectedStatus: 403, ExpectedCode: "session_required"},
				{Name: "USER_MANAGEMENT key sets its owner's password", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: managerKey,
					Body: takeover, ExpectedStatus: 403, ExpectedCode: "session_required"},
				{Name: "every-permission key sets its owner's password", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: e.Acme.APIKey,
					Body: takeover, ExpectedStatus: 403, ExpectedCode: "session_required"},
				{Name: "USER_MANAGEMENT key demotes its owner", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: managerKey,
					Body: map[string]any{"permissions": []string{"USER_MANAGEMENT"}}, ExpectedStatus: 403, ExpectedCode: "user_more_privileged"},
				{Name: "USER_MANAGEMENT key deletes its owner", Method: "DELETE", URL: "/api/acme/users/" + admin, Token: managerKey,
					ExpectedStatus: 403},
			} {
				s.Run(t, e)
			}
			if r := e.Do("POST", "/api/acme/login", "", map[string]string{"email": "admin@acme.test", "password": "attacker-chosen-pw-1"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("login with the attacker's password: %d, want 401", r.Status)
			}
			var me apitest.Me
			e.Do("GET", "/api/acme/me", e.Acme.APIKey, nil).Decode(t, &me)
			if len(me.Permissions) != len(keyhaven.Permissions) {
				t.Fatalf("the admin holds %v after the attacks, want every permission", me.Permissions)
			}
		})
	}
}

// TestOwnPasswordChange: a signed-in user changes their own password with the current one,
// and the change ends every other session of theirs; a manager resetting another user's
// password ends all of that user's sessions.
func TestOwnPasswordChange(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := userID(t, e, e.Acme.APIKey)
			current := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
			other := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
			bob, bobSession := e.CreateUser("bob@acme.test", keyhaven.READ)
			for _, s := range []apitest.Scenario{
				{Name: "without the current password", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: current,
					Body: map[string]any{"password": "a-new-long-password"}, ExpectedStatus: 400, ExpectedCode: "invalid_input",
					ExpectedContent: []string{"currentPassword"}},
				{Name: "with a wrong current password", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: current,
					Body: map[string]any{"password": "a-new-long-password", "currentPassword": "not-the-password"}, ExpectedStatus: 403,
					ExpectedCode: "wrong_current_password"},
				{Name: "current password without a new one", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: current,
					Body: map[string]any{"permissions": []string{"READ"}, "currentPassword": e.Acme.AdminPassword}, ExpectedStatus: 400},
				{Name: "with the current password", Method: "PATCH", URL: "/api/acme/users/" + admin, Token: current,
					Body: map[string]any{"password": "a-new-long-password", "currentPassword": e.Acme.AdminPassword}, ExpectedStatus: 200},
				{Name: "the calling session goes on", URL: "/api/acme/me", Token: current, ExpectedStatus: 200},
				{Name: "the other session ended", URL: "/api/acme/me", Token: other, ExpectedStatus: 401},
				{Name: "API keys go on", URL: "/api/acme/me", Token: e.Acme.APIKey, ExpectedStatus: 200},
				{Name: "a manager resets bob's password", Method: "PATCH", URL: "/api/acme/users/" + bob, Token: current,
					Body: map[string]any{"password": "bobs-new-long-password"}, ExpectedStatus: 200},
				{Name: "bob's session ended", URL: "/api/acme/me", Token: bobSession, ExpectedStatus: 401},
			} {
				s.Run(t, e)
			}
			e.Login("acme", "admin@acme.test", "a-new-long-password")
			e.Login("acme", "bob@acme.test", "bobs-new-long-password")
			if evs := e.Audit("action=user.update&outcome=success"); len(evs) < 2 {
				t.Fatalf("%d successful user.update events, want 2", len(evs))
			}
		})
	}
}
