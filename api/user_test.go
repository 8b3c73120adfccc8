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

func TestUsers(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			key := e.Acme.APIKey
			other, err := e.Svc.CreateTenant(context.Background(), "other", "admin@other.test")
			if err != nil {
				t.Fatal(err)
			}
			otherAdmin := e.Do("GET", "/api/other/me", other.APIKey, nil).JSON()["user"].(map[string]any)["id"].(string)
			bobID, _ := e.CreateUser("bob@acme.test", keyhaven.READ)

			for _, s := range []apitest.Scenario{
				{Name: "healthz", URL: "/healthz", ExpectedStatus: 200, ExpectedContent: []string{`"ok"`}},
				{Name: "readyz", URL: "/readyz", ExpectedStatus: 200},
				{Name: "me with the bootstrap key", URL: "/api/acme/me", Token: key, ExpectedStatus: 200,
					ExpectedContent: []string{`"kind":"api_key"`, `"credentialName":"bootstrap"`, `"AUDIT_READ"`, `"email":"admin@acme.test"`}},
				{Name: "me without credential", URL: "/api/acme/me", ExpectedStatus: 401, ExpectedCode: "missing_credential"},
				{Name: "me with another tenant's key", URL: "/api/acme/me", Token: other.APIKey, ExpectedStatus: 403, ExpectedCode: "wrong_tenant",
					NotExpectedContent: []string{"admin@"}},
				{Name: "users of another tenant with its key", URL: "/api/other/users", Token: key, ExpectedStatus: 403, ExpectedCode: "wrong_tenant"},
				{Name: "another tenant's user id", URL: "/api/acme/users/" + otherAdmin, Token: key, ExpectedStatus: 404, ExpectedCode: "not_found"},
				{Name: "create with a generated password", Method: "POST", URL: "/api/acme/users", Token: key,
					Body: map[string]any{"email": "Carol@Acme.test", "permissions": []string{"READ", "WRITE"}}, ExpectedStatus: 201,
					ExpectedContent: []string{`"email":"carol@acme.test"`, `"password":"`, `"permissions":["READ","WRITE"]`}},
				{Name: "create with a chosen password returns none", Method: "POST", URL: "/api/acme/users", Token: key,
					Body: map[string]any{"email": "dave@acme.test", "password": "a-long-enough-password", "permissions": []string{}}, ExpectedStatus: 201,
					NotExpectedContent: []string{"password", "a-long-enough-password"}},
				{Name: "duplicate email, any case", Method: "POST", URL: "/api/acme/users", Token: key,
					Body: map[string]any{"email": "BOB@acme.test", "permissions": []string{}}, ExpectedStatus: 409, ExpectedCode: "duplicate"},
				{Name: "same email in another tenant is fine", Method: "POST", URL: "/api/other/users", Token: other.APIKey,
					Body: map[string]any{"email": "bob@acme.test", "permissions": []string{}}, ExpectedStatus: 201},
				{Name: "get user", URL: "/api/acme/users/" + bobID, Token: key, ExpectedStatus: 200,
					ExpectedContent: []string{`"bob@acme.test"`}, NotExpectedContent: []string{"argon2", "password"}},
				{Name: "update permissions", Method: "PATCH", URL: "/api/acme/users/" + bobID, Token: key,
					Body: map[string]any{"permissions": []string{"READ", "AUDIT_READ"}}, ExpectedStatus: 200,
					ExpectedContent: []string{`"permissions":["READ","AUDIT_READ"]`}},
				{Name: "update with nothing", Method: "PATCH", URL: "/api/acme/users/" + bobID, Token: key,
					Body: map[string]any{}, ExpectedStatus: 400, ExpectedCode: "invalid_input"},
				{Name: "list users", URL: "/api/acme/users?limit=2", Token: key, ExpectedStatus: 200,
					ExpectedContent: []string{`"nextCursor":"`, `"items":[`}},
				{Name: "delete self", Method: "DELETE", URL: "/api/acme/users/" + userID(t, e, key), Token: key,
					ExpectedStatus: 403, ExpectedCode: "self_delete"},
				{Name: "delete", Method: "DELETE", URL: "/api/acme/users/" + bobID, Token: key, ExpectedStatus: 204},
				{Name: "delete again", Method: "DELETE", URL: "/api/acme/users/" + bobID, Token: key, ExpectedStatus: 404},
				{Name: "deleted user is gone", URL: "/api/acme/users/" + bobID, Token: key, ExpectedStatus: 404},
				{Name: "audit log", URL: "/api/acme/audit?action=user.delete", Token: key, ExpectedStatus: 200,
					ExpectedContent: []string{`"action":"user.delete"`, `"outcome":"success"`, `"outcome":"denied"`, `"remoteAddr":"127.0.0.1"`}},
			} {
				s.Run(t, e)
			}
			t.Run("pagination walks every user once", func(t *testing.T) {
				seen := map[string]bool{}
				url := "/api/acme/users?limit=2"
				for range 10 {
					var page struct {
						Items      []struct{ ID string }
						NextCursor string
					}
					e.Do("GET", url, key, nil).Decode(t, &page)
					for _, u := range page.Items {
						if seen[u.ID] {
							t.Fatalf("user %s listed twice", u.ID)
						}
						seen[u.ID] = true
					}
					if page.NextCursor == "" {
						break
					}
					url = "/api/acme/users?limit=2&cursor=" + page.NextCursor
				}
				if len(seen) != 3 { // admin, carol, dave
					t.Fatalf("listed %d users, want 3", len(seen))
				}
			})
		})
	}
}

