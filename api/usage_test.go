package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

type usageJSON struct {
	Series []struct {
		Start    time.Time
		Outcomes map[string]int64
	}
}

// usageSeries reads GET /api/acme/usage with the query and returns, for each bucket holding
// uses, its outcomes with uses ("VALID=3"), by the bucket's start in RFC 3339.
func usageSeries(t *testing.T, e *apitest.Env, q url.Values) (usageJSON, map[string]map[string]int64) {
	t.Helper()
	var u usageJSON
	mustStatus(t, e.Do("GET", "/api/acme/usage?"+q.Encode(), e.Acme.APIKey, nil), http.StatusOK).Decode(t, &u)
	used := map[string]map[string]int64{}
	for _, b := range u.Series {
		for o, n := range b.Outcomes {
			if n > 0 {
				if used[b.Start.UTC().Format(time.RFC3339)] == nil {
					used[b.Start.UTC().Format(time.RFC3339)] = map[string]int64{}
				}
				used[b.Start.UTC().Format(time.RFC3339)][o] = n
			}
		}
	}
	return u, used
}

// expected adds n uses with outcome at t to want, in t's bucket of g.
func expected(want map[string]map[string]int64, g keyhaven.Granularity, t time.Time, outcome string, n int64) {
	k := g.Start(t).Format(time.RFC3339)
	if want[k] == nil {
		want[k] = map[string]int64{}
	}
	want[k][outcome] += n
}

