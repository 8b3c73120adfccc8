package api

import (
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/view"
)

// KeyPolicy is a key's policy as the API shows it (see package view).
type KeyPolicy = view.KeyPolicy

// RateLimit bounds a key's uses (see package view).
type RateLimit = view.RateLimit

// Credits are what a key's verifications may still take, and how they refill (see package
// view).
type Credits = view.Credits

// Refill sets a key's credits to Amount at the start of every Interval (UTC).
type Refill = view.Refill

// Meta is a key's metadata: a JSON object of at most 4 KiB, kept as the caller wrote it
// (compacted).
type Meta = view.Meta

func rateLimitInput(r *RateLimit) *keyhaven.RateLimitInput {
	if r == nil {
		return nil
	}
	return &keyhaven.RateLimitInput{Limit: r.Limit, PeriodSeconds: r.PeriodSeconds}
}

func creditsInput(c *Credits) *keyhaven.CreditsInput {
	if c == nil {
		return nil
	}
	in := &keyhaven.CreditsInput{Remaining: c.Remaining}
	if r := c.Refill; r != nil {
		in.Refill = &keyhaven.RefillInput{Amount: r.Amount, Interval: r.Interval}
	}
	return in
}

// metaSchema stands for Meta in the OpenAPI document.
type metaSchema struct{}

// Schema implements huma.SchemaProvider.
func (metaSchema) Schema(huma.Registry) *huma.Schema {
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
	return keyhaven.PolicyInput{IPAllowlist: b.IPAllowlist, RateLimit: rateLimitInput(b.RateLimit), Credits: creditsInput(b.Credits),
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
		u.RateLimit = keyhaven.Some(rateLimitInput(p.RateLimit.ptr()))
	}
	if p.Credits.Set {
		u.Credits = keyhaven.Some(creditsInput(p.Credits.ptr()))
	}
	if p.Meta.Set {
		u.Meta = keyhaven.Some(json.RawMessage(p.Meta.Value))
	}
	return u
}