func userID(t *testing.T, e *apitest.Env, token string) string {
	t.Helper()
	var me struct{ User struct{ ID string } }
	e.Do("GET", "/api/acme/me", token, nil).Decode(t, &me)
	return me.User.ID
}

// TestNobodyGrantsMoreThanTheyHold covers the escalation rules: creating, promoting and
// removing users beyond one's own permissions.
func TestNobodyGrantsMoreThanTheyHold(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			_, manager := e.CreateUser("manager@acme.test", keyhaven.USER_MANAGEMENT, keyhaven.READ)
			readerID, reader := e.CreateUser("reader@acme.test", keyhaven.READ)
			adminID := userID(t, e, e.Acme.APIKey)
			for _, s := range []apitest.Scenario{
				{Name: "manager cannot create a KEY_MANAGEMENT user", Method: "POST", URL: "/api/acme/users", Token: manager,
					Body: map[string]any{"email": "x@acme.test", "permissions": []string{"KEY_MANAGEMENT"}}, ExpectedStatus: 403,
					ExpectedCode: "permission_escalation", ExpectedContent: []string{"KEY_MANAGEMENT"}},
				{Name: "manager can create within its own permissions", Method: "POST", URL: "/api/acme/users", Token: manager,
					Body: map[string]any{"email": "y@acme.test", "permissions": []string{"READ", "USER_MANAGEMENT"}}, ExpectedStatus: 201},
				{Name: "manager cannot promote beyond itself", Method: "PATCH", URL: "/api/acme/users/" + readerID, Token: manager,
					Body: map[string]any{"permissions": []string{"READ", "AUDIT_READ"}}, ExpectedStatus: 403, ExpectedCode: "permission_escalation"},
				{Name: "manager cannot promote itself", Method: "PATCH", URL: "/api/acme/users/" + userIDOf(t, e, manager), Token: manager,
					Body: map[string]any{"permissions": []string{"READ", "USER_MANAGEMENT", "KEY_MANAGEMENT"}}, ExpectedStatus: 403},
				{Name: "manager cannot delete the admin", Method: "DELETE", URL: "/api/acme/users/" + adminID, Token: manager,
					ExpectedStatus: 403, ExpectedCode: "user_more_privileged"},
				{Name: "manager cannot demote the admin", Method: "PATCH", URL: "/api/acme/users/" + adminID, Token: manager,
					Body: map[string]any{"permissions": []string{"READ"}}, ExpectedStatus: 403, ExpectedCode: "user_more_privileged"},
				{Name: "reader cannot list users", URL: "/api/acme/users", Token: reader, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
				{Name: "reader cannot create users", Method: "POST", URL: "/api/acme/users", Token: reader,
					Body: map[string]any{"email": "z@acme.test", "permissions": []string{}}, ExpectedStatus: 403},
				{Name: "reader reads itself", URL: "/api/acme/users/" + readerID, Token: reader, ExpectedStatus: 200},
				{Name: "reader changes its own password", Method: "PATCH", URL: "/api/acme/users/" + readerID, Token: reader,
					Body: map[string]any{"password": "another-long-password", "currentPassword": "correct-horse-battery"}, ExpectedStatus: 200},
				{Name: "reader cannot change its own permissions", Method: "PATCH", URL: "/api/acme/users/" + readerID, Token: reader,
					Body: map[string]any{"permissions": []string{"READ", "WRITE"}}, ExpectedStatus: 403},
				{Name: "reader cannot read the audit log", URL: "/api/acme/audit", Token: reader, ExpectedStatus: 403},
			} {
				s.Run(t, e)
			}
		})
	}
}

func userIDOf(t *testing.T, e *apitest.Env, token string) string { return userID(t, e, token) }

