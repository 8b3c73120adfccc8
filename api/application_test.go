package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// createApp creates an application as the admin and returns its id.
func createApp(t *testing.T, e *apitest.Env, token, name string) string {
	t.Helper()
	r := e.Do("POST", "/api/acme/applications", token, map[string]any{"name": name})
	if r.Status != http.StatusCreated {
		t.Fatalf("create application %s: %d %s", name, r.Status, r.Body)
	}
	return r.JSON()["id"].(string)
}

// createKey creates an access key and returns its id and secret.
func createKey(t *testing.T, e *apitest.Env, token, appID, name string, scopes ...string) (id, key string) {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"READ"}
	}
	r := e.Do("POST", "/api/acme/applications/"+appID+"/access-keys", token, map[string]any{"name": name, "scopes": scopes})
	if r.Status != http.StatusCreated {
		t.Fatalf("create key %s: %d %s", name, r.Status, r.Body)
	}
	m := r.JSON()
	return m["id"].(string), m["key"].(string)
}

func TestApplications(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := e.Acme.APIKey
			app := createApp(t, e, admin, "billing")
			keyID, key := createKey(t, e, admin, app, "deploy", "READ", "VIEW_APPLICATIONS")
			_, viewer := e.CreateUser("viewer@acme.test", keyhaven.VIEW_APPLICATIONS)
			_, creator := e.CreateUser("creator@acme.test", keyhaven.CREATE_APPLICATION, keyhaven.CREATE_ACCESS_KEYS_OWN, keyhaven.READ)
			apps := "/api/acme/applications"
			keys := apps + "/" + app + "/access-keys"
			future := e.Clock.Now().Add(time.Hour).Format(time.RFC3339)
			past := e.Clock.Now().Add(-time.Hour).Format(time.RFC3339)
			for _, s := range []apitest.Scenario{
				{Name: "list", URL: apps, Token: admin, ExpectedStatus: 200, ExpectedContent: []string{`"name":"billing"`, `"status":"ACTIVE"`}},
				{Name: "get", URL: apps + "/" + app, Token: admin, ExpectedStatus: 200, ExpectedContent: []string{`"createdBy":"usr_`}},
				{Name: "duplicate name", Method: "POST", URL: apps, Token: admin, Body: map[string]any{"name": "billing"}, ExpectedStatus: 409, ExpectedCode: "duplicate"},
				{Name: "blank name", Method: "POST", URL: apps, Token: admin, Body: map[string]any{"name": "  "}, ExpectedStatus: 400, ExpectedCode: "invalid_input"},
				{Name: "viewer lists", URL: apps, Token: viewer, ExpectedStatus: 200},
				{Name: "viewer cannot create", Method: "POST", URL: apps, Token: viewer, Body: map[string]any{"name": "x"}, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
				{Name: "viewer cannot edit", Method: "PATCH", URL: apps + "/" + app, Token: viewer, Body: map[string]any{"name": "x"}, ExpectedStatus: 403},
				{Name: "viewer cannot revoke", Method: "POST", URL: apps + "/" + app + "/revoke", Token: viewer, ExpectedStatus: 403},
				{Name: "viewer cannot list keys", URL: keys, Token: viewer, ExpectedStatus: 403},
				{Name: "creating implies viewing", URL: apps, Token: creator, ExpectedStatus: 200},
				{Name: "creator creates", Method: "POST", URL: apps, Token: creator, Body: map[string]any{"name": "crm", "description": "the CRM sync"}, ExpectedStatus: 201,
					ExpectedContent: []string{`"description":"the CRM sync"`}},
				{Name: "edit", Method: "PATCH", URL: apps + "/" + app, Token: admin, Body: map[string]any{"description": "invoices"}, ExpectedStatus: 200,
					ExpectedContent: []string{`"name":"billing"`, `"description":"invoices"`}},
				{Name: "edit with nothing", Method: "PATCH", URL: apps + "/" + app, Token: admin, Body: map[string]any{}, ExpectedStatus: 400},
				{Name: "unknown application", URL: apps + "/app_00000000000000000000000000", Token: admin, ExpectedStatus: 404},
				{Name: "list keys shows no secret", URL: keys, Token: admin, ExpectedStatus: 200,
					ExpectedContent:    []string{`"name":"deploy"`, `"status":"ACTIVE"`, `"scopes":["READ","VIEW_APPLICATIONS"]`, `"displayPrefix":"` + key[:10] + `"`, `"createdBy":"usr_`},
					NotExpectedContent: []string{key, `"key"`}},
				{Name: "get key shows no secret", URL: keys + "/" + keyID, Token: admin, ExpectedStatus: 200, NotExpectedContent: []string{key}},
				{Name: "scopes beyond the caller", Method: "POST", URL: keys, Token: creator, Body: map[string]any{"name": "k", "scopes": []string{"KEY_MANAGEMENT"}},
					ExpectedStatus: 403},
				{Name: "scopes beyond the caller's permissions", Method: "POST", URL: apps + "/" + createApp(t, e, creator, "mine") + "/access-keys", Token: creator,
					Body: map[string]any{"name": "k", "scopes": []string{"READ", "WRITE"}}, ExpectedStatus: 403, ExpectedCode: "permission_escalation"},
				{Name: "no scopes", Method: "POST", URL: keys, Token: admin, Body: map[string]any{"name": "k", "scopes": []string{}}, ExpectedStatus: 400},
				{Name: "unknown scope", Method: "POST", URL: keys, Token: admin, Body: map[string]any{"name": "k", "scopes": []string{"ROOT"}}, ExpectedStatus: 400},
				{Name: "expiry in the past", Method: "POST", URL: keys, Token: admin, Body: map[string]any{"name": "k", "scopes": []string{"READ"}, "expiresAt": past},
					ExpectedStatus: 400, ExpectedContent: []string{"expiresAt"}},
				{Name: "expiry not a time", Method: "POST", URL: keys, Token: admin, Body: map[string]any{"name": "k", "scopes": []string{"READ"}, "expiresAt": "tomorrow"},
					ExpectedStatus: 400},
				{Name: "expiry in the future", Method: "POST", URL: keys, Token: admin, Body: map[string]any{"name": "expiring", "scopes": []string{"READ"}, "expiresAt": future},
					ExpectedStatus: 201, ExpectedContent: []string{`"key":"kha_`, `"expiresAt":"`}},
				{Name: "scopes never change", Method: "PATCH", URL: keys + "/" + keyID, Token: admin, Body: map[string]any{"scopes": []string{"READ"}},
					ExpectedStatus: 400, ExpectedContent: []string{"scopes"}},
				{Name: "edit key", Method: "PATCH", URL: keys + "/" + keyID, Token: admin, Body: map[string]any{"name": "deploy-ci", "description": "CI"},
					ExpectedStatus: 200, ExpectedContent: []string{`"name":"deploy-ci"`, `"scopes":["READ","VIEW_APPLICATIONS"]`}},
				{Name: "key of another application", URL: apps + "/" + createApp(t, e, admin, "other") + "/access-keys/" + keyID, Token: admin, ExpectedStatus: 404},
			} {
				s.Run(t, e)
			}

			t.Run("a key works with exactly its effective permissions", func(t *testing.T) {
				if r := e.Do("GET", apps, key, nil); r.Status != 200 {
					t.Fatalf("key scoped to VIEW_APPLICATIONS lists applications: %d", r.Status)
				}
				if r := e.Do("POST", apps, key, map[string]any{"name": "by-key"}); r.Status != 403 {
					t.Fatalf("key scoped to VIEW_APPLICATIONS creates an application: %d", r.Status)
				}
				var me apitest.Me
				e.Do("GET", "/api/acme/me", key, nil).Decode(t, &me)
				if me.Kind != "access_key" || fmt.Sprint(me.Permissions) != "[READ VIEW_APPLICATIONS]" {
					t.Fatalf("me = %+v", me)
				}
			})

			t.Run("revoked key is gone and never works", func(t *testing.T) {
				id, k := createKey(t, e, admin, app, "short-lived")
				if r := e.Do("POST", keys+"/"+id+"/revoke", admin, nil); r.Status != 200 || r.JSON()["status"] != "REVOKED" {
					t.Fatalf("revoke: %d %s", r.Status, r.Body)
				}
				if r := e.Do("GET", "/api/acme/me", k, nil); r.Status != 401 {
					t.Fatalf("revoked key: %d, want 401", r.Status)
				}
				if r := e.Do("GET", keys+"/"+id, admin, nil); r.Status != 404 {
					t.Fatalf("revoked key still readable: %d", r.Status)
				}
				if r := e.Do("POST", keys+"/"+id+"/revoke", admin, nil); r.Status != 404 {
					t.Fatalf("revoking twice: %d", r.Status)
				}
			})

			t.Run("expired key is listed and never works", func(t *testing.T) {
				r := e.Do("POST", keys, admin, map[string]any{"name": "minute", "scopes": []string{"READ"},
					"expiresAt": e.Clock.Now().Add(time.Minute).Format(time.RFC3339Nano)})
				m := r.JSON()
				k := m["key"].(string)
				if r := e.Do("GET", "/api/acme/me", k, nil); r.Status != 200 {
					t.Fatalf("before expiry: %d", r.Status)
				}
				e.Clock.Advance(time.Minute)
				if r := e.Do("GET", "/api/acme/me", k, nil); r.Status != 401 {
					t.Fatalf("at expiry: %d, want 401", r.Status)
				}
				if r := e.Do("GET", keys+"/"+m["id"].(string), admin, nil); r.Status != 200 || r.JSON()["status"] != "EXPIRED" {
					t.Fatalf("expired key: %d %s", r.Status, r.Body)
				}
				if n, _ := e.Svc.CollectGarbage(context.Background()); n != 0 {
					t.Fatalf("garbage collection deleted %d expired access keys; they stay listed", n)
				}
			})

			t.Run("revoking an application stops its keys", func(t *testing.T) {
				other := createApp(t, e, admin, "to-revoke")
				_, k := createKey(t, e, admin, other, "k")
				if r := e.Do("POST", apps+"/"+other+"/revoke", admin, nil); r.Status != 200 {
					t.Fatalf("revoke application: %d", r.Status)
				}
				if r := e.Do("GET", "/api/acme/me", k, nil); r.Status != 401 {
					t.Fatalf("key of a revoked application: %d, want 401", r.Status)
				}
				if r := e.Do("GET", apps+"/"+other, admin, nil); r.Status != 404 {
					t.Fatalf("revoked application readable: %d", r.Status)
				}
				var page struct{ Items []struct{ ID string } }
				e.Do("GET", apps, admin, nil).Decode(t, &page)
				for _, a := range page.Items {
					if a.ID == other {
						t.Fatal("revoked application listed")
					}
				}
			})

			t.Run("removing a permission from the owner removes it from its keys", func(t *testing.T) {
				ownerID, owner := e.CreateUser("keyowner@acme.test", keyhaven.VIEW_APPLICATIONS, keyhaven.CREATE_ACCESS_KEYS_ANY, keyhaven.READ)
				_, k := createKey(t, e, owner, app, "owners-key", "READ", "VIEW_APPLICATIONS")
				if r := e.Do("GET", apps, k, nil); r.Status != 200 {
					t.Fatalf("before: %d", r.Status)
				}
				e.Do("PATCH", "/api/acme/users/"+ownerID, admin, map[string]any{"permissions": []string{"READ", "CREATE_ACCESS_KEYS_ANY"}})
				if r := e.Do("GET", apps, k, nil); r.Status != 403 {
					t.Fatalf("after the owner lost VIEW_APPLICATIONS: %d, want 403", r.Status)
				}
				if r := e.Do("DELETE", "/api/acme/users/"+ownerID, admin, nil); r.Status != 204 {
					t.Fatal(r.Status)
				}
				if r := e.Do("GET", "/api/acme/me", k, nil); r.Status != 401 {
					t.Fatalf("after the owner was deleted: %d, want 401", r.Status)
				}
			})

			t.Run("deleting the creator stops its applications", func(t *testing.T) {
				creatorID, c := e.CreateUser("appcreator@acme.test", keyhaven.CREATE_APPLICATION, keyhaven.READ)
				theirs := createApp(t, e, c, "creators-app")
				_, k := createKey(t, e, admin, theirs, "admins-key-in-creators-app")
				if r := e.Do("DELETE", "/api/acme/users/"+creatorID, admin, nil); r.Status != 204 {
					t.Fatal(r.Status)
				}
				if r := e.Do("GET", "/api/acme/me", k, nil); r.Status != 401 {
					t.Fatalf("key in a deleted user's application: %d, want 401", r.Status)
				}
				if r := e.Do("GET", apps+"/"+theirs, admin, nil); r.Status != 404 {
					t.Fatalf("deleted user's application: %d, want 404", r.Status)
				}
			})

			t.Run("every change is audited", func(t *testing.T) {
				e.RequireAudited(t, "access_key.create", "application.create", "application.update", "application.revoke",
					"access_key.create", "access_key.update", "access_key.revoke")
			})
		})
	}
}

