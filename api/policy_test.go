package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// policyVerdict is a verify answer with what key policies add to it.
type policyVerdict struct {
	Valid     bool
	Code, ID  string
	Meta      json.RawMessage
	RateLimit *struct {
		Limit, Remaining int64
		ResetAt          time.Time
	}
	Credits *struct{ Remaining int64 }
}

// check verifies with body and returns the answer, failing unless its code is want.
func check(t *testing.T, e *apitest.Env, want string, body map[string]any) policyVerdict {
	t.Helper()
	var v policyVerdict
	mustStatus(t, e.Do("POST", "/api/verify", "", body), http.StatusOK).Decode(t, &v)
	if v.Code != want || v.Valid != (want == "VALID") {
		t.Fatalf("verify %v: %s (valid %v), want %s", body, v.Code, v.Valid, want)
	}
	return v
}

// createPolicyKey creates an access key in app with the extra fields of body and returns it.
func createPolicyKey(t *testing.T, e *apitest.Env, app, name string, body map[string]any) keyJSON {
	t.Helper()
	b := map[string]any{"name": name, "scopes": []string{"READ", "VIEW_APPLICATIONS"}}
	for k, v := range body {
		b[k] = v
	}
	var k keyJSON
	mustStatus(t, e.Do("POST", "/api/acme/applications/"+app+"/access-keys", e.Acme.APIKey, b), http.StatusCreated).Decode(t, &k)
	if !strings.HasPrefix(k.Key, "kha_") {
		t.Fatalf("created access key without its secret: %+v", k)
	}
	return k
}

func rateLimit(limit, period int) map[string]any {
	return map[string]any{"limit": limit, "periodSeconds": period}
}

func credits(remaining int) map[string]any { return map[string]any{"remaining": remaining} }