// TestUsageCountsEveryOutcome: on both databases, N verifications of a key in each of several
// outcomes, in two hours, read back after a flush as N for each outcome in the right minute,
// hour and day; a device access's verifications count under it; unknown secrets count in the
// tenant's totals when a tenant's credential asked, and nowhere when nobody did.
func TestUsageCountsEveryOutcome(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			const n = 7
			var key struct{ ID, Key string }
			mustStatus(t, e.Do("POST", "/api/acme/api-keys", e.Acme.APIKey, map[string]any{"name": "metered", "permissions": []string{"READ"},
				"ipAllowlist": []string{"10.0.0.0/8"}, "rateLimit": map[string]any{"limit": n, "periodSeconds": 86400}}), http.StatusCreated).Decode(t, &key)
			verify := func(body map[string]any, token, wantCode string) {
				t.Helper()
				r := mustStatus(t, e.Do("POST", "/api/verify", token, body), http.StatusOK)
				if got := r.JSON()["code"]; got != wantCode {
					t.Fatalf("verify %v: code %v, want %s", body, got, wantCode)
				}
			}
			keyWant := map[keyhaven.Granularity]map[string]map[string]int64{}
			for _, g := range keyhaven.Granularities {
				keyWant[g] = map[string]map[string]int64{}
			}
			counted := func(outcome string, times int64) {
				for _, g := range keyhaven.Granularities {
					expected(keyWant[g], g, e.Clock.Now(), outcome, times)
				}
			}

			first := e.Clock.Now()
			for range n {
				verify(map[string]any{"key": key.Key, "ip": "10.1.2.3"}, "", "VALID")
				verify(map[string]any{"key": key.Key, "ip": "192.0.2.1"}, "", "IP_NOT_ALLOWED")
				verify(map[string]any{"key": key.Key, "ip": "10.1.2.3", "permissions": []string{"WRITE"}}, "", "INSUFFICIENT_PERMISSIONS")
			}
			for range n {
				verify(map[string]any{"key": key.Key, "ip": "10.1.2.3"}, "", "RATE_LIMITED")
			}
			counted("VALID", n)
			counted("IP_NOT_ALLOWED", n)
			counted("INSUFFICIENT_PERMISSIONS", n)
			counted("RATE_LIMITED", n)
			// An hour and a minute later, in another minute and hour (and maybe day).
			e.Clock.Advance(time.Hour + time.Minute)
			mustStatus(t, e.Do("PATCH", "/api/acme/api-keys/metered", e.Acme.APIKey, map[string]any{"active": false}), http.StatusOK)
			for range n {
				verify(map[string]any{"key": key.Key, "ip": "10.1.2.3"}, "", "DISABLED")
			}
			counted("DISABLED", n)
			// Unknown secrets: asked by the tenant's key, in its totals; asked anonymously, nowhere.
			verify(map[string]any{"key": "kh_nonsense"}, e.Acme.APIKey, "NOT_FOUND")
			verify(map[string]any{"key": "kh_nonsense"}, e.Acme.APIKey, "NOT_FOUND")
			verify(map[string]any{"key": "kh_nonsense"}, "", "NOT_FOUND")
			// A device access: counted under it; a wrong password in the totals.
			e.ActiveContract(t)
			dev := createAccess(t, e, map[string]any{"contractId": "contract-001", "deviceName": "meter"})
			if got := verifyAccessAs(t, e, dev.Username, dev.Password); got != "VALID" {
				t.Fatalf("device verify: %s", got)
			}
			if got := verifyAccessAs(t, e, dev.Username, "not-the-password"); got != "INVALID_CREDENTIALS" {
				t.Fatalf("device verify: %s", got)
			}
			last := e.Clock.Now()

			if err := e.Node.Counter.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, g := range keyhaven.Granularities {
				q := url.Values{"credentialId": {key.ID}, "granularity": {string(g)},
					"from": {first.Format(time.RFC3339Nano)}, "to": {last.Format(time.RFC3339Nano)}}
				u, got := usageSeries(t, e, q)
				if fmt.Sprint(got) != fmt.Sprint(keyWant[g]) {
					t.Errorf("%s: got %v, want %v", g, got, keyWant[g])
				}
				if want := int(g.Start(last).Add(g.Duration()).Sub(g.Start(first)) / g.Duration()); len(u.Series) != want {
					t.Errorf("%s: %d buckets, want %d, every one from the first use's to the last's", g, len(u.Series), want)
				}
				for _, b := range u.Series {
					if len(b.Outcomes) != 5 {
						t.Errorf("%s: bucket %s lists %v, want the 5 outcomes of the series", g, b.Start, b.Outcomes)
						break
					}
				}
			}
			day := url.Values{"granularity": {"DAY"}, "from": {first.Format(time.RFC3339Nano)}, "to": {last.Format(time.RFC3339Nano)}}
			_, totals := usageSeries(t, e, day)
			var notFound, invalid int64
			for _, b := range totals {
				notFound += b["NOT_FOUND"]
				invalid += b["INVALID_CREDENTIALS"]
			}
			if notFound != 2 || invalid != 1 {
				t.Errorf("tenant's totals: NOT_FOUND %d, INVALID_CREDENTIALS %d; want 2 and 1", notFound, invalid)
			}
			day.Set("credentialId", dev.ID)
			_, device := usageSeries(t, e, day)
			if fmt.Sprint(device) != fmt.Sprint(map[string]map[string]int64{keyhaven.GranularityDay.Start(last).Format(time.RFC3339): {"VALID": 1}}) {
				t.Errorf("device access: %v, want its one VALID verification", device)
			}
		})
	}
}

func verifyAccessAs(t *testing.T, e *apitest.Env, username, password string) string {
	t.Helper()
	r := mustStatus(t, e.Do("POST", "/api/acme/access/verify", e.Acme.APIKey, map[string]string{"username": username, "password": password}), 200)
	code, _ := r.JSON()["code"].(string)
	return code
}

// TestUsageDefaults: without a period, the last 24 whole hours of the tenant, the current one
// last, every one listed.
func TestUsageDefaults(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	u, _ := usageSeries(t, e, url.Values{})
	if len(u.Series) != 24 {
		t.Fatalf("%d buckets, want 24", len(u.Series))
	}
	now := e.Clock.Now()
	if last := u.Series[23].Start; !last.Equal(now.UTC().Truncate(time.Hour)) {
		t.Errorf("last bucket starts %v, want the current hour %v", last, now.Truncate(time.Hour))
	}
	for _, b := range u.Series {
		if b.Outcomes == nil {
			t.Fatalf("bucket %v has no outcomes object", b.Start)
		}
	}
}

