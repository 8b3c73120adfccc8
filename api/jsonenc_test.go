package api

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAppendVerdict(t *testing.T) {
	exp := time.Date(2031, 12, 31, 11, 59, 0, 123000000, time.UTC)
	for _, v := range []Verdict{
		{Code: "NOT_FOUND", Permissions: []Permission{}},
		{Valid: true, Code: "VALID", Tenant: "acme", Kind: "api_key", ID: "key_1", Name: "POWER_USER", Owner: "usr_1",
			Permissions: []Permission{"READ", "WRITE"}, ExpiresAt: &exp},
		{Code: "RATE_LIMITED", Tenant: "acme", Kind: "access_key", ID: "akey_1", Name: "gw", Owner: "usr_1", Permissions: []Permission{},
			Meta: json.RawMessage(`{"plan":"gold","seats":[1,2],"note":"\u003c\u0026\u003e"}`), RateLimit: &VerifyRateLimit{Limit: 40, Remaining: 0, ResetAt: exp},
			Credits: &VerifyCredits{Remaining: 1_000_000_000_000}},
		{Valid: true, Code: "VALID", Meta: json.RawMessage(`{}`), Permissions: []Permission{"READ"}, Credits: &VerifyCredits{}},
		{Code: "REVOKED", Name: "a \"quoted\" <name> & \\ tab\t nl\n ctl\x01 é ✓ \u2028 bad\xff end", Permissions: []Permission{}},
	} {
		want, _ := json.Marshal(v)
		if got := appendVerdict(nil, &v); string(got) != string(want)+"\n" {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("<\"\\\x00\xff\u2029>")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