// TestOwnerDeletedStopsEveryCredential deletes a user and checks that its session and its
// API key answer 401 at once, and that narrowing a user's permissions narrows its
// credentials at once.
func TestOwnerDeletedStopsEveryCredential(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			id, session := e.CreateUser("owner@acme.test", keyhaven.READ, keyhaven.WRITE, keyhaven.AUDIT_READ)
			apiKey := secret.Generate(secret.APIKey)
			err := e.Store.CreateCredential(context.Background(), &keyhaven.Credential{
				ID: keyhaven.NewID("key"), TenantID: e.Acme.Tenant.ID, Kind: keyhaven.KindAPIKey, OwnerID: id, Name: "owned",
				Hash: secret.Hash(apiKey), Display: secret.Display(apiKey), Permissions: keyhaven.AllPermissions,
				Active: true, CreatedAt: e.Clock.Now(),
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range []string{session, apiKey} {
				if r := e.Do("GET", "/api/acme/audit", tok, nil); r.Status != 200 {
					t.Fatalf("before: %d %s", r.Status, r.Body)
				}
			}
			// The key holds every permission, but acts only within its owner's.
			if perms := e.Do("GET", "/api/acme/me", apiKey, nil).JSON()["permissions"]; len(perms.([]any)) != 3 {
				t.Fatalf("key's effective permissions %v, want the owner's three", perms)
			}
			r := e.Do("PATCH", "/api/acme/users/"+id, e.Acme.APIKey, map[string]any{"permissions": []string{"READ"}})
			if r.Status != 200 {
				t.Fatal(r.Status, string(r.Body))
			}
			for _, tok := range []string{session, apiKey} {
				if r := e.Do("GET", "/api/acme/audit", tok, nil); r.Status != 403 {
					t.Fatalf("after narrowing: status %d, want 403", r.Status)
				}
			}
			if r := e.Do("DELETE", "/api/acme/users/"+id, e.Acme.APIKey, nil); r.Status != 204 {
				t.Fatal(r.Status, string(r.Body))
			}
			for _, tok := range []string{session, apiKey} {
				if r := e.Do("GET", "/api/acme/me", tok, nil); r.Status != 401 {
					t.Fatalf("after delete: status %d, want 401: %s", r.Status, r.Body)
				}
			}
		})
	}
}

func TestSessions(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	tok := e.Login("acme", "ADMIN@acme.test", e.Acme.AdminPassword)
	if !strings.HasPrefix(tok, "khs_") {
		t.Fatalf("session token %q lacks the session prefix", tok)
	}
	for _, s := range []apitest.Scenario{
		{Name: "session works", URL: "/api/acme/me", Token: tok, ExpectedStatus: 200, ExpectedContent: []string{`"kind":"session"`, `"expiresAt"`}},
		{Name: "wrong password", Method: "POST", URL: "/api/acme/login", Body: map[string]string{"email": "admin@acme.test", "password": "wrong-password-123"},
			ExpectedStatus: 401, ExpectedCode: "invalid_credentials"},
		{Name: "unknown email", Method: "POST", URL: "/api/acme/login", Body: map[string]string{"email": "nobody@acme.test", "password": "wrong-password-123"},
			ExpectedStatus: 401, ExpectedCode: "invalid_credentials"},
		{Name: "unknown tenant", Method: "POST", URL: "/api/nowhere/login", Body: map[string]string{"email": "admin@acme.test", "password": e.Acme.AdminPassword},
			ExpectedStatus: 401, ExpectedCode: "invalid_credentials"},
		{Name: "logout with an API key", Method: "POST", URL: "/api/acme/logout", Token: e.Acme.APIKey, ExpectedStatus: 400, ExpectedCode: "not_a_session"},
		{Name: "logout", Method: "POST", URL: "/api/acme/logout", Token: tok, ExpectedStatus: 204},
		{Name: "session ended", URL: "/api/acme/me", Token: tok, ExpectedStatus: 401},
	} {
		s.Run(t, e)
	}
	t.Run("session expires with the clock", func(t *testing.T) {
		tok := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
		e.Clock.Advance(e.Svc.SessionTTL - 1)
		if r := e.Do("GET", "/api/acme/me", tok, nil); r.Status != 200 {
			t.Fatalf("before expiry: %d", r.Status)
		}
		e.Clock.Advance(1)
		if r := e.Do("GET", "/api/acme/me", tok, nil); r.Status != 401 {
			t.Fatalf("at expiry: %d, want 401", r.Status)
		}
		if n, err := e.Svc.CollectGarbage(context.Background()); err != nil || n != 1 {
			t.Fatalf("CollectGarbage = %d, %v; want 1", n, err)
		}
	})
	t.Run("no secret reaches the log", func(t *testing.T) {
		logs := e.Logs()
		if found := secret.FindAll(logs); len(found) > 0 {
			t.Fatalf("secrets in the log: %v", found)
		}
		if strings.Contains(logs, e.Acme.AdminPassword) || strings.Contains(logs, "wrong-password-123") {
			t.Fatal("a password is in the log")
		}
	})
}

var _ = http.StatusOK
