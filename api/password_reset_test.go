package api_test

import (
	"context"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestResetPassword: the operator's password reset ends every session of the user at once,
// the old password stops working, the new one logs in, and the audit log shows a system action
// without the password.
func TestResetPassword(t *testing.T) {
	ctx := context.Background()
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			_, token := e.CreateUser("bob@acme.test", keyhaven.READ)
			other := e.Login("acme", "bob@acme.test", "correct-horse-battery")
			for range 2 { // the sessions are in the verification cache
				for _, tok := range []string{token, other} {
					if r := e.Do("GET", "/api/acme/me", tok, nil); r.Status != 200 {
						t.Fatalf("me before the reset: %d %s", r.Status, r.Body)
					}
				}
			}
			r, err := e.Svc.ResetPassword(ctx, "acme", "Bob@Acme.test")
			if err != nil {
				t.Fatal(err)
			}
			if r.Tenant != "acme" || r.Email != "bob@acme.test" || len(r.Password) != keyhaven.GeneratedPasswordLen {
				t.Fatalf("ResetPassword = %+v", r)
			}
			for _, s := range []apitest.Scenario{
				{Name: "a session from before", URL: "/api/acme/me", Token: token, ExpectedStatus: 401},
				{Name: "another session from before", URL: "/api/acme/me", Token: other, ExpectedStatus: 401},
				{Name: "the old password", Method: "POST", URL: "/api/acme/login",
					Body: map[string]string{"email": "bob@acme.test", "password": "correct-horse-battery"}, ExpectedStatus: 401},
				{Name: "the new password", Method: "POST", URL: "/api/acme/login",
					Body: map[string]string{"email": "bob@acme.test", "password": r.Password}, ExpectedStatus: 200, ExpectedContent: []string{`"token":"khs_`}},
				{Name: "audited as a system action", URL: "/api/acme/audit?action=user.password_reset", Token: e.Acme.APIKey, ExpectedStatus: 200,
					ExpectedContent: []string{`"actorKind":"system"`, `"outcome":"success"`, `"targetType":"user"`}, NotExpectedContent: []string{r.Password}},
			} {
				s.Run(t, e)
			}
			for _, tc := range []struct{ name, tenant, email string }{
				{"unknown tenant", "nowhere", "bob@acme.test"},
				{"unknown user", "acme", "nobody@acme.test"},
				{"deleted user", "acme", "gone@acme.test"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if tc.email == "gone@acme.test" {
						id, _ := e.CreateUser(tc.email)
						if r := e.Do("DELETE", "/api/acme/users/"+id, e.Acme.APIKey, nil); r.Status != 204 {
							t.Fatalf("delete: %d", r.Status)
						}
					}
					_, err := e.Svc.ResetPassword(ctx, tc.tenant, tc.email)
					if keyhaven.ErrorCode(err) != keyhaven.ENOTFOUND {
						t.Fatalf("got %v, want ENOTFOUND", err)
					}
				})
			}
			if items, _ := e.Do("GET", "/api/acme/audit?action=user.password_reset&outcome=failure", e.Acme.APIKey, nil).JSON()["items"].([]any); len(items) != 2 {
				t.Fatalf("%d refused resets in acme audited, want 2", len(items))
			}
			if strings.Contains(e.Logs(), r.Password) {
				t.Fatal("the new password reached the log")
			}
		})
	}
}