// TestApplicationLimitsUnderLoad sends 50 creations at once through the API: exactly the
// limit succeed, the rest get 409 limit_reached.
func TestApplicationLimitsUnderLoad(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			app := createApp(t, e, e.Acme.APIKey, "app")
			count := func(url string, body func(i int) any) (created, limited int) {
				var mu sync.Mutex
				var wg sync.WaitGroup
				for i := range 50 {
					wg.Go(func() {
						r := e.Do("POST", url, e.Acme.APIKey, body(i))
						mu.Lock()
						defer mu.Unlock()
						switch {
						case r.Status == 201:
							created++
						case r.Status == 409 && r.JSON()["code"] == "limit_reached":
							limited++
						default:
							t.Errorf("status %d: %s", r.Status, r.Body)
						}
					})
				}
				wg.Wait()
				return created, limited
			}
			created, limited := count("/api/acme/applications", func(i int) any { return map[string]any{"name": fmt.Sprintf("racer-%d", i)} })
			if created != 9 || limited != 41 { // one application exists already
				t.Fatalf("applications: %d created, %d limited; want 9 and 41", created, limited)
			}
			created, limited = count("/api/acme/applications/"+app+"/access-keys", func(i int) any {
				return map[string]any{"name": fmt.Sprintf("key-%d", i), "scopes": []string{"READ"}}
			})
			if created != 10 || limited != 40 {
				t.Fatalf("access keys: %d created, %d limited; want 10 and 40", created, limited)
			}
		})
	}
}