// TestPolicyBadInput sends bad values of every policy field, and of rotation and verify:
// each is 400 invalid_input naming the field, never a 500.
func TestPolicyBadInput(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := e.Acme.APIKey
			app := createApp(t, e, admin, "bad-input")
			keyID, _ := createKey(t, e, admin, app, "target")
			createAPIKey(t, e, admin, map[string]any{"name": "TARGET", "permissions": []string{"READ"}})
			many := make([]string, 101)
			for i := range many {
				many[i] = fmt.Sprintf("10.0.%d.0/24", i)
			}
			bigMeta := map[string]any{"blob": strings.Repeat("x", 4<<10)}
			bad := []struct {
				name, field string
				value       any
			}{
				{"a CIDR of 33 bits", "ipAllowlist[0]", map[string]any{"ipAllowlist": []string{"10.0.0.0/33"}}},
				{"an address that is none", "ipAllowlist[1]", map[string]any{"ipAllowlist": []string{"10.0.0.1", "nope"}}},
				{"an address with a zone", "ipAllowlist[0]", map[string]any{"ipAllowlist": []string{"fe80::1%eth0"}}},
				{"101 entries", "ipAllowlist", map[string]any{"ipAllowlist": many}},
				{"an entry not a string", "ipAllowlist[0]", map[string]any{"ipAllowlist": []any{7}}},
				{"limit 0", "rateLimit.limit", map[string]any{"rateLimit": rateLimit(0, 60)}},
				{"limit past 10^9", "rateLimit.limit", map[string]any{"rateLimit": rateLimit(1_000_000_001, 60)}},
				{"limit a fraction", "rateLimit.limit", map[string]any{"rateLimit": map[string]any{"limit": 1.5, "periodSeconds": 60}}},
				{"period 86401", "rateLimit.periodSeconds", map[string]any{"rateLimit": rateLimit(10, 86401)}},
				{"period 0", "rateLimit.periodSeconds", map[string]any{"rateLimit": rateLimit(10, 0)}},
				{"no period", "rateLimit", map[string]any{"rateLimit": map[string]any{"limit": 10}}},
				{"rate limit a number", "rateLimit", map[string]any{"rateLimit": 10}},
				{"credits -1", "credits.remaining", map[string]any{"credits": credits(-1)}},
				{"credits past 10^12", "credits.remaining", map[string]any{"credits": map[string]any{"remaining": 1e13}}},
				{"credits huge", "credits.remaining", map[string]any{"credits": map[string]any{"remaining": 1e300}}},
				{"refill WEEKLY", "credits.refill.interval", map[string]any{"credits": map[string]any{"remaining": 1, "refill": map[string]any{"amount": 5, "interval": "WEEKLY"}}}},
				{"refill of 0", "credits.refill.amount", map[string]any{"credits": map[string]any{"remaining": 1, "refill": map[string]any{"amount": 0, "interval": "DAILY"}}}},
				{"meta a string", "meta", map[string]any{"meta": "gold"}},
				{"meta an array", "meta", map[string]any{"meta": []int{1}}},
				{"meta over 4 KiB", "meta", map[string]any{"meta": bigMeta}},
			}
			type target struct {
				name, method, url string
				base              map[string]any
				headers           []string
			}
			targets := []target{
				{"create API key", "POST", "/api/acme/api-keys", map[string]any{"name": "BAD", "permissions": []string{"READ"}}, nil},
				{"update API key", "PATCH", "/api/acme/api-keys/TARGET", map[string]any{}, mergePatch},
				{"create access key", "POST", "/api/acme/applications/" + app + "/access-keys", map[string]any{"name": "bad", "scopes": []string{"READ"}}, nil},
				{"update access key", "PATCH", "/api/acme/applications/" + app + "/access-keys/" + keyID, map[string]any{}, mergePatch},
			}
			expect := func(t *testing.T, r *apitest.Response, field string) {
				t.Helper()
				var p struct {
					Code   string
					Errors []keyhaven.FieldError
				}
				json.Unmarshal(r.Body, &p)
				if r.Status != http.StatusBadRequest || p.Code != "invalid_input" {
					t.Fatalf("status %d code %q, want 400 invalid_input: %s", r.Status, p.Code, r.Body)
				}
				if !slices.ContainsFunc(p.Errors, func(f keyhaven.FieldError) bool { return f.Field == field }) {
					t.Fatalf("errors %+v do not name %s", p.Errors, field)
				}
			}
			for _, tg := range targets {
				for _, b := range bad {
					t.Run(tg.name+": "+b.name, func(t *testing.T) {
						body := map[string]any{}
						for k, v := range tg.base {
							body[k] = v
						}
						for k, v := range b.value.(map[string]any) {
							body[k] = v
						}
						expect(t, e.Do(tg.method, tg.url, admin, body, tg.headers...), b.field)
					})
				}
			}
			for _, tc := range []struct {
				name, method, url string
				body              any
				field             string
			}{
				{"API key expiring in the past", "POST", "/api/acme/api-keys", map[string]any{"name": "BAD", "permissions": []string{"READ"},
					"expiresAt": e.Clock.Now().Add(-time.Minute)}, "expiresAt"},
				{"API key patched to expire in the past", "PATCH", "/api/acme/api-keys/TARGET", map[string]any{"expiresAt": e.Clock.Now().Add(-time.Minute)}, "expiresAt"},
				{"API key without permissions", "PATCH", "/api/acme/api-keys/TARGET", map[string]any{"permissions": []string{}}, "permissions"},
				{"API key named badly", "PATCH", "/api/acme/api-keys/TARGET", map[string]any{"name": "no spaces"}, "name"},
				{"API key permission unknown", "PATCH", "/api/acme/api-keys/TARGET", map[string]any{"permissions": []string{"ROOT"}}, "permissions[0]"},
				{"API key grace 604801", "POST", "/api/acme/api-keys/TARGET/rotate", map[string]any{"gracePeriodSeconds": 604801}, "gracePeriodSeconds"},
				{"API key grace -1", "POST", "/api/acme/api-keys/TARGET/rotate", map[string]any{"gracePeriodSeconds": -1}, "gracePeriodSeconds"},
				{"API key grace a string", "POST", "/api/acme/api-keys/TARGET/rotate", map[string]any{"gracePeriodSeconds": "1h"}, "gracePeriodSeconds"},
				{"access key grace 604801", "POST", "/api/acme/applications/" + app + "/access-keys/" + keyID + "/rotate",
					map[string]any{"gracePeriodSeconds": 604801}, "gracePeriodSeconds"},
				{"access key scopes in a patch", "PATCH", "/api/acme/applications/" + app + "/access-keys/" + keyID, map[string]any{"scopes": []string{"READ"}}, "scopes"},
				{"verify cost 1001", "POST", "/api/verify", map[string]any{"key": admin, "cost": 1001}, "cost"},
				{"verify cost -1", "POST", "/api/verify", map[string]any{"key": admin, "cost": -1}, "cost"},
				{"verify ip nope", "POST", "/api/verify", map[string]any{"key": admin, "ip": "nope"}, "ip"},
				{"verify ip a range", "POST", "/api/verify", map[string]any{"key": admin, "ip": "10.0.0.0/8"}, "ip"},
				{"verify ip with a zone", "POST", "/api/verify", map[string]any{"key": admin, "ip": "fe80::1%eth0"}, "ip"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var headers []string
					if tc.method == "PATCH" {
						headers = mergePatch
					}
					expect(t, e.Do(tc.method, tc.url, admin, tc.body, headers...), tc.field)
				})
			}
			// Nothing was created or changed.
			list, _ := listAPIKeys(t, e, admin, 100)
			if findKey(list, "BAD") != nil || len(list) != 2 {
				t.Fatalf("API keys after bad input: %+v", list)
			}
			var got keyJSON
			e.Do("GET", "/api/acme/api-keys/TARGET", admin, nil).Decode(t, &got)
			if len(got.IPAllowlist) != 0 || got.RateLimit != nil || got.Credits != nil || string(got.Meta) != "{}" {
				t.Fatalf("TARGET changed by bad input: %+v", got)
			}
		})
	}
}

