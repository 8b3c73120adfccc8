package api_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// TestBadInput sends malformed requests of every kind: each must get the right 4xx with a
// machine-readable code, and none may change anything.
func TestBadInput(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	key := e.Acme.APIKey
	const users = "/api/acme/users"
	broken := []byte(key)
	broken[10] ^= 1 // one typo: the checksum no longer holds
	unknown := secret.Generate(secret.APIKey)
	adminID := userID(t, e, key)
	huge := `{"email":"` + strings.Repeat("a", 70<<10) + `@x.io","permissions":[]}`
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	post := func(name, body string, status int, code string) apitest.Scenario {
		return apitest.Scenario{Name: name, Method: "POST", URL: users, Token: key, Body: body, ExpectedStatus: status, ExpectedCode: code}
	}
	scenarios := []apitest.Scenario{
		post("truncated JSON", `{"email":"x@acme.test",`, 400, "invalid_input"),
		post("not JSON", `email=x@acme.test`, 400, "invalid_input"),
		post("array instead of object", `[{"email":"x@acme.test","permissions":[]}]`, 400, "invalid_input"),
		post("empty body", ``, 400, "invalid_input"),
		post("null body", `null`, 400, "invalid_input"),
		post("email of the wrong type", `{"email":42,"permissions":[]}`, 400, "invalid_input"),
		post("permissions of the wrong type", `{"email":"x@acme.test","permissions":"READ"}`, 400, "invalid_input"),
		post("permissions null", `{"email":"x@acme.test","permissions":null}`, 400, "invalid_input"),
		post("permission of the wrong type", `{"email":"x@acme.test","permissions":[1]}`, 400, "invalid_input"),
		post("missing email", `{"permissions":[]}`, 400, "invalid_input"),
		post("unknown field", `{"email":"x@acme.test","permissions":[],"admin":true}`, 400, "invalid_input"),
		post("trailing data", `{"email":"x@acme.test","permissions":[]}{}`, 400, "invalid_input"),
		post("trailing garbage", `{"email":"x@acme.test","permissions":[]} x`, 400, "invalid_input"),
		post("deeply nested", deep, 400, "invalid_input"),
		post("invalid UTF-8", "{\"email\":\"x\xff@acme.test\",\"permissions\":[]}", 400, "invalid_input"),
		post("email without @", `{"email":"nobody","permissions":[]}`, 400, "invalid_input"),
		post("email with a display name", `{"email":"Bob <bob@acme.test>","permissions":[]}`, 400, "invalid_input"),
		post("email too long", `{"email":"`+strings.Repeat("a", 250)+`@acme.test","permissions":[]}`, 400, "invalid_input"),
		post("email with spaces and SQL", `{"email":"' OR '1'='1","permissions":[]}`, 400, "invalid_input"),
		post("email with HTML", `{"email":"<script>alert(1)</script>@acme.test","permissions":[]}`, 400, "invalid_input"),
		post("email with a NUL", `{"email":"x\u0000@acme.test","permissions":[]}`, 400, "invalid_input"),
		post("unknown permission", `{"email":"x@acme.test","permissions":["ROOT"]}`, 400, "invalid_input"),
		post("permission in lower case", `{"email":"x@acme.test","permissions":["read"]}`, 400, "invalid_input"),
		post("permission with SQL", `{"email":"x@acme.test","permissions":["READ'; DROP TABLE users;--"]}`, 400, "invalid_input"),
		post("password too short", `{"email":"x@acme.test","password":"short","permissions":[]}`, 400, "invalid_input"),
		post("password too long", `{"email":"x@acme.test","password":"`+strings.Repeat("p", 300)+`","permissions":[]}`, 400, "invalid_input"),
		post("password of the wrong type", `{"email":"x@acme.test","password":123456789012,"permissions":[]}`, 400, "invalid_input"),
		post("huge body", huge, 413, "body_too_large"),
		{Name: "text/plain", Method: "POST", URL: users, Token: key, Body: `{"email":"x@acme.test","permissions":[]}`,
			Headers: []string{"Content-Type", "text/plain"}, ExpectedStatus: 415, ExpectedCode: "unsupported_media_type"},
		{Name: "form encoded", Method: "POST", URL: users, Token: key, Body: `email=x`,
			Headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, ExpectedStatus: 415, ExpectedCode: "unsupported_media_type"},
		{Name: "malformed secret", URL: users, Token: "abc", ExpectedStatus: 401, ExpectedCode: "invalid_credential"},
		{Name: "checksum-broken secret", URL: users, Token: string(broken), ExpectedStatus: 401, ExpectedCode: "invalid_credential"},
		{Name: "well-formed unknown secret", URL: users, Token: unknown, ExpectedStatus: 401, ExpectedCode: "invalid_credential"},
		{Name: "secret with SQL", URL: users, Token: "khk_' OR 1=1 --", ExpectedStatus: 401},
		{Name: "Basic scheme", URL: users, Headers: []string{"Authorization", "Basic YWRtaW46YWRtaW4="}, ExpectedStatus: 401, ExpectedCode: "missing_credential"},
		{Name: "empty bearer", URL: users, Headers: []string{"Authorization", "Bearer "}, ExpectedStatus: 401},
		{Name: "tenant with SQL in the path", URL: "/api/acme'--/users", Token: key, ExpectedStatus: 403, ExpectedCode: "wrong_tenant"},
		{Name: "user id with SQL", URL: users + "/usr_'%20OR%201=1--", Token: key, ExpectedStatus: 404, ExpectedCode: "not_found"},
		{Name: "user id with a path", URL: users + "/..%2F..%2Fetc", Token: key, ExpectedStatus: 404},
		{Name: "user id with HTML", URL: users + "/%3Cscript%3E", Token: key, ExpectedStatus: 404, NotExpectedContent: []string{"<script>"}},
		{Name: "cursor not made by the API", URL: users + "?cursor=!!!", Token: key, ExpectedStatus: 400, ExpectedCode: "invalid_input"},
		// A well-formed cursor keyhaven never issued (the id of the admin, encoded as cursors
		// once were) is refused, not taken for a first page.
		{Name: "well-formed cursor never issued", URL: users + "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("a")), Token: key,
			ExpectedStatus: 400, ExpectedCode: "invalid_input"},
		{Name: "limit zero", URL: users + "?limit=0", Token: key, ExpectedStatus: 400, ExpectedCode: "invalid_input"},
		{Name: "limit not a number", URL: users + "?limit=ten", Token: key, ExpectedStatus: 400, ExpectedCode: "invalid_input"},
		{Name: "limit too large", URL: users + "?limit=100000", Token: key, ExpectedStatus: 400, ExpectedCode: "invalid_input"},
		{Name: "unknown query parameter", URL: users + "?admin=1", Token: key, ExpectedStatus: 400, ExpectedCode: "invalid_input"},
		{Name: "audit outcome not in the enum", URL: "/api/acme/audit?outcome=maybe", Token: key, ExpectedStatus: 400},
		{Name: "patch with permissions null", Method: "PATCH", URL: users + "/" + adminID, Token: key, Body: `{"permissions":null}`, ExpectedStatus: 400},
		{Name: "patch with an unknown field", Method: "PATCH", URL: users + "/" + adminID, Token: key, Body: `{"email":"new@acme.test"}`, ExpectedStatus: 400},
		{Name: "login with SQL", Method: "POST", URL: "/api/acme/login", Body: `{"email":"' OR 1=1 --","password":"' OR '1'='1"}`, ExpectedStatus: 401, ExpectedCode: "invalid_credentials"},
		{Name: "login with the wrong types", Method: "POST", URL: "/api/acme/login", Body: `{"email":["a"],"password":{}}`, ExpectedStatus: 400},
		{Name: "login to a tenant with HTML", Method: "POST", URL: "/api/%3Cb%3E/login", Body: `{"email":"a@b.c","password":"x"}`, ExpectedStatus: 401},
		{Name: "unknown endpoint", URL: "/api/acme/nothing", Token: key, ExpectedStatus: 404, ExpectedCode: "not_found"},
		{Name: "unsupported method", Method: "PUT", URL: users, Token: key, Body: `{}`, ExpectedStatus: 404},
	}
	for _, s := range scenarios {
		s.Run(t, e)
	}
	t.Run("nothing changed", func(t *testing.T) {
		var page struct{ Items []struct{ Email string } }
		e.Do("GET", users, key, nil).Decode(t, &page)
		if len(page.Items) != 1 || page.Items[0].Email != "admin@acme.test" {
			t.Fatalf("users after bad input: %+v, want only the admin", page.Items)
		}
		if r := e.Do("GET", "/api/acme/me", key, nil); r.Status != http.StatusOK {
			t.Fatalf("admin key after bad input: %d", r.Status)
		}
	})
	if len(scenarios) < 30 {
		t.Fatalf("only %d malformed requests", len(scenarios))
	}
}

