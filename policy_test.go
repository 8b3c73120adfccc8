package keyhaven_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// TestPolicyRules creates keys with each policy field, good and bad: the domain validates
// every field and names it in its refusal, whatever transport passed it on.
func TestPolicyRules(t *testing.T) {
	f := newFixture(t)
	many := make([]string, keyhaven.MaxIPAllowlist+1)
	for i := range many {
		many[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	rl := func(limit, period int64) *keyhaven.RateLimitInput {
		return &keyhaven.RateLimitInput{Limit: limit, PeriodSeconds: period}
	}
	tests := []struct {
		name   string
		policy keyhaven.PolicyInput
		field  string // the field refused; "" when the key is created
	}{
		{"nothing", keyhaven.PolicyInput{}, ""},
		{"addresses and ranges", keyhaven.PolicyInput{IPAllowlist: []string{"203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "::1"}}, ""},
		{"the most addresses", keyhaven.PolicyInput{IPAllowlist: many[:keyhaven.MaxIPAllowlist]}, ""},
		{"too many addresses", keyhaven.PolicyInput{IPAllowlist: many}, "ipAllowlist"},
		{"not an address", keyhaven.PolicyInput{IPAllowlist: []string{"10.0.0.1", "nope"}}, "ipAllowlist[1]"},
		{"a bad prefix length", keyhaven.PolicyInput{IPAllowlist: []string{"10.0.0.0/33"}}, "ipAllowlist[0]"},
		{"a zone", keyhaven.PolicyInput{IPAllowlist: []string{"fe80::1%eth0"}}, "ipAllowlist[0]"},
		{"the least rate limit", keyhaven.PolicyInput{RateLimit: rl(1, 1)}, ""},
		{"the most rate limit", keyhaven.PolicyInput{RateLimit: rl(keyhaven.MaxRateLimit, 86400)}, ""},
		{"a zero limit", keyhaven.PolicyInput{RateLimit: rl(0, 60)}, "rateLimit.limit"},
		{"too great a limit", keyhaven.PolicyInput{RateLimit: rl(keyhaven.MaxRateLimit+1, 60)}, "rateLimit.limit"},
		{"a zero period", keyhaven.PolicyInput{RateLimit: rl(10, 0)}, "rateLimit.periodSeconds"},
		{"a period over a day", keyhaven.PolicyInput{RateLimit: rl(10, 86401)}, "rateLimit.periodSeconds"},
		{"no credits", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{}}, ""},
		{"the most credits", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Remaining: keyhaven.MaxCredits}}, ""},
		{"negative credits", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Remaining: -1}}, "credits.remaining"},
		{"too many credits", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Remaining: keyhaven.MaxCredits + 1}}, "credits.remaining"},
		{"a refill", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Refill: &keyhaven.RefillInput{Amount: 5, Interval: "MONTHLY"}}}, ""},
		{"a weekly refill", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Refill: &keyhaven.RefillInput{Amount: 5, Interval: "WEEKLY"}}}, "credits.refill.interval"},
		{"a refill of nothing", keyhaven.PolicyInput{Credits: &keyhaven.CreditsInput{Refill: &keyhaven.RefillInput{Interval: "DAILY"}}}, "credits.refill.amount"},
		{"meta", keyhaven.PolicyInput{Meta: json.RawMessage(`{"plan": "gold", "seats": 3}`)}, ""},
		{"meta null", keyhaven.PolicyInput{Meta: json.RawMessage(`null`)}, ""},
		{"meta not an object", keyhaven.PolicyInput{Meta: json.RawMessage(`[1]`)}, "meta"},
		{"meta not JSON", keyhaven.PolicyInput{Meta: json.RawMessage(`{"a":`)}, "meta"},
		{"meta too large", keyhaven.PolicyInput{Meta: json.RawMessage(`{"a":"` + strings.Repeat("x", keyhaven.MaxMetaBytes) + `"}`)}, "meta"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			c, _, err := f.svc.CreateAPIKey(f.ctx, f.admin, keyhaven.APIKeyInput{Name: f.name("key_"), Permissions: names(keyhaven.READ), Policy: tc.policy})
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if fields := keyhaven.ErrorFields(err); len(fields) != 1 || fields[0].Field != tc.field {
				t.Fatalf("created %v, err %v: want field %s refused", c, err, tc.field)
			}
		})
	}
}

// TestPolicyStored reads a key's policy back as it was set, in its canonical form, and
// changes it field by field: what a change does not name stays, and a nil value clears.
func TestPolicyStored(t *testing.T) {
	f := newFixture(t)
	c, _, err := f.svc.CreateAPIKey(f.ctx, f.admin, keyhaven.APIKeyInput{Name: "gateway", Permissions: names(keyhaven.READ),
		Policy: keyhaven.PolicyInput{
			IPAllowlist: []string{"10.1.2.3/8", "::ffff:192.0.2.1", "2001:DB8::1"},
			RateLimit:   &keyhaven.RateLimitInput{Limit: 40, PeriodSeconds: 60},
			Credits:     &keyhaven.CreditsInput{Remaining: 7, Refill: &keyhaven.RefillInput{Amount: 100, Interval: "DAILY"}},
			Meta:        json.RawMessage(`{ "plan" : "<gold>" }`),
		}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.APIKey(f.ctx, f.admin, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	if s := keyhaven.FormatAllowlist(got.IPAllowlist); s != "10.0.0.0/8,192.0.2.1/32,2001:db8::1/128" {
		t.Errorf("allowlist %s", s)
	}
	if *got.RateLimit != (keyhaven.RateLimit{Limit: 40, Period: time.Minute}) {
		t.Errorf("rate limit %+v", got.RateLimit)
	}
	if got.Credits.Remaining != 7 || *got.Credits.Refill != (keyhaven.Refill{Amount: 100, Interval: keyhaven.RefillDaily}) {
		t.Errorf("credits %+v", got.Credits)
	}
	if string(got.Meta) != `{"plan":"\u003cgold\u003e"}` {
		t.Errorf("meta %s", got.Meta)
	}
	// The next UTC day refills the credits.
	now := f.clock.Now()
	f.clock.Advance(keyhaven.RefillDaily.PeriodStart(now).Add(24 * time.Hour).Sub(now))
	if n := got.Credits.At(f.clock.Now()); n != 100 {
		t.Errorf("credits the next day %d, want the refill's 100", n)
	}

	_, err = f.svc.UpdateAPIKey(f.ctx, f.admin, "gateway", keyhaven.APIKeyUpdate{Policy: keyhaven.PolicyUpdate{
		RateLimit: keyhaven.Some[*keyhaven.RateLimitInput](nil),
		Meta:      keyhaven.Some(json.RawMessage(`{"plan":"silver"}`)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = f.svc.APIKey(f.ctx, f.admin, "gateway")
	if got.RateLimit != nil || string(got.Meta) != `{"plan":"silver"}` || len(got.IPAllowlist) != 3 || got.Credits == nil || got.ID != c.ID {
		t.Errorf("after clearing the rate limit and changing meta: %+v", got.Policy)
	}
}