// TestIPAllowlist: a key with an allowlist is good only from the addresses in it, in verify
// (the ip field; none is refused) and on keyhaven's own API (the client address, through
// trusted proxies).
func TestIPAllowlist(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.NewBehind(t, open, netip.MustParsePrefix("127.0.0.1/32"))
			app := createApp(t, e, e.Acme.APIKey, "allowlisted")
			list := []string{"10.0.0.0/8", "203.0.113.7", "2001:db8::/32", "::1"}
			access := createPolicyKey(t, e, app, "listed", map[string]any{"ipAllowlist": list})
			api := createAPIKey(t, e, e.Acme.APIKey, map[string]any{"name": "LISTED", "permissions": []string{"READ"}, "ipAllowlist": list})
			for _, k := range []keyJSON{access, api} {
				for ip, want := range map[string]string{
					"10.1.2.3": "VALID", "10.255.255.255": "VALID", "203.0.113.7": "VALID", "2001:db8::1": "VALID", "2001:db8:ffff::9": "VALID",
					"::1": "VALID", "::ffff:10.9.9.9": "VALID",
					"11.0.0.1": "IP_NOT_ALLOWED", "203.0.113.8": "IP_NOT_ALLOWED", "2001:db9::1": "IP_NOT_ALLOWED", "127.0.0.1": "IP_NOT_ALLOWED",
					"::2": "IP_NOT_ALLOWED",
				} {
					check(t, e, want, map[string]any{"key": k.Key, "ip": ip})
				}
				check(t, e, "IP_NOT_ALLOWED", map[string]any{"key": k.Key})
			}
			t.Run("on keyhaven's API", func(t *testing.T) {
				for _, k := range []keyJSON{access, api} {
					for _, s := range []apitest.Scenario{
						{Name: k.Name + " from a listed address", URL: "/api/acme/me", Token: k.Key, Headers: []string{"X-Forwarded-For", "10.20.30.40"}, ExpectedStatus: 200},
						{Name: k.Name + " from a listed IPv6 address", URL: "/api/acme/me", Token: k.Key, Headers: []string{"X-Forwarded-For", "2001:db8::7"}, ExpectedStatus: 200},
						{Name: k.Name + " from another address", URL: "/api/acme/me", Token: k.Key, Headers: []string{"X-Forwarded-For", "198.51.100.1"},
							ExpectedStatus: 403, ExpectedCode: "ip_not_allowed"},
						{Name: k.Name + " from the proxy itself", URL: "/api/acme/me", Token: k.Key, ExpectedStatus: 403, ExpectedCode: "ip_not_allowed"},
					} {
						s.Run(t, e)
					}
				}
				// Without a trusted proxy, the peer address counts and a forwarded one does not.
				plain := apitest.New(t, open)
				loop := createAPIKey(t, plain, plain.Acme.APIKey, map[string]any{"name": "LOOPBACK", "permissions": []string{"READ"}, "ipAllowlist": []string{"127.0.0.1"}})
				away := createAPIKey(t, plain, plain.Acme.APIKey, map[string]any{"name": "AWAY", "permissions": []string{"READ"}, "ipAllowlist": []string{"10.0.0.0/8"}})
				for _, s := range []apitest.Scenario{
					{Name: "loopback listed", URL: "/api/acme/me", Token: loop.Key, ExpectedStatus: 200},
					{Name: "loopback not listed", URL: "/api/acme/me", Token: away.Key, ExpectedStatus: 403, ExpectedCode: "ip_not_allowed"},
					{Name: "a forwarded address from an untrusted peer", URL: "/api/acme/me", Token: away.Key, Headers: []string{"X-Forwarded-For", "10.0.0.1"},
						ExpectedStatus: 403, ExpectedCode: "ip_not_allowed"},
				} {
					s.Run(t, plain)
				}
			})
			t.Run("cleared, the key is good from anywhere", func(t *testing.T) {
				mustStatus(t, e.Do("PATCH", "/api/acme/applications/"+app+"/access-keys/"+access.ID, e.Acme.APIKey, `{"ipAllowlist":null}`, mergePatch...), http.StatusOK)
				check(t, e, "VALID", map[string]any{"key": access.Key})
				check(t, e, "VALID", map[string]any{"key": access.Key, "ip": "198.51.100.1"})
			})
		})
	}
}

