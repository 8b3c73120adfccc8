package keyhaven_test

import (
	"encoding/json"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// TestChangeOnlyAnAccessKeysPolicy changes nothing but an access key's policy: the change is
// made and audited (it once wrote its audit detail into a map it had not made, and panicked).
func TestChangeOnlyAnAccessKeysPolicy(t *testing.T) {
	f := newFixture(t)
	app := f.application(f.admin.UserID)
	c, _ := f.accessKey(app, f.admin.UserID, time.Time{})
	got, err := f.svc.UpdateAccessKey(f.ctx, f.admin, app.ID, c.ID, keyhaven.AccessKeyUpdate{Policy: keyhaven.PolicyUpdate{
		RateLimit: keyhaven.Some(&keyhaven.RateLimitInput{Limit: 5, PeriodSeconds: 60}),
	}})
	if err != nil || got.RateLimit == nil || got.RateLimit.Limit != 5 {
		t.Fatalf("UpdateAccessKey = %+v, %v", got, err)
	}
	events, err := f.svc.ListAudit(f.ctx, f.admin, keyhaven.AuditFilter{Action: "access_key.update"})
	if err != nil || len(events) != 1 || events[0].Detail["application"] != app.ID || events[0].Detail["rateLimit"] == nil {
		t.Fatalf("audit events %+v, %v", events, err)
	}
}

// TestClearedFieldsAreAuditedAsCleared clears an API key's expiry and policy: the audit
// detail says so, with no null value (which the audit listing's schema does not admit).
func TestClearedFieldsAreAuditedAsCleared(t *testing.T) {
	f := newFixture(t)
	_, c := f.key(f.user(keyhaven.READ), keyhaven.READ)
	_, err := f.svc.UpdateAPIKey(f.ctx, f.admin, c.Name, keyhaven.APIKeyUpdate{
		Expires: keyhaven.Some[*time.Time](nil),
		Policy: keyhaven.PolicyUpdate{
			IPAllowlist: keyhaven.Some[[]string](nil), RateLimit: keyhaven.Some[*keyhaven.RateLimitInput](nil),
			Credits: keyhaven.Some[*keyhaven.CreditsInput](nil), Meta: keyhaven.Some[json.RawMessage](nil),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	events, err := f.svc.ListAudit(f.ctx, f.admin, keyhaven.AuditFilter{Action: "api_key.update"})
	if err != nil || len(events) != 1 {
		t.Fatalf("audit events %+v, %v", events, err)
	}
	for _, field := range []string{"expires", "ipAllowlist", "rateLimit", "credits"} {
		if got := events[0].Detail[field]; got != "cleared" {
			t.Errorf("detail[%s] = %#v, want cleared", field, got)
		}
	}
}

// TestRefusedUseSaysWhatItLeft: a use refused for want of credits gives back what it took
// from the rate limit, and its verdict says what the rate limit has left.
func TestRefusedUseSaysWhatItLeft(t *testing.T) {
	f := newFixture(t)
	app := f.application(f.admin.UserID)
	c, k := f.accessKey(app, f.admin.UserID, time.Time{})
	_, err := f.svc.UpdateAccessKey(f.ctx, f.admin, app.ID, c.ID, keyhaven.AccessKeyUpdate{Policy: keyhaven.PolicyUpdate{
		RateLimit: keyhaven.Some(&keyhaven.RateLimitInput{Limit: 10, PeriodSeconds: 3600}),
		Credits:   keyhaven.Some(&keyhaven.CreditsInput{Remaining: 1}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	use := keyhaven.Use{Secret: k, Cost: 1, Verification: true}
	for i, want := range []struct {
		code      keyhaven.VerdictCode
		remaining int64
	}{{keyhaven.CodeValid, 9}, {keyhaven.CodeUsageExceeded, 9}, {keyhaven.CodeUsageExceeded, 9}} {
		v, err := f.svc.Judge(f.ctx, use)
		if err != nil {
			t.Fatal(err)
		}
		if v.Code != want.code || v.RateLimit == nil || v.RateLimit.Remaining != want.remaining {
			t.Fatalf("use %d: %s with rate limit %+v, want %s leaving %d", i, v.Code, v.RateLimit, want.code, want.remaining)
		}
	}
}