// TestUsageRefusals: usage needs USAGE_READ; bad parameters are 400 with the field named;
// another tenant's credential is 404.
func TestUsageRefusals(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	other, err := e.Svc.CreateTenant(context.Background(), "other", "admin@other.test")
	if err != nil {
		t.Fatal(err)
	}
	_, reader := e.CreateUser("reader@acme.test", keyhaven.USAGE_READ)
	_, auditor := e.CreateUser("auditor@acme.test", keyhaven.AUDIT_READ)
	otherKey, err := e.Svc.Authenticate(context.Background(), keyhaven.Use{Secret: other.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	admin := e.Acme.APIKey
	now := e.Clock.Now().UTC()
	at := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }
	for _, s := range []apitest.Scenario{
		{Name: "WithUsageRead", URL: "/api/acme/usage", Token: reader, ExpectedStatus: 200, ExpectedContent: []string{`"series":[`}},
		{Name: "WithoutUsageRead", URL: "/api/acme/usage", Token: auditor, ExpectedStatus: 403, ExpectedCode: "missing_permission"},
		{Name: "NoCredential", URL: "/api/acme/usage", ExpectedStatus: 401},
		{Name: "AnotherTenantsKeyOnThisPath", URL: "/api/acme/usage", Token: other.APIKey, ExpectedStatus: 403},
		{Name: "AnotherTenantsCredential", URL: "/api/acme/usage?credentialId=" + otherKey.CredentialID, Token: admin,
			ExpectedStatus: 404, ExpectedCode: "not_found"},
		{Name: "UnknownCredential", URL: "/api/acme/usage?credentialId=key-nope", Token: admin, ExpectedStatus: 404},
		{Name: "LongCredential", URL: "/api/acme/usage?credentialId=" + strings.Repeat("k", 65), Token: admin, ExpectedStatus: 400},
		{Name: "UnknownGranularity", URL: "/api/acme/usage?granularity=WEEK", Token: admin, ExpectedStatus: 400,
			ExpectedCode: "invalid_input", ExpectedContent: []string{`"field":"granularity"`}},
		{Name: "FromNotATime", URL: "/api/acme/usage?from=yesterday", Token: admin, ExpectedStatus: 400,
			ExpectedCode: "invalid_input", ExpectedContent: []string{`"field":"from"`}},
		{Name: "FromAfterTo", URL: "/api/acme/usage?from=" + at(now) + "&to=" + at(now.Add(-time.Hour)), Token: admin,
			ExpectedStatus: 400, ExpectedCode: "invalid_input", ExpectedContent: []string{`"field":"from"`}},
		{Name: "FromIsTo", URL: "/api/acme/usage?from=" + at(now) + "&to=" + at(now), Token: admin,
			ExpectedStatus: 400, ExpectedCode: "invalid_input", ExpectedContent: []string{`"field":"from"`}},
		{Name: "TooManyBuckets", URL: "/api/acme/usage?granularity=MINUTE&from=" + at(now.Add(-72*time.Hour)), Token: admin,
			ExpectedStatus: 400, ExpectedCode: "invalid_input", ExpectedContent: []string{`"field":"from"`, "2160"}},
		{Name: "AtTheCap", URL: "/api/acme/usage?granularity=HOUR&from=" + at(now.Truncate(time.Hour).Add(-2159*time.Hour)) + "&to=" + at(now),
			Token: admin, ExpectedStatus: 200},
		{Name: "AncientPeriod", URL: "/api/acme/usage?granularity=DAY&from=1000-01-01T00:00:00Z&to=9999-12-31T00:00:00Z", Token: admin,
			ExpectedStatus: 400, ExpectedCode: "invalid_input"},
		{Name: "UnknownParameter", URL: "/api/acme/usage?tenantId=x", Token: admin, ExpectedStatus: 400},
	} {
		s.Run(t, e)
	}
}