// TestRateLimit: past its limit a key is RATE_LIMITED in verify, with when it may go on,
// and 429 with Retry-After on keyhaven's own API; cost is what a use takes.
func TestRateLimit(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			app := createApp(t, e, e.Acme.APIKey, "limited")
			k := createPolicyKey(t, e, app, "limited", map[string]any{"rateLimit": rateLimit(3, 60)})
			for want := int64(2); want >= 0; want-- {
				v := check(t, e, "VALID", map[string]any{"key": k.Key})
				if v.RateLimit == nil || v.RateLimit.Limit != 3 || v.RateLimit.Remaining != want {
					t.Fatalf("rateLimit %+v, want remaining %d", v.RateLimit, want)
				}
			}
			v := check(t, e, "RATE_LIMITED", map[string]any{"key": k.Key})
			if v.RateLimit == nil || v.RateLimit.Limit != 3 || v.RateLimit.Remaining != 0 || !v.RateLimit.ResetAt.After(e.Clock.Now()) ||
				v.RateLimit.ResetAt.After(e.Clock.Now().Add(2*time.Minute)) {
				t.Fatalf("refused with rateLimit %+v at %v", v.RateLimit, e.Clock.Now())
			}
			e.Clock.Advance(v.RateLimit.ResetAt.Sub(e.Clock.Now()) - time.Millisecond)
			check(t, e, "RATE_LIMITED", map[string]any{"key": k.Key})
			e.Clock.Advance(time.Millisecond)
			check(t, e, "VALID", map[string]any{"key": k.Key})
			e.Clock.Advance(2 * time.Minute)
			if v := check(t, e, "VALID", map[string]any{"key": k.Key}); v.RateLimit.Remaining != 2 {
				t.Fatalf("two periods on: remaining %d, want 2", v.RateLimit.Remaining)
			}

			t.Run("cost", func(t *testing.T) {
				k := createPolicyKey(t, e, app, "costly", map[string]any{"rateLimit": rateLimit(10, 3600)})
				for _, step := range []struct {
					cost      int
					code      string
					remaining int64
				}{{0, "VALID", 10}, {4, "VALID", 6}, {7, "RATE_LIMITED", 6}, {0, "VALID", 6}, {6, "VALID", 0}, {1, "RATE_LIMITED", 0}, {0, "VALID", 0}} {
					v := check(t, e, step.code, map[string]any{"key": k.Key, "cost": step.cost})
					if v.RateLimit == nil || v.RateLimit.Remaining != step.remaining {
						t.Fatalf("cost %d: rateLimit %+v, want remaining %d", step.cost, v.RateLimit, step.remaining)
					}
				}
			})
			t.Run("on keyhaven's API", func(t *testing.T) {
				api := createAPIKey(t, e, e.Acme.APIKey, map[string]any{"name": "LIMITED", "permissions": []string{"READ"}, "rateLimit": rateLimit(2, 60)})
				mustStatus(t, e.Do("GET", "/api/acme/me", api.Key, nil), http.StatusOK)
				mustStatus(t, e.Do("GET", "/api/acme/me", api.Key, nil), http.StatusOK)
				r := e.Do("GET", "/api/acme/me", api.Key, nil)
				if r.Status != http.StatusTooManyRequests || r.JSON()["code"] != "rate_limited" {
					t.Fatalf("past the limit: %d %s", r.Status, r.Body)
				}
				secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
				if err != nil || secs < 1 || secs > 120 {
					t.Fatalf("Retry-After %q, want whole seconds within two periods", r.Header.Get("Retry-After"))
				}
				e.Clock.Advance(time.Duration(secs) * time.Second)
				mustStatus(t, e.Do("GET", "/api/acme/me", api.Key, nil), http.StatusOK)
				// The admin key, without a rate limit, is not held back by another key's.
				mustStatus(t, e.Do("GET", "/api/acme/me", e.Acme.APIKey, nil), http.StatusOK)
			})
			t.Run("removed, the key is unlimited", func(t *testing.T) {
				mustStatus(t, e.Do("PATCH", "/api/acme/applications/"+app+"/access-keys/"+k.ID, e.Acme.APIKey, `{"rateLimit":null}`, mergePatch...), http.StatusOK)
				for range 5 {
					if v := check(t, e, "VALID", map[string]any{"key": k.Key}); v.RateLimit != nil {
						t.Fatalf("rateLimit %+v after it was removed", v.RateLimit)
					}
				}
			})
		})
	}
}