// TestAccessKeyPermissionMatrix checks every access key permission, in its _ANY and _OWN form
// and without it, with and without VIEW_APPLICATIONS, on an application the caller created
// and on another user's.
func TestAccessKeyPermissionMatrix(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	ctx := context.Background()
	if err := e.Svc.SetTenantLimits(ctx, "acme", keyhaven.Limits{Applications: 1000, AccessKeysPerApplication: 1000}); err != nil {
		t.Fatal(err)
	}
	admin := e.Acme.APIKey
	othersApp := createApp(t, e, admin, "admins-app")
	actions := []struct {
		name     string
		any, own keyhaven.Permission
		status   int
		do       func(tok, app, key string) *apitest.Response
	}{
		{"view", keyhaven.VIEW_ACCESS_KEYS_ANY, keyhaven.VIEW_ACCESS_KEYS_OWN, 200, func(tok, app, key string) *apitest.Response {
			return e.Do("GET", "/api/acme/applications/"+app+"/access-keys", tok, nil)
		}},
		{"create", keyhaven.CREATE_ACCESS_KEYS_ANY, keyhaven.CREATE_ACCESS_KEYS_OWN, 201, func(tok, app, key string) *apitest.Response {
			return e.Do("POST", "/api/acme/applications/"+app+"/access-keys", tok, map[string]any{"name": keyhaven.NewID("k"), "scopes": []string{"READ"}})
		}},
		{"edit", keyhaven.EDIT_ACCESS_KEYS_ANY, keyhaven.EDIT_ACCESS_KEYS_OWN, 200, func(tok, app, key string) *apitest.Response {
			return e.Do("PATCH", "/api/acme/applications/"+app+"/access-keys/"+key, tok, map[string]any{"description": "edited"})
		}},
		{"revoke", keyhaven.REVOKE_ACCESS_KEYS_ANY, keyhaven.REVOKE_ACCESS_KEYS_OWN, 200, func(tok, app, key string) *apitest.Response {
			return e.Do("POST", "/api/acme/applications/"+app+"/access-keys/"+key+"/revoke", tok, nil)
		}},
	}
	n := 0
	for _, a := range actions {
		for _, grant := range []string{"none", "own", "any"} {
			for _, viewApps := range []bool{false, true} {
				perms := []keyhaven.Permission{keyhaven.READ}
				switch grant {
				case "own":
					perms = append(perms, a.own)
				case "any":
					perms = append(perms, a.any)
				}
				if viewApps {
					perms = append(perms, keyhaven.VIEW_APPLICATIONS)
				}
				n++
				userID, tok := e.CreateUser(fmt.Sprintf("matrix%d@acme.test", n), perms...)
				// The caller's own application, created for it directly through the service.
				ownApp, err := e.Svc.CreateApplication(ctx, &keyhaven.Principal{TenantID: e.Acme.Tenant.ID, UserID: userID,
					Permissions: keyhaven.AllPermissions}, keyhaven.ApplicationInput{Name: ptr(fmt.Sprintf("own-%d", n))})
				if err != nil {
					t.Fatal(err)
				}
				for _, target := range []struct {
					name string
					app  string
					own  bool
				}{{"own", ownApp.ID, true}, {"other", othersApp, false}} {
					name := fmt.Sprintf("%s/%s/viewApps=%v/%s-application", a.name, grant, viewApps, target.name)
					t.Run(name, func(t *testing.T) {
						keyID, _ := createKey(t, e, admin, target.app, keyhaven.NewID("k"))
						allowed := grant == "any" || grant == "own" && target.own
						canSee := viewApps || allowed || grant == "any"
						want := a.status
						switch {
						case allowed:
						case !viewApps && grant == "none":
							want = 403 // no application permission at all
						case !canSee:
							want = 404 // cannot even see the application
						default:
							want = 403
						}
						r := a.do(tok, target.app, keyID)
						if r.Status != want {
							t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
						}
					})
				}
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestAccessKeyPermissionsDoNotImplyViewingApplications: listing and reading every
// application needs VIEW_APPLICATIONS, which only CREATE/EDIT/REVOKE_APPLICATION imply. Access
// key permissions, _ANY forms included, reach every application's keys but list and read only
// the applications the caller's owner created.
func TestAccessKeyPermissionsDoNotImplyViewingApplications(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			app := createApp(t, e, e.Acme.APIKey, "admins-app")
			_, keys := e.CreateUser("keys@acme.test", keyhaven.VIEW_ACCESS_KEYS_ANY, keyhaven.CREATE_ACCESS_KEYS_ANY,
				keyhaven.EDIT_ACCESS_KEYS_ANY, keyhaven.REVOKE_ACCESS_KEYS_ANY, keyhaven.READ)
			_, creator := e.CreateUser("creator@acme.test", keyhaven.CREATE_APPLICATION)
			_, reader := e.CreateUser("reader@acme.test", keyhaven.READ)
			for _, s := range []apitest.Scenario{
				{Name: "_ANY lists applications", URL: "/api/acme/applications", Token: keys, ExpectedStatus: 200,
					NotExpectedContent: []string{"admins-app"}},
				{Name: "_ANY reads another user's application", URL: "/api/acme/applications/" + app, Token: keys, ExpectedStatus: 404,
					NotExpectedContent: []string{"admins-app"}},
				{Name: "_ANY still lists its keys", URL: "/api/acme/applications/" + app + "/access-keys", Token: keys, ExpectedStatus: 200},
				{Name: "no application permission", URL: "/api/acme/applications", Token: reader, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
				{Name: "CREATE_APPLICATION implies viewing", URL: "/api/acme/applications", Token: creator, ExpectedStatus: 200,
					ExpectedContent: []string{"admins-app"}},
			} {
				s.Run(t, e)
			}
		})
	}
}