// TestTimesBeyondRFC3339 sends times whose UTC year RFC 3339 cannot write (a year 9999 with
// a negative offset is year 10000 in UTC): each is refused with the field named, rather than
// stored and then failing every answer that shows it. The last representable instants are
// accepted.
func TestTimesBeyondRFC3339(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	contracts(t, e)
	key := e.Acme.APIKey
	app := createApp(t, e, key, "times")
	contract := func(id, start, end string) map[string]any {
		return map[string]any{"id": id, "productOfferingId": "plain", "startDate": start, "endDate": end}
	}
	for _, s := range []apitest.Scenario{
		{Name: "contract ending in year 10000", Method: "POST", URL: "/api/acme/contracts", Token: key,
			Body: contract("c-late", "2030-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"), ExpectedStatus: 400, ExpectedContent: []string{"endDate"}},
		{Name: "contract starting in year -1", Method: "POST", URL: "/api/acme/contracts", Token: key,
			Body: contract("c-early", "0000-01-01T00:00:00+00:01", "2030-01-01T00:00:00Z"), ExpectedStatus: 400, ExpectedContent: []string{"startDate"}},
		{Name: "contract patched to end in year 10000", Method: "PATCH", URL: "/api/acme/contracts/contract-001", Token: key,
			Body: map[string]any{"endDate": "9999-12-31T23:59:59-01:00"}, Headers: []string{"Content-Type", "application/merge-patch+json"},
			ExpectedStatus: 400, ExpectedContent: []string{"endDate"}},
		{Name: "access key expiring in year 10000", Method: "POST", URL: "/api/acme/applications/" + app + "/access-keys", Token: key,
			Body: map[string]any{"name": "late", "scopes": []string{"READ"}, "expiresAt": "9999-12-31T23:59:59-01:00"}, ExpectedStatus: 400, ExpectedContent: []string{"expiresAt"}},
		{Name: "contract over every representable year", Method: "POST", URL: "/api/acme/contracts", Token: key,
			Body: contract("c-all", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"), ExpectedStatus: 201},
		{Name: "access key expiring at the end of year 9999", Method: "POST", URL: "/api/acme/applications/" + app + "/access-keys", Token: key,
			Body: map[string]any{"name": "last", "scopes": []string{"READ"}, "expiresAt": "9999-12-31T23:59:59Z"}, ExpectedStatus: 201},
		{Name: "the contract reads back", URL: "/api/acme/contracts/contract-001", Token: key, ExpectedStatus: 200},
	} {
		s.Run(t, e)
	}
}

// TestTextADatabaseCannotHold sends NUL characters and bytes that are not UTF-8, which
// PostgreSQL refuses to store or compare (SQLite takes them), in every place a request carries
// text to the database: each is bad input on both databases, never a 500.
func TestTextADatabaseCannotHold(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			contracts(t, e)
			key := e.Acme.APIKey
			scenario := func(name, method, url string, body any, status int, code string) apitest.Scenario {
				return apitest.Scenario{Name: name, Method: method, URL: url, Token: key, Body: body, ExpectedStatus: status, ExpectedCode: code}
			}
			for _, s := range []apitest.Scenario{
				scenario("NUL in a contract id", "GET", "/api/acme/contracts/a%00b", nil, 404, "not_found"),
				scenario("not UTF-8 in a contract id", "PATCH", "/api/acme/contracts/%9c", `{"status":"SUSPENDED"}`, 404, "not_found"),
				scenario("NUL in an offering id", "GET", "/api/acme/product-offerings/a%00b", nil, 404, "not_found"),
				scenario("NUL in a task id", "GET", "/api/acme/access/batch/job-%00", nil, 404, "not_found"),
				scenario("NUL in the tenant", "GET", "/api/a%00b/me", nil, 403, "wrong_tenant"),
				scenario("NUL in a filter", "GET", "/api/acme/access?deviceName=%00", nil, 400, "invalid_input"),
				scenario("not UTF-8 in a filter", "GET", "/api/acme/audit?actorId=%ff", nil, 400, "invalid_input"),
				scenario("not UTF-8 in a contract filter", "GET", "/api/acme/contracts?productOfferingId=%ff", nil, 400, "invalid_input"),
				{Name: "login to a tenant whose name is not UTF-8", Method: "POST", URL: "/api/%c2/login", Body: map[string]any{"email": "admin@acme.test", "password": "x"},
					ExpectedStatus: 401, ExpectedCode: "invalid_credentials"},
				scenario("NUL in a customer name", "POST", "/api/acme/contracts", map[string]any{"id": "c-nul", "productOfferingId": "plain",
					"customerName": "a\x00b", "startDate": "2030-01-01T00:00:00Z", "endDate": "2031-01-01T00:00:00Z"}, 400, "invalid_input"),
			} {
				s.Run(t, e)
			}
			if c := verify(t, e, "a\x00b", "a-password-guess"); c != "INVALID_CREDENTIALS" {
				t.Fatalf("device verification of a username with NUL: %s, want INVALID_CREDENTIALS", c)
			}
		})
	}
}