// TestCredits: never more VALID answers than credits, under concurrency; a refused use takes
// nothing from the rate limit; a refill shows at the start of the UTC day.
func TestCredits(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			app := createApp(t, e, e.Acme.APIKey, "metered")
			t.Run("20 concurrent verifications against 10 credits", func(t *testing.T) {
				k := createPolicyKey(t, e, app, "ten", map[string]any{"credits": credits(10)})
				var mu sync.Mutex
				codes := map[string]int{}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range 20 {
					wg.Go(func() {
						<-start
						r := e.Do("POST", "/api/verify", "", map[string]any{"key": k.Key})
						var v policyVerdict
						json.Unmarshal(r.Body, &v)
						mu.Lock()
						codes[fmt.Sprint(r.Status, " ", v.Code)]++
						mu.Unlock()
					})
				}
				close(start)
				wg.Wait()
				if codes["200 VALID"] != 10 || codes["200 USAGE_EXCEEDED"] != 10 {
					t.Fatalf("answers %v, want 10 VALID and 10 USAGE_EXCEEDED", codes)
				}
				var got keyJSON
				e.Do("GET", "/api/acme/applications/"+app+"/access-keys/"+k.ID, e.Acme.APIKey, nil).Decode(t, &got)
				if got.Credits == nil || got.Credits.Remaining != 0 {
					t.Fatalf("credits after: %+v", got.Credits)
				}
			})
			t.Run("cost", func(t *testing.T) {
				k := createPolicyKey(t, e, app, "five", map[string]any{"credits": credits(5)})
				for _, step := range []struct {
					cost      int
					code      string
					remaining int64
				}{{0, "VALID", 5}, {6, "USAGE_EXCEEDED", 5}, {3, "VALID", 2}, {3, "USAGE_EXCEEDED", 2}, {2, "VALID", 0}, {1, "USAGE_EXCEEDED", 0}, {0, "VALID", 0}} {
					v := check(t, e, step.code, map[string]any{"key": k.Key, "cost": step.cost})
					if v.Credits == nil || v.Credits.Remaining != step.remaining {
						t.Fatalf("cost %d: credits %+v, want %d", step.cost, v.Credits, step.remaining)
					}
				}
			})
			t.Run("a refused use takes nothing from the rate limit", func(t *testing.T) {
				k := createPolicyKey(t, e, app, "both", map[string]any{"credits": credits(2), "rateLimit": rateLimit(100, 3600)})
				check(t, e, "VALID", map[string]any{"key": k.Key})
				if v := check(t, e, "VALID", map[string]any{"key": k.Key}); v.RateLimit.Remaining != 98 || v.Credits.Remaining != 0 {
					t.Fatalf("after two uses: rateLimit %+v credits %+v", v.RateLimit, v.Credits)
				}
				for range 3 {
					v := check(t, e, "USAGE_EXCEEDED", map[string]any{"key": k.Key})
					if v.RateLimit != nil && v.RateLimit.Remaining != 98 {
						t.Fatalf("a refused use says it left rateLimit %+v, want remaining 98", v.RateLimit)
					}
				}
				if v := check(t, e, "VALID", map[string]any{"key": k.Key, "cost": 0}); v.RateLimit.Remaining != 98 {
					t.Fatalf("refused uses took from the rate limit: remaining %d, want 98", v.RateLimit.Remaining)
				}
			})
			t.Run("a daily refill at UTC midnight", func(t *testing.T) {
				k := createPolicyKey(t, e, app, "daily", map[string]any{"credits": map[string]any{"remaining": 1, "refill": map[string]any{"amount": 3, "interval": "DAILY"}}})
				shown := func() int64 {
					t.Helper()
					var page struct{ Items []keyJSON }
					e.Do("GET", "/api/acme/applications/"+app+"/access-keys?limit=100", e.Acme.APIKey, nil).Decode(t, &page)
					got := findKey(page.Items, "daily")
					if got == nil || got.Credits == nil || got.Credits.Refill == nil || got.Credits.Refill.Amount != 3 || got.Credits.Refill.Interval != "DAILY" {
						t.Fatalf("listed %+v", got)
					}
					return got.Credits.Remaining
				}
				check(t, e, "VALID", map[string]any{"key": k.Key})
				check(t, e, "USAGE_EXCEEDED", map[string]any{"key": k.Key})
				now := e.Clock.Now().UTC()
				midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
				e.Clock.Advance(midnight.Sub(now) - time.Second)
				if n := shown(); n != 0 {
					t.Fatalf("a second before midnight: %d credits, want 0", n)
				}
				check(t, e, "USAGE_EXCEEDED", map[string]any{"key": k.Key})
				e.Clock.Advance(time.Second)
				if n := shown(); n != 3 {
					t.Fatalf("at midnight: %d credits listed, want the refill's 3", n)
				}
				if v := check(t, e, "VALID", map[string]any{"key": k.Key}); v.Credits.Remaining != 2 {
					t.Fatalf("the first use of the day left %d credits, want 2", v.Credits.Remaining)
				}
				if n := shown(); n != 2 {
					t.Fatalf("after a use: %d credits listed, want 2", n)
				}
				e.Clock.Advance(24 * time.Hour)
				if v := check(t, e, "VALID", map[string]any{"key": k.Key, "cost": 3}); v.Credits.Remaining != 0 {
					t.Fatalf("the next day: %d credits left, want 0", v.Credits.Remaining)
				}
			})
		})
	}
}

