package api

import (
	"encoding/json"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
)

// KeyPolicy is a key's policy as the API shows it, for API keys and access keys alike.
type KeyPolicy struct {
	IPAllowlist []string   `json:"ipAllowlist" doc:"The addresses and CIDR ranges the key is good from; empty: any"`
	RateLimit   *RateLimit `json:"rateLimit,omitempty" doc:"The key's rate limit, when it has one"`
	Credits     *Credits   `json:"credits,omitempty" doc:"The key's credits, when it has some; remaining is as of the request, a due refill applied"`
	Meta        Meta       `json:"meta" doc:"The key's metadata for the downstream service ({} when none)"`
}

func toKeyPolicy(p *keyhaven.Policy, now time.Time) KeyPolicy {
	out := KeyPolicy{IPAllowlist: keyhaven.AllowlistStrings(p.IPAllowlist), Meta: Meta(p.Meta)}
	if r := p.RateLimit; r != nil {
		out.RateLimit = &RateLimit{Limit: r.Limit, PeriodSeconds: int64(r.Period / time.Second)}
	}
	if c := p.Credits; c != nil {
		out.Credits = &Credits{Remaining: c.At(now)}
		if r := c.Refill; r != nil {
			out.Credits.Refill = &Refill{Amount: r.Amount, Interval: string(r.Interval)}
		}
	}
	return out
}

// RateLimit bounds a key's uses: every VALID verification takes its cost, every request on
// keyhaven's own API made with the key takes 1.
type RateLimit struct {
	Limit         int64 `json:"limit" minimum:"1" maximum:"1000000000" doc:"Units of use in any period"`
	PeriodSeconds int64 `json:"periodSeconds" minimum:"1" maximum:"86400"`
}

// Credits are what a key's verifications may still take, and how they refill.
type Credits struct {
	Remaining int64   `json:"remaining" minimum:"0" maximum:"1000000000000"`
	Refill    *Refill `json:"refill,omitempty" doc:"Sets remaining to amount at the start of every UTC day or month"`
}

// Refill sets a key's credits to Amount at the start of every Interval (UTC).
type Refill struct {
	Amount   int64  `json:"amount" minimum:"1" maximum:"1000000000000"`
	Interval string `json:"interval" enum:"DAILY,MONTHLY"`
}

func (r *RateLimit) input() *keyhaven.RateLimitInput {
	if r == nil {
		return nil
	}
	return &keyhaven.RateLimitInput{Limit: r.Limit, PeriodSeconds: r.PeriodSeconds}
}

func (c *Credits) input() *keyhaven.CreditsInput {
	if c == nil {
		return nil
	}
	in := &keyhaven.CreditsInput{Remaining: c.Remaining}
	if r := c.Refill; r != nil {
		in.Refill = &keyhaven.RefillInput{Amount: r.Amount, Interval: r.Interval}
	}
	return in
}

// Meta is a key's metadata: a JSON object of at most 4 KiB, kept as the caller wrote it
// (compacted).
type Meta json.RawMessage

// MarshalJSON writes {} for no metadata.
func (m Meta) MarshalJSON() ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	return m, nil
}

// UnmarshalJSON keeps the JSON value as it is; the domain checks it.
func (m *Meta) UnmarshalJSON(b []byte) error {
	*m = append((*m)[:0], b...)
	return nil
}

// Schema implements huma.SchemaProvider.
func (Meta) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true,
		Description: "A JSON object of at most 4 KiB (compacted) for the downstream service: verify returns it"}
}

// PolicyBody sets a new key's policy.
type PolicyBody struct {
	IPAllowlist []string   `json:"ipAllowlist,omitempty" maxItems:"100" doc:"IPv4 or IPv6 addresses or CIDR ranges: the key is good only from them"`
	RateLimit   *RateLimit `json:"rateLimit,omitempty"`
	Credits     *Credits   `json:"credits,omitempty" doc:"Each VALID verification takes its cost; USAGE_EXCEEDED when fewer remain"`
	Meta        Meta       `json:"meta,omitempty"`
}

func (b *PolicyBody) input() keyhaven.PolicyInput {
	return keyhaven.PolicyInput{IPAllowlist: b.IPAllowlist, RateLimit: b.RateLimit.input(), Credits: b.Credits.input(),
		Meta: json.RawMessage(b.Meta)}
}

// PolicyPatch changes a key's policy as a JSON merge patch: an absent field stays as it is,
// null clears it.
type PolicyPatch struct {
	IPAllowlist Nullable[[]string]  `json:"ipAllowlist,omitzero" maxItems:"100" doc:"Replaces the allowlist; null or [] clears it"`
	RateLimit   Nullable[RateLimit] `json:"rateLimit,omitzero" doc:"Replaces the rate limit; null removes it"`
	Credits     Nullable[Credits]   `json:"credits,omitzero" doc:"Replaces the credits (remaining and refill); null removes them"`
	Meta        Nullable[Meta]      `json:"meta,omitzero" doc:"Replaces the metadata; null removes it"`
}

func (p *PolicyPatch) update() keyhaven.PolicyUpdate {
	var u keyhaven.PolicyUpdate
	if p.IPAllowlist.Set {
		u.IPAllowlist = keyhaven.Some(p.IPAllowlist.Value)
	}
	if p.RateLimit.Set {
		u.RateLimit = keyhaven.Some(p.RateLimit.ptr().input())
	}
	if p.Credits.Set {
		u.Credits = keyhaven.Some(p.Credits.ptr().input())
	}
	if p.Meta.Set {
		u.Meta = keyhaven.Some(json.RawMessage(p.Meta.Value))
	}
	return u
}
