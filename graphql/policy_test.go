package graphql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// keyFields selects every field of an ApiKey.
const keyFields = everyField

// listedKey is an ApiKey as listApiKeys shows it.
type listedKey struct {
	Name        string     `json:"name"`
	APIKey      string     `json:"api_key"`
	Permissions []string   `json:"permissions"`
	Active      bool       `json:"active"`
	Expires     *time.Time `json:"expires"`
	LastUsed    *time.Time `json:"last_used"`
	IPAllowlist []string   `json:"ip_allowlist"`
	RateLimit   *struct {
		Limit         int64 `json:"limit"`
		PeriodSeconds int64 `json:"period_seconds"`
	} `json:"rate_limit"`
	Credits *struct {
		Remaining int64 `json:"remaining"`
		Refill    *struct {
			Amount   int64  `json:"amount"`
			Interval string `json:"interval"`
		} `json:"refill"`
	} `json:"credits"`
	Meta json.RawMessage `json:"meta"`
}

// listed returns the API key named name as listApiKeys shows it, raw and decoded; raw is ""
// when it is not listed.
func listed(t *testing.T, e *apitest.Env, name string) (string, listedKey) {
	t.Helper()
	r := gql(t, e, e.Acme.APIKey, `{ listApiKeys { `+keyFields+` } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("listApiKeys: %+v", r.Errors)
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(r.Data["listApiKeys"], &keys); err != nil {
		t.Fatalf("listApiKeys: %v in %s", err, r.Data["listApiKeys"])
	}
	for _, raw := range keys {
		var k listedKey
		if err := json.Unmarshal(raw, &k); err != nil {
			t.Fatalf("listed key %s: %v", raw, err)
		}
		if k.Name == name {
			return string(raw), k
		}
	}
	return "", listedKey{}
}

// verdict is what POST /api/verify answers.
type verdict struct {
	Valid   bool            `json:"valid"`
	Code    string          `json:"code"`
	Meta    json.RawMessage `json:"meta"`
	Credits *struct {
		Remaining int64 `json:"remaining"`
	} `json:"credits"`
}

func verifyKey(t *testing.T, e *apitest.Env, key, ip string) verdict {
	t.Helper()
	body := map[string]any{"key": key}
	if ip != "" {
		body["ip"] = ip
	}
	r := e.Do("POST", "/api/verify", "", body)
	if r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	var v verdict
	r.Decode(t, &v)
	return v
}

const createDoc = `mutation($k: ApiKeyInput!) { createApiKey(api_key: $k) { ` + keyFields + ` } }`
const updateDoc = `mutation($n: String!, $k: ApiKeyUpdateInput!) { updateApiKey(name: $n, api_key: $k) { ` + keyFields + ` } }`

// TestCreateWithPolicies: a key created with every policy shows each in listApiKeys as it was
// given (ranges canonical), verify judges and answers by them, and the credits shown are
// those of the moment: a refill due is shown before any verification applies it.
func TestCreateWithPolicies(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			expires := e.Clock.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
			r := gql(t, e, e.Acme.APIKey, createDoc, map[string]any{"k": map[string]any{
				"name": "GATEWAY", "permissions": []string{"READ"}, "expires": expires.Format(time.RFC3339),
				"ip_allowlist": []string{"203.0.113.7", "2001:db8::/32", "10.1.2.3/8"},
				"rate_limit":   map[string]any{"limit": 1000000000, "period_seconds": 86400},
				"credits":      map[string]any{"remaining": 1_000_000_000_000, "refill": map[string]any{"amount": 5000, "interval": "DAILY"}},
				"meta":         map[string]any{"customer": "cus_42", "plan": "pro", "seats": 3, "tags": []string{"a", "b"}},
			}})
			if len(r.Errors) > 0 {
				t.Fatalf("createApiKey: %+v", r.Errors)
			}
			var created listedKey
			json.Unmarshal(r.Data["createApiKey"], &created)
			raw, k := listed(t, e, "GATEWAY")
			for what, got := range map[string]listedKey{"createApiKey": created, "listApiKeys": k} {
				if got.Name != "GATEWAY" || !got.Active || got.Expires == nil || !got.Expires.Equal(expires) || got.LastUsed != nil {
					t.Fatalf("%s shows %+v", what, got)
				}
				if fmt.Sprint(got.IPAllowlist) != "[203.0.113.7 2001:db8::/32 10.0.0.0/8]" {
					t.Errorf("%s: ip_allowlist %v", what, got.IPAllowlist)
				}
				if rl := got.RateLimit; rl == nil || rl.Limit != 1000000000 || rl.PeriodSeconds != 86400 {
					t.Errorf("%s: rate_limit %+v", what, rl)
				}
				if c := got.Credits; c == nil || c.Remaining != 1_000_000_000_000 || c.Refill == nil || c.Refill.Amount != 5000 || c.Refill.Interval != "DAILY" {
					t.Errorf("%s: credits %+v", what, c)
				}
				if string(got.Meta) != `{"customer":"cus_42","plan":"pro","seats":3,"tags":["a","b"]}` {
					t.Errorf("%s: meta %s", what, got.Meta)
				}
			}
			if !strings.Contains(raw, `"remaining":1000000000000`) {
				t.Errorf("credits are not a JSON integer: %s", raw)
			}
			if !strings.HasPrefix(created.APIKey, "khk_") || strings.HasSuffix(created.APIKey, "*") || strings.Contains(raw, created.APIKey) {
				t.Fatalf("the secret is shown once: created %q, listed %s", created.APIKey, raw)
			}

			if v := verifyKey(t, e, created.APIKey, "10.200.0.1"); v.Code != "VALID" || string(v.Meta) != string(created.Meta) || v.Credits == nil || v.Credits.Remaining != 1_000_000_000_000-1 {
				t.Fatalf("verify from an allowed range: %+v %s", v, v.Meta)
			}
			if v := verifyKey(t, e, created.APIKey, "198.51.100.1"); v.Code != "IP_NOT_ALLOWED" {
				t.Fatalf("verify from elsewhere: %+v", v)
			}
			// The next UTC day refills the credits to 5000: the listing shows them at once.
			now := e.Clock.Now().UTC()
			e.Clock.Advance(time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 1, 0, time.UTC).Sub(now))
			if _, k := listed(t, e, "GATEWAY"); k.Credits == nil || k.Credits.Remaining != 5000 {
				t.Fatalf("credits on the next day: %+v, want the refill of 5000", k.Credits)
			}
			if v := verifyKey(t, e, created.APIKey, "203.0.113.7"); v.Code != "VALID" || v.Credits == nil || v.Credits.Remaining != 4999 {
				t.Fatalf("verify on the next day: %+v", v)
			}
			if _, k := listed(t, e, "GATEWAY"); k.Credits.Remaining != 4999 {
				t.Fatalf("credits after a verification: %+v", k.Credits)
			}

			// Without any policy every policy field is empty.
			createKey(t, e, e.Acme.APIKey, "PLAIN", "READ")
			raw, _ = listed(t, e, "PLAIN")
			for _, want := range []string{`"ip_allowlist":[]`, `"rate_limit":null`, `"credits":null`, `"meta":null`, `"last_used":null`, `"expires":null`} {
				if !strings.Contains(raw, want) {
					t.Errorf("a key without policies: %s lacks %s", raw, want)
				}
			}
		})
	}
}

// TestUpdatePolicies: updateApiKey leaves a field out of the input as it is, and clears one
// given as an explicit null, each on its own, whether the null is written in the document or
// sent as a variable; an empty allowlist clears it too.
func TestUpdatePolicies(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := e.Acme.APIKey
			key := createKey(t, e, admin, "K", "READ")
			expires := e.Clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
			all := map[string]any{
				"expires":      expires.Format(time.RFC3339),
				"ip_allowlist": []string{"192.0.2.0/24"},
				"rate_limit":   map[string]any{"limit": 10, "period_seconds": 60},
				"credits":      map[string]any{"remaining": 7, "refill": map[string]any{"amount": 100, "interval": "MONTHLY"}},
				"meta":         map[string]any{"plan": "pro"},
			}
			set := func(t *testing.T) {
				t.Helper()
				if r := gql(t, e, admin, updateDoc, map[string]any{"n": "K", "k": all}); len(r.Errors) > 0 {
					t.Fatalf("set every policy: %+v", r.Errors)
				}
			}
			set(t)
			full, k := listed(t, e, "K")
			if k.Expires == nil || !k.Expires.Equal(expires) || fmt.Sprint(k.IPAllowlist) != "[192.0.2.0/24]" ||
				k.RateLimit == nil || k.RateLimit.Limit != 10 || k.RateLimit.PeriodSeconds != 60 ||
				k.Credits == nil || k.Credits.Remaining != 7 || k.Credits.Refill == nil || k.Credits.Refill.Interval != "MONTHLY" ||
				string(k.Meta) != `{"plan":"pro"}` {
				t.Fatalf("after setting every policy: %s", full)
			}
			if v := verifyKey(t, e, key, "192.0.2.9"); v.Code != "VALID" || v.Credits == nil || v.Credits.Remaining != 6 {
				t.Fatalf("verify with the policies set: %+v", v)
			}
			full, _ = listed(t, e, "K")

			// Fields left out change nothing.
			if r := gql(t, e, admin, updateDoc, map[string]any{"n": "K", "k": map[string]any{"active": true}}); len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			if r := gql(t, e, admin, `mutation { updateApiKey(name: "K", api_key: {active: true}) { name } }`, nil); len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			if got, _ := listed(t, e, "K"); got != full {
				t.Fatalf("an update leaving the policies out changed them:\n got %s\nwant %s", got, full)
			}

			clears := []struct {
				field string
				// empty is how the cleared field is listed.
				empty string
			}{
				{"expires", `"expires":null`},
				{"ip_allowlist", `"ip_allowlist":[]`},
				{"rate_limit", `"rate_limit":null`},
				{"credits", `"credits":null`},
				{"meta", `"meta":null`},
			}
			for _, c := range clears {
				for _, how := range []string{"variable", "literal"} {
					t.Run(c.field+" null as a "+how, func(t *testing.T) {
						set(t)
						before, _ := listed(t, e, "K")
						var r gqlResponse
						if how == "variable" {
							r = gql(t, e, admin, updateDoc, map[string]any{"n": "K", "k": map[string]any{c.field: nil}})
						} else {
							r = gql(t, e, admin, `mutation { updateApiKey(name: "K", api_key: {`+c.field+`: null}) { name } }`, nil)
						}
						if len(r.Errors) > 0 {
							t.Fatalf("clear %s: %+v", c.field, r.Errors)
						}
						after, _ := listed(t, e, "K")
						if !strings.Contains(after, c.empty) {
							t.Fatalf("after %s: null, listed %s", c.field, after)
						}
						// Every other field is as it was.
						var b, a map[string]json.RawMessage
						json.Unmarshal([]byte(before), &b)
						json.Unmarshal([]byte(after), &a)
						for f := range b {
							if f != c.field && string(a[f]) != string(b[f]) {
								t.Errorf("clearing %s changed %s: %s, was %s", c.field, f, a[f], b[f])
							}
						}
					})
				}
			}
			t.Run("an empty allowlist clears it", func(t *testing.T) {
				set(t)
				if r := gql(t, e, admin, `mutation { updateApiKey(name: "K", api_key: {ip_allowlist: []}) { ip_allowlist } }`, nil); string(r.Data["updateApiKey"]) != `{"ip_allowlist":[]}` {
					t.Fatalf("%s %+v", r.Data["updateApiKey"], r.Errors)
				}
			})
			t.Run("cleared, the key works as without policies", func(t *testing.T) {
				r := gql(t, e, admin, updateDoc, map[string]any{"n": "K", "k": map[string]any{
					"expires": nil, "ip_allowlist": nil, "rate_limit": nil, "credits": nil, "meta": nil,
				}})
				if len(r.Errors) > 0 {
					t.Fatal(r.Errors)
				}
				if v := verifyKey(t, e, key, ""); v.Code != "VALID" || v.Credits != nil || string(v.Meta) != `{}` {
					t.Fatalf("verify with every policy cleared: %+v %s", v, v.Meta)
				}
			})
		})
	}
}

// TestBadPolicyInputs: each bad value is BAD_USER_INPUT naming the field as the schema does,
// and changes nothing: no key is created, and an update that also sets good fields sets none.
func TestBadPolicyInputs(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := e.Acme.APIKey
			createKey(t, e, admin, "K", "READ")
			if r := gql(t, e, admin, updateDoc, map[string]any{"n": "K", "k": map[string]any{
				"ip_allowlist": []string{"192.0.2.1"}, "rate_limit": map[string]any{"limit": 5, "period_seconds": 10},
				"credits": map[string]any{"remaining": 3}, "meta": map[string]any{"a": 1},
			}}); len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			before, _ := listed(t, e, "K")
			huge := map[string]any{"pad": strings.Repeat("x", keyhaven.MaxMetaBytes)}
			tests := []struct {
				name  string
				field string
				value any
				// want is the field the error names, when the domain refused the value.
				want string
				// code is BAD_USER_INPUT unless given: a variable that is no value of a
				// built-in type (Int, an enum) the framework refuses before anything runs.
				code string
			}{
				{"not an address", "ip_allowlist", []string{"192.0.2.1", "not-an-ip"}, "ip_allowlist[1]", ""},
				{"a CIDR prefix too long", "ip_allowlist", []string{"10.0.0.0/33"}, "ip_allowlist[0]", ""},
				{"too many ranges", "ip_allowlist", make101(), "ip_allowlist", ""},
				{"rate limit period 0", "rate_limit", map[string]any{"limit": 5, "period_seconds": 0}, "rate_limit.period_seconds", ""},
				{"rate limit period over a day", "rate_limit", map[string]any{"limit": 5, "period_seconds": 86401}, "rate_limit.period_seconds", ""},
				{"rate limit 0", "rate_limit", map[string]any{"limit": 0, "period_seconds": 10}, "rate_limit.limit", ""},
				{"rate limit a fraction", "rate_limit", map[string]any{"limit": 1.5, "period_seconds": 10}, "", "GRAPHQL_VALIDATION_FAILED"},
				{"credits over 10^12", "credits", map[string]any{"remaining": 1_000_000_000_001}, "credits.remaining", ""},
				{"credits negative", "credits", map[string]any{"remaining": -1}, "credits.remaining", ""},
				{"credits fractional", "credits", map[string]any{"remaining": 2.5}, "", ""},
				{"credits written as a float", "credits", map[string]any{"remaining": json.Number("3.0")}, "", ""},
				{"credits with an exponent", "credits", map[string]any{"remaining": json.Number("1e3")}, "", ""},
				{"credits as a string", "credits", map[string]any{"remaining": "3"}, "", ""},
				{"credits past 2^53", "credits", map[string]any{"remaining": json.Number("9007199254740992")}, "", ""},
				{"credits past int64", "credits", map[string]any{"remaining": json.Number("99999999999999999999")}, "", ""},
				{"refill over 10^12", "credits", map[string]any{"remaining": 1, "refill": map[string]any{"amount": 1_000_000_000_001, "interval": "DAILY"}}, "credits.refill.amount", ""},
				{"refill 0", "credits", map[string]any{"remaining": 1, "refill": map[string]any{"amount": 0, "interval": "DAILY"}}, "credits.refill.amount", ""},
				{"refill yearly", "credits", map[string]any{"remaining": 1, "refill": map[string]any{"amount": 1, "interval": "YEARLY"}}, "", "GRAPHQL_VALIDATION_FAILED"},
				{"meta a string", "meta", "plan=pro", "meta", ""},
				{"meta JSON in a string", "meta", `{"plan":"pro"}`, "meta", ""},
				{"meta an array", "meta", []any{1, 2}, "meta", ""},
				{"meta a number", "meta", 42, "meta", ""},
				{"meta true", "meta", true, "meta", ""},
				{"meta over 4 KiB", "meta", huge, "meta", ""},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					code := tc.code
					if code == "" {
						code = "BAD_USER_INPUT"
					}
					check := func(t *testing.T, r gqlResponse, prefix string) {
						t.Helper()
						if r.Status >= 500 || r.code() != code {
							t.Fatalf("%d %q %+v, want %s", r.Status, r.code(), r.Errors, code)
						}
						if tc.want != "" {
							fields, _ := r.Errors[0].Extensions["fields"].([]any)
							f, _ := fields[0].(map[string]any)
							if len(fields) != 1 || f["field"] != prefix+tc.want || !strings.HasPrefix(r.Errors[0].Message, prefix+tc.want+": ") {
								t.Fatalf("error %+v, want it to name %s", r.Errors[0], prefix+tc.want)
							}
						}
						if tc.field == "credits" && tc.want == "" && code == "BAD_USER_INPUT" && !strings.HasPrefix(r.Errors[0].Message, "must be an integer") {
							t.Fatalf("a credit amount that is no SafeInt: %q, want the scalar's rule", r.Errors[0].Message)
						}
						if len(r.Errors[0].Message) > 200 || strings.Contains(r.Errors[0].Message, "pad") {
							t.Fatalf("the message quotes the value: %s", r.Errors[0].Message)
						}
					}
					r := gql(t, e, admin, createDoc, map[string]any{"k": map[string]any{
						"name": "NEW", "permissions": []string{"READ"}, "meta": map[string]any{"ok": true}, tc.field: tc.value,
					}})
					check(t, r, "")
					if raw, _ := listed(t, e, "NEW"); raw != "" {
						t.Fatalf("a refused create made a key: %s", raw)
					}
					// Beside good changes to every other field, so that a partial change shows.
					good := map[string]any{
						"active": false, "permissions": []string{"READ", "WRITE"},
						"expires":      e.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339),
						"ip_allowlist": []string{"198.51.100.0/24"}, "rate_limit": map[string]any{"limit": 9, "period_seconds": 9},
						"credits": map[string]any{"remaining": 9}, "meta": map[string]any{"b": 2},
					}
					good[tc.field] = tc.value
					check(t, gql(t, e, admin, updateDoc, map[string]any{"n": "K", "k": good}), "api_key.")
					if after, _ := listed(t, e, "K"); after != before {
						t.Fatalf("a refused update changed the key:\n got %s\nwant %s", after, before)
					}
				})
			}
			// Values written in the document rather than sent as variables.
			for doc, code := range map[string]string{
				`{name: "K2", permissions: [READ], credits: {remaining: 1.0}}`:                 "BAD_USER_INPUT",
				`{name: "K2", permissions: [READ], credits: {remaining: 1000000000001}}`:       "BAD_USER_INPUT",
				`{name: "K2", permissions: [READ], credits: {remaining: "5"}}`:                 "BAD_USER_INPUT",
				`{name: "K2", permissions: [READ], credits: {remaining: 9007199254740992}}`:    "BAD_USER_INPUT",
				`{name: "K2", permissions: [READ], meta: "x"}`:                                 "BAD_USER_INPUT",
				`{name: "K2", permissions: [READ], meta: [1]}`:                                 "BAD_USER_INPUT",
				`{name: "K2", permissions: [READ], rate_limit: {limit: 1, period_seconds: 0}}`: "BAD_USER_INPUT",
				`{name: "K2", permissions: [READ], ip_allowlist: ["300.1.1.1"]}`:               "BAD_USER_INPUT",
				// An integer literal past 64 bits is no value at all: the document is invalid.
				`{name: "K2", permissions: [READ], credits: {remaining: 99999999999999999999}}`: "GRAPHQL_VALIDATION_FAILED",
			} {
				r := gql(t, e, admin, `mutation { createApiKey(api_key: `+doc+`) { name } }`, nil)
				if r.Status >= 500 || r.code() != code {
					t.Errorf("%s: %d %q %+v, want %s", doc, r.Status, r.code(), r.Errors, code)
				}
			}
			if raw, _ := listed(t, e, "K2"); raw != "" {
				t.Fatalf("a refused create made a key: %s", raw)
			}
		})
	}
}

func make101() []string {
	out := make([]string, keyhaven.MaxIPAllowlist+1)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	return out
}

const rotateDoc = `mutation($n: String!, $g: Int) { rotateApiKey(name: $n, grace_period_seconds: $g) { ` + keyFields + ` } }`

func rotate(t *testing.T, e *apitest.Env, token, name string, grace any) (listedKey, gqlResponse) {
	t.Helper()
	vars := map[string]any{"n": name}
	if grace != nil {
		vars["g"] = grace
	}
	r := gql(t, e, token, rotateDoc, vars)
	var k listedKey
	json.Unmarshal(r.Data["rotateApiKey"], &k)
	return k, r
}

// TestRotateAPIKey: rotateApiKey answers the key with a new secret, shown once, which verify
// finds VALID; the old secret stays VALID for the grace period and is EXPIRED from its end.
// The key keeps its name, permissions and policies. A key cannot rotate itself, and rotating
// needs KEY_MANAGEMENT.
func TestRotateAPIKey(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := e.Acme.APIKey
			r := gql(t, e, admin, createDoc, map[string]any{"k": map[string]any{
				"name": "ROT", "permissions": []string{"READ", "KEY_MANAGEMENT"},
				"credits": map[string]any{"remaining": 50}, "meta": map[string]any{"plan": "pro"},
				"rate_limit": map[string]any{"limit": 100, "period_seconds": 60},
			}})
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			var created listedKey
			json.Unmarshal(r.Data["createApiKey"], &created)
			old := created.APIKey
			_, before := listed(t, e, "ROT")

			rotated, r := rotate(t, e, admin, "ROT", 3600)
			if len(r.Errors) > 0 {
				t.Fatalf("rotateApiKey: %+v", r.Errors)
			}
			fresh := rotated.APIKey
			if !strings.HasPrefix(fresh, "khk_") || len(fresh) != len(old) || fresh == old {
				t.Fatalf("rotateApiKey answered %q for old %q: want a new secret", fresh, old)
			}
			if rotated.Name != "ROT" || fmt.Sprint(rotated.Permissions) != fmt.Sprint(before.Permissions) ||
				rotated.Credits == nil || rotated.Credits.Remaining != 50 || string(rotated.Meta) != `{"plan":"pro"}` ||
				rotated.RateLimit == nil || rotated.RateLimit.Limit != 100 {
				t.Fatalf("the rotated key lost something: %+v", rotated)
			}
			raw, k := listed(t, e, "ROT")
			if strings.Contains(raw, fresh) || strings.Contains(raw, old) || !strings.HasSuffix(k.APIKey, "*") || !strings.HasPrefix(fresh, strings.TrimRight(k.APIKey, "*")) {
				t.Fatalf("the listing shows %q for the new secret %q: want it masked", k.APIKey, fresh)
			}
			if v := verifyKey(t, e, fresh, ""); v.Code != "VALID" {
				t.Fatalf("the new secret: %+v", v)
			}
			if v := verifyKey(t, e, old, ""); v.Code != "VALID" {
				t.Fatalf("the old secret within the grace period: %+v", v)
			}
			if _, r := rotate(t, e, old, "ROT", nil); r.code() != "FORBIDDEN" || r.Errors[0].Extensions["reason"] != "own_key" {
				t.Fatalf("the key rotating itself by its old secret: %q %+v", r.code(), r.Errors)
			}
			e.Clock.Advance(3599 * time.Second)
			if v := verifyKey(t, e, old, ""); v.Code != "VALID" {
				t.Fatalf("the old secret a second before the grace ends: %+v", v)
			}
			e.Clock.Advance(time.Second)
			if v := verifyKey(t, e, old, ""); v.Code != "EXPIRED" {
				t.Fatalf("the old secret once the grace ended: %+v, want EXPIRED", v)
			}
			if v := verifyKey(t, e, fresh, ""); v.Code != "VALID" {
				t.Fatalf("the new secret after the grace: %+v", v)
			}

			// Without a grace period the old secret is EXPIRED at once.
			again, r := rotate(t, e, admin, "ROT", nil)
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			if v := verifyKey(t, e, fresh, ""); v.Code != "EXPIRED" {
				t.Fatalf("the previous secret after a rotation without grace: %+v", v)
			}
			if v := verifyKey(t, e, again.APIKey, ""); v.Code != "VALID" {
				t.Fatalf("the newest secret: %+v", v)
			}

			t.Run("a key rotating itself is FORBIDDEN", func(t *testing.T) {
				_, r := rotate(t, e, again.APIKey, "ROT", 60)
				if r.code() != "FORBIDDEN" || r.Errors[0].Extensions["reason"] != "own_key" {
					t.Fatalf("%q %+v", r.code(), r.Errors)
				}
				if v := verifyKey(t, e, again.APIKey, ""); v.Code != "VALID" {
					t.Fatalf("the refused rotation changed the secret: %+v", v)
				}
			})
			t.Run("refusals", func(t *testing.T) {
				_, noKM := e.CreateUser("nokm@acme.test", keyhaven.READ)
				for _, tc := range []struct {
					name, token, key string
					grace            any
					code             string
				}{
					{"without KEY_MANAGEMENT", noKM, "ROT", nil, "FORBIDDEN"},
					{"an unknown key", admin, "NOPE", nil, "NOT_FOUND"},
					{"a name no key can have", admin, "no such key!", nil, "NOT_FOUND"},
					{"a negative grace", admin, "ROT", -1, "BAD_USER_INPUT"},
					{"a grace over 7 days", admin, "ROT", 604801, "BAD_USER_INPUT"},
					{"the largest int64 grace", admin, "ROT", json.Number("9223372036854775807"), "BAD_USER_INPUT"},
					{"a fractional grace", admin, "ROT", 1.5, "GRAPHQL_VALIDATION_FAILED"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						_, r := rotate(t, e, tc.token, tc.key, tc.grace)
						if r.Status >= 500 || r.code() != tc.code {
							t.Fatalf("%d %q %+v, want %s", r.Status, r.code(), r.Errors, tc.code)
						}
						if v := verifyKey(t, e, again.APIKey, ""); v.Code != "VALID" {
							t.Fatalf("the refused rotation changed the secret: %+v", v)
						}
					})
				}
				_, r := rotate(t, e, admin, "ROT", -1)
				fields, _ := r.Errors[0].Extensions["fields"].([]any)
				if f, _ := fields[0].(map[string]any); f["field"] != "grace_period_seconds" {
					t.Fatalf("a bad grace names %+v, want grace_period_seconds", r.Errors[0].Extensions)
				}
			})
			if strings.Contains(e.Logs(), fresh) || strings.Contains(e.Logs(), again.APIKey) {
				t.Fatal("a rotated secret reached the log")
			}
			for _, ev := range e.Audit("") {
				if b, _ := json.Marshal(ev); strings.Contains(string(b), fresh) || strings.Contains(string(b), again.APIKey) {
					t.Fatalf("a rotated secret reached the audit log: %s", b)
				}
			}
		})
	}
}

// TestLastUsed: last_used is null until the key is used, then the minute of its last use,
// once the node's usage recorder has written it.
func TestLastUsed(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			key := createKey(t, e, e.Acme.APIKey, "USED", "READ", "KEY_MANAGEMENT")
			if _, k := listed(t, e, "USED"); k.LastUsed != nil {
				t.Fatalf("an unused key: last_used %v", k.LastUsed)
			}
			if r := gql(t, e, key, `{ listApiKeys { name } }`, nil); len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			lastUsed := func(want time.Time) func() error {
				return func() error {
					// The node's own loop may hold the batch being written: flush until the
					// listing shows it.
					if err := e.Node.Usage.Flush(context.Background()); err != nil {
						return err
					}
					if _, k := listed(t, e, "USED"); k.LastUsed == nil || !k.LastUsed.Equal(want) {
						return fmt.Errorf("last_used %v, want %v", k.LastUsed, want)
					}
					return nil
				}
			}
			eventually.Within(t, 10*time.Second, lastUsed(e.Clock.Now().UTC().Truncate(time.Minute)))
			e.Clock.Advance(3 * time.Minute)
			if v := verifyKey(t, e, key, ""); v.Code != "VALID" {
				t.Fatal(v)
			}
			eventually.Within(t, 10*time.Second, lastUsed(e.Clock.Now().UTC().Truncate(time.Minute)))
		})
	}
}