// TestVerifyCheckOrder: the first failing check in the contract's order decides the code,
// and a refused use takes nothing.
func TestVerifyCheckOrder(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			admin := e.Acme.APIKey
			app := createApp(t, e, admin, "ordered")
			listed := map[string]any{"ipAllowlist": []string{"10.0.0.0/8"}}
			wrongIP, rightIP := "192.0.2.1", "10.0.0.1"

			revoked := createPolicyKey(t, e, app, "revoked", listed)
			mustStatus(t, e.Do("POST", "/api/acme/applications/"+app+"/access-keys/"+revoked.ID+"/revoke", admin, nil), http.StatusOK)
			check(t, e, "REVOKED", map[string]any{"key": revoked.Key, "ip": wrongIP})

			expiring := createPolicyKey(t, e, app, "expiring", map[string]any{"ipAllowlist": []string{"10.0.0.0/8"},
				"expiresAt": e.Clock.Now().Add(time.Minute)})
			disabled := createAPIKey(t, e, admin, map[string]any{"name": "DISABLED", "permissions": []string{"READ"}, "active": false, "ipAllowlist": []string{"10.0.0.0/8"}})
			check(t, e, "DISABLED", map[string]any{"key": disabled.Key, "ip": wrongIP})

			k := createPolicyKey(t, e, app, "ip-first", listed)
			check(t, e, "IP_NOT_ALLOWED", map[string]any{"key": k.Key, "ip": wrongIP, "permissions": []string{"AUDIT_READ"}})
			check(t, e, "INSUFFICIENT_PERMISSIONS", map[string]any{"key": k.Key, "ip": rightIP, "permissions": []string{"AUDIT_READ"}})

			broke := createPolicyKey(t, e, app, "broke", map[string]any{"credits": credits(0)})
			check(t, e, "INSUFFICIENT_PERMISSIONS", map[string]any{"key": broke.Key, "permissions": []string{"AUDIT_READ"}})
			check(t, e, "USAGE_EXCEEDED", map[string]any{"key": broke.Key})

			metered := createPolicyKey(t, e, app, "metered", map[string]any{"credits": credits(1), "rateLimit": rateLimit(1, 3600)})
			for range 3 {
				check(t, e, "INSUFFICIENT_PERMISSIONS", map[string]any{"key": metered.Key, "permissions": []string{"AUDIT_READ"}})
			}
			if v := check(t, e, "VALID", map[string]any{"key": metered.Key}); v.Credits.Remaining != 0 || v.RateLimit.Remaining != 0 {
				t.Fatalf("refused uses took something: credits %+v, rateLimit %+v", v.Credits, v.RateLimit)
			}
			// Now both are used up: the rate limit, checked first, decides.
			check(t, e, "RATE_LIMITED", map[string]any{"key": metered.Key})

			e.Clock.Advance(time.Minute)
			check(t, e, "EXPIRED", map[string]any{"key": expiring.Key, "ip": wrongIP})
		})
	}
}

// TestWrongKeysDoNotLockOutAnAddress: one gateway forwards the traffic of many users, so a
// good key is VALID however many wrong ones its address sent before it.
func TestWrongKeysDoNotLockOutAnAddress(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			app := createApp(t, e, e.Acme.APIKey, "gateway")
			_, key := createKey(t, e, e.Acme.APIKey, app, "good")
			broken := []byte(key)
			broken[12] ^= 1
			for i := range 200 {
				wrong := secret.Generate(secret.AccessKey)
				switch i % 4 {
				case 1:
					wrong = string(broken)
				case 2:
					wrong = "nonsense"
				case 3:
					wrong = secret.Generate(secret.APIKey)
				}
				check(t, e, "NOT_FOUND", map[string]any{"key": wrong, "ip": "203.0.113.9"})
			}
			check(t, e, "VALID", map[string]any{"key": key, "ip": "203.0.113.9"})
			check(t, e, "VALID", map[string]any{"key": key})
			mustStatus(t, e.Do("GET", "/api/acme/me", key, nil), http.StatusOK)
		})
	}
}
