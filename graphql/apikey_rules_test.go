package graphql_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestExpiredAPIKeyIsGone: from the instant an API key expires it is deleted for every
// operation, before garbage collection runs: updateApiKey cannot revive it by moving its
// expiry, deleteApiKey and listApiKeys do not see it, and its name is free.
func TestExpiredAPIKeyIsGone(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			expires := e.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			r := gql(t, e, e.Acme.APIKey, `mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { api_key } }`,
				map[string]any{"k": map[string]any{"name": "SHORT", "permissions": []string{"READ"}, "expires": expires}})
			if len(r.Errors) > 0 {
				t.Fatalf("createApiKey: %+v", r.Errors)
			}
			e.Clock.Advance(time.Hour)
			later := e.Clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
			for _, c := range []struct{ name, query string }{
				{"update revives", `mutation { updateApiKey(name: "SHORT", api_key: {expires: "` + later + `"}) { name } }`},
				{"update", `mutation { updateApiKey(name: "SHORT", api_key: {active: true}) { name } }`},
				{"delete", `mutation { deleteApiKey(name: "SHORT") }`},
			} {
				if got := gql(t, e, e.Acme.APIKey, c.query, nil); got.code() != "NOT_FOUND" {
					t.Errorf("%s of an expired key: code %q, want NOT_FOUND (%+v)", c.name, got.code(), got.Errors)
				}
			}
			list := gql(t, e, e.Acme.APIKey, `{ listApiKeys { name } }`, nil)
			if strings.Contains(string(list.Data["listApiKeys"]), "SHORT") {
				t.Errorf("listApiKeys shows an expired key: %s", list.Data["listApiKeys"])
			}
			createKey(t, e, e.Acme.APIKey, "SHORT", "READ")
		})
	}
}

// TestKeyPermissionsRaisedOnlyWithinItsOwners: a KEY_MANAGEMENT user may edit another
// owner's key, but raise its permissions only within what that owner holds, so that the
// editor's permissions are never laundered into a key that outlives the editor.
func TestKeyPermissionsRaisedOnlyWithinItsOwners(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			_, owner := e.CreateUser("owner@acme.test", keyhaven.KEY_MANAGEMENT, keyhaven.READ)
			editorID, editor := e.CreateUser("editor@acme.test", keyhaven.KEY_MANAGEMENT, keyhaven.READ, keyhaven.WRITE, keyhaven.AUDIT_READ)
			key := createKey(t, e, owner, "OWNERS", "READ")

			raise := gql(t, e, editor, `mutation { updateApiKey(name: "OWNERS", api_key: {permissions: [READ, WRITE, AUDIT_READ]}) { permissions } }`, nil)
			if raise.code() != "FORBIDDEN" || raise.Errors[0].Extensions["reason"] != "exceeds_owner" {
				t.Fatalf("raising beyond the owner: %+v, want FORBIDDEN exceeds_owner", raise.Errors)
			}
			within := gql(t, e, editor, `mutation { updateApiKey(name: "OWNERS", api_key: {permissions: [READ, KEY_MANAGEMENT]}) { permissions } }`, nil)
			if len(within.Errors) > 0 {
				t.Fatalf("raising within the owner's: %+v", within.Errors)
			}
			if r := e.Do("DELETE", "/api/acme/users/"+editorID, e.Acme.APIKey, nil); r.Status != 204 {
				t.Fatalf("delete the editor: %d %s", r.Status, r.Body)
			}
			var v struct{ Permissions []string }
			json.Unmarshal(e.Do("POST", "/api/verify", "", map[string]any{"key": key}).Body, &v)
			if strings.Join(v.Permissions, ",") != "READ,KEY_MANAGEMENT" {
				t.Fatalf("the key holds %v, want only what its owner holds and granted", v.Permissions)
			}
		})
	}
}
