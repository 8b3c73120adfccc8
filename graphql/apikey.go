package graphql

import (
	"time"

	gql "github.com/99designs/gqlgen/graphql"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/graphql/model"
)

// This file maps API keys between the schema's types and the domain's: names only, every
// rule is the domain's.

func permissionNames(ps []model.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// optional maps a field of an update: left out, it changes nothing; given, null included, it
// sets the field to conv of its value.
func optional[T, U any](o gql.Omittable[T], conv func(T) U) keyhaven.Optional[U] {
	v, ok := o.ValueOK()
	if !ok {
		return keyhaven.Optional[U]{}
	}
	return keyhaven.Some(conv(v))
}

func same[T any](v T) T { return v }

func rateLimitInput(in *model.RateLimitInput) *keyhaven.RateLimitInput {
	if in == nil {
		return nil
	}
	return &keyhaven.RateLimitInput{Limit: int64(in.Limit), PeriodSeconds: int64(in.PeriodSeconds)}
}

func creditsInput(in *model.CreditsInput) *keyhaven.CreditsInput {
	if in == nil {
		return nil
	}
	out := &keyhaven.CreditsInput{Remaining: in.Remaining}
	if in.Refill != nil {
		out.Refill = &keyhaven.RefillInput{Amount: in.Refill.Amount, Interval: string(in.Refill.Interval)}
	}
	return out
}

// toAPIKey shows an API key with its secret masked and its credits as they stand now.
func (r *Resolver) toAPIKey(c *keyhaven.Credential) *model.APIKey {
	masked := keyhaven.MaskedKey(c)
	out := &model.APIKey{
		Name: c.Name, APIKey: &masked, Active: c.Active, Created: c.CreatedAt,
		Permissions: []model.Permission{}, IPAllowlist: keyhaven.AllowlistStrings(c.IPAllowlist), Meta: c.Meta,
	}
	for _, p := range c.Permissions.List() {
		out.Permissions = append(out.Permissions, model.Permission(p))
	}
	if !c.ExpiresAt.IsZero() {
		t := c.ExpiresAt
		out.Expires = &t
	}
	if !c.LastUsedAt.IsZero() {
		t := c.LastUsedAt
		out.LastUsed = &t
	}
	if rl := c.RateLimit; rl != nil {
		out.RateLimit = &model.RateLimit{Limit: int(rl.Limit), PeriodSeconds: int(rl.Period / time.Second)}
	}
	if cr := c.Credits; cr != nil {
		out.Credits = &model.Credits{Remaining: cr.At(r.Svc.Clock.Now())}
		if rf := cr.Refill; rf != nil {
			out.Credits.Refill = &model.Refill{Amount: rf.Amount, Interval: model.RefillInterval(rf.Interval)}
		}
	}
	return out
}
