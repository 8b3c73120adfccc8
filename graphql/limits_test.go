package graphql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// aliases returns a query listing API keys n times under different names.
func aliases(n int, selection string) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, "a%d: listApiKeys { %s } ", i, selection)
	}
	b.WriteString("}")
	return b.String()
}

const everyField = "name api_key permissions active expires created last_used ip_allowlist " +
	"rate_limit { limit period_seconds } credits { remaining refill { amount interval } } meta"

func setLimits(t *testing.T, e *apitest.Env, l keyhaven.Limits) {
	t.Helper()
	if err := e.Svc.SetTenantLimits(context.Background(), "acme", l); err != nil {
		t.Fatal(err)
	}
}

// TestListAmplification: a list field costs its selection times the number of items it can
// return (the tenant's limit of API keys), so aliases cannot multiply a listing into a huge
// answer; a whole listing and introspection still fit.
func TestListAmplification(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			key := e.Acme.APIKey
			for i := range 5 {
				createKey(t, e, key, fmt.Sprintf("K%d", i), "READ")
			}
			refused := []struct{ name, query string }{
				{"99 aliases of one field", aliases(99, "name")},
				// One listing of every field costs 17 per key: 20 listings of one field cost more.
				{"20 aliases of one field", aliases(20, "name")},
				{"2 aliases of every field", aliases(2, everyField)},
			}
			for _, tc := range refused {
				t.Run(tc.name, func(t *testing.T) {
					r := gql(t, e, key, tc.query, nil)
					if r.Status != http.StatusUnprocessableEntity || r.Data != nil || len(r.Errors) != 1 || r.code() != "COMPLEXITY_LIMIT_EXCEEDED" {
						t.Fatalf("got %d %q %+v data for %d fields, want 422 COMPLEXITY_LIMIT_EXCEEDED and no data", r.Status, r.code(), r.Errors, len(r.Data))
					}
					if !strings.Contains(r.Errors[0].Message, "limit") {
						t.Fatalf("message %q does not explain the refusal", r.Errors[0].Message)
					}
				})
			}
			allowed := []struct {
				name   string
				limits keyhaven.Limits
				query  string
			}{
				{"a listing of every field", keyhaven.DefaultLimits, "{ listApiKeys { " + everyField + " } }"},
				{"a listing with __typename", keyhaven.DefaultLimits, "{ __typename listApiKeys { __typename name } }"},
				{"introspection", keyhaven.DefaultLimits, introspectionQuery},
				{"a listing at the largest limit", keyhaven.Limits{APIKeys: keyhaven.MaxLimit}, "{ listApiKeys { " + everyField + " } }"},
				{"aliases when the limit is small", keyhaven.Limits{APIKeys: 10}, aliases(20, "name")},
			}
			for _, tc := range allowed {
				t.Run(tc.name, func(t *testing.T) {
					setLimits(t, e, tc.limits)
					r := gql(t, e, key, tc.query, nil)
					if r.Status != http.StatusOK || len(r.Errors) > 0 || r.Data == nil {
						t.Fatalf("got %d %+v, want data", r.Status, r.Errors)
					}
				})
			}
			setLimits(t, e, keyhaven.DefaultLimits)
			var keys []struct{ Name string }
			json.Unmarshal(gql(t, e, key, "{ listApiKeys { name } }", nil).Data["listApiKeys"], &keys)
			if len(keys) != 6 {
				t.Fatalf("listed %d keys, want 6", len(keys))
			}
		})
	}
}

// TestAPIKeyLimit: a tenant holds at most its limit of API keys; sessions do not count.
func TestAPIKeyLimit(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			key := e.Acme.APIKey
			setLimits(t, e, keyhaven.Limits{Applications: 10, AccessKeysPerApplication: 10, APIKeys: 3})
			createKey(t, e, key, "SECOND", "READ")
			createKey(t, e, key, "THIRD", "READ")
			create := `mutation { createApiKey(api_key: {name: "FOURTH", permissions: [READ]}) { name } }`
			r := gql(t, e, key, create, nil)
			if r.code() != "CONFLICT" || r.Errors[0].Extensions["reason"] != "limit_reached" || r.Status >= 500 {
				t.Fatalf("past the limit: %d %+v, want CONFLICT limit_reached", r.Status, r.Errors)
			}
			// Sessions are not API keys: signing in still works, and does not free a place.
			session := e.Login("acme", e.Acme.AdminEmail, e.Acme.AdminPassword)
			if r := gql(t, e, session, create, nil); r.code() != "CONFLICT" {
				t.Fatalf("past the limit with a session: %+v", r.Errors)
			}
			if r := gql(t, e, key, `mutation { deleteApiKey(name: "THIRD") }`, nil); len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			if r := gql(t, e, session, create, nil); len(r.Errors) > 0 {
				t.Fatalf("after a delete: %+v", r.Errors)
			}
			if len(e.Audit("action=api_key.create&outcome=failure")) == 0 {
				t.Fatal("the refused creation is not audited")
			}
		})
	}
}
