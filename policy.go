package keyhaven

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"keyhaven.dev/keyhaven/ratelimit"
)

// Policy is what governs a key beyond its permissions: where it may be used from, how often,
// how much, and the data it carries to the downstream service. API keys and access keys
// alike have one; sessions have none.
type Policy struct {
	// IPAllowlist, when not empty, are the only addresses the key is good from.
	IPAllowlist []netip.Prefix
	// RateLimit, when set, bounds the key's uses in any period.
	RateLimit *RateLimit
	// Credits, when set, is what the key's verifications may still take.
	Credits *Credits
	// Meta is a JSON object for the downstream service; nil when there is none.
	Meta json.RawMessage
}

// RateLimit is at most Limit units of use in any Period (see package ratelimit).
type RateLimit struct {
	Limit  int64
	Period time.Duration
}

// Credits are what a key's verifications may still take, and how they refill.
type Credits struct {
	Remaining int64
	Refill    *Refill
	// RefilledAt is the start of the refill period the remaining credits belong to: when a
	// later period has begun, they are Refill.Amount.
	RefilledAt time.Time
	// ExceededAt is when running out of these credits was announced (zero: not since they
	// were set); a refill since makes it news again.
	ExceededAt time.Time
}

// Refill sets a key's credits to Amount at the start of every Interval (UTC).
type Refill struct {
	Amount   int64
	Interval RefillInterval
}

// RefillInterval is how often credits refill.
type RefillInterval string

const (
	RefillDaily   RefillInterval = "DAILY"
	RefillMonthly RefillInterval = "MONTHLY"
)

// Policy limits.
const (
	MaxIPAllowlist = 100
	MaxRateLimit   = 1_000_000_000
	MaxRatePeriod  = 86400 * time.Second
	MaxCredits     = 1_000_000_000_000
	MaxMetaBytes   = 4 << 10
	MaxCost        = 1000
	MaxGracePeriod = 7 * 24 * time.Hour
)

const allowlistSep = ","

// PeriodStart returns the start of the refill period that holds t: the UTC day or month.
func (i RefillInterval) PeriodStart(t time.Time) time.Time {
	t = t.UTC()
	if i == RefillMonthly {
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// RefillPeriods are the starts of the refill periods that hold an instant, one per interval:
// what a store needs to refill any key's credits at that instant.
type RefillPeriods struct {
	Daily, Monthly time.Time
}

// RefillPeriodsAt returns the refill periods that hold t.
func RefillPeriodsAt(t time.Time) RefillPeriods {
	return RefillPeriods{Daily: RefillDaily.PeriodStart(t), Monthly: RefillMonthly.PeriodStart(t)}
}

// At returns the credits remaining at now: the refill amount once a refill period began
// after the one they belong to.
func (c *Credits) At(now time.Time) int64 {
	if c.Refill != nil && c.RefilledAt.Before(c.Refill.Interval.PeriodStart(now)) {
		return c.Refill.Amount
	}
	return c.Remaining
}

// Allows reports whether the key is good from ip: always, without an allowlist; with one,
// only from an address in it (an address not given is in no list).
func (p *Policy) Allows(ip netip.Addr) bool {
	if len(p.IPAllowlist) == 0 {
		return true
	}
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, pr := range p.IPAllowlist {
		if pr.Contains(ip) {
			return true
		}
	}
	return false
}

// limit returns the rate limit as package ratelimit takes it.
func (r *RateLimit) limit() ratelimit.Limit { return ratelimit.Limit{Limit: r.Limit, Period: r.Period} }

// AllowlistStrings returns an allowlist as every surface shows it: a range of one address as
// the address, any other range in CIDR form.
func AllowlistStrings(list []netip.Prefix) []string {
	out := make([]string, len(list))
	for i, p := range list {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

// FormatAllowlist returns an allowlist as stored: its prefixes, comma-separated.
func FormatAllowlist(list []netip.Prefix) string {
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = p.String()
	}
	return strings.Join(parts, allowlistSep)
}

// ParseStoredAllowlist reads an allowlist as FormatAllowlist wrote it; what does not parse is
// dropped, which only narrows the list.
func ParseStoredAllowlist(s string) []netip.Prefix {
	if s == "" {
		return nil
	}
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, allowlistSep) {
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// PolicyInput sets a new key's policy; zero fields set nothing.
type PolicyInput struct {
	IPAllowlist []string
	RateLimit   *RateLimitInput
	Credits     *CreditsInput
	Meta        json.RawMessage
}

// RateLimitInput is a rate limit as callers give it.
type RateLimitInput struct {
	Limit         int64 `json:"limit"`
	PeriodSeconds int64 `json:"periodSeconds"`
}

// CreditsInput sets a key's credits: Remaining now, and how they refill.
type CreditsInput struct {
	Remaining int64        `json:"remaining"`
	Refill    *RefillInput `json:"refill,omitempty"`
}

// RefillInput is a refill as callers give it.
type RefillInput struct {
	Amount   int64  `json:"amount"`
	Interval string `json:"interval"`
}

// Optional is one field of a change: when Set is false the field stays as it is; when Set,
// it becomes Value, and a nil Value clears it.
type Optional[T any] struct {
	Set   bool
	Value T
}

// Some returns an Optional that sets v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// PolicyUpdate changes a key's policy field by field.
type PolicyUpdate struct {
	IPAllowlist Optional[[]string] // nil or empty clears
	RateLimit   Optional[*RateLimitInput]
	Credits     Optional[*CreditsInput]
	Meta        Optional[json.RawMessage] // nil or JSON null clears
}

// IsZero reports whether u changes nothing.
func (u *PolicyUpdate) IsZero() bool {
	return !u.IPAllowlist.Set && !u.RateLimit.Set && !u.Credits.Set && !u.Meta.Set
}

// policy validates in and returns the policy it sets at now. Field names are prefixed with
// prefix (for example "api_key.").
func policy(prefix string, in PolicyInput, now time.Time) (Policy, error) {
	var p Policy
	var err error
	if p.IPAllowlist, err = parseAllowlist(prefix+"ipAllowlist", in.IPAllowlist); err != nil {
		return p, err
	}
	if p.RateLimit, err = parseRateLimit(prefix+"rateLimit", in.RateLimit); err != nil {
		return p, err
	}
	if p.Credits, err = parseCredits(prefix+"credits", in.Credits, now); err != nil {
		return p, err
	}
	if p.Meta, err = parseMeta(prefix+"meta", in.Meta); err != nil {
		return p, err
	}
	return p, nil
}

// apply validates u and returns a function that applies it to a key's policy.
func (u *PolicyUpdate) apply(prefix string, now time.Time) (func(*Policy), error) {
	var in PolicyInput
	if u.IPAllowlist.Set {
		in.IPAllowlist = u.IPAllowlist.Value
	}
	if u.RateLimit.Set {
		in.RateLimit = u.RateLimit.Value
	}
	if u.Credits.Set {
		in.Credits = u.Credits.Value
	}
	if u.Meta.Set {
		in.Meta = u.Meta.Value
	}
	np, err := policy(prefix, in, now)
	if err != nil {
		return nil, err
	}
	return func(p *Policy) {
		if u.IPAllowlist.Set {
			p.IPAllowlist = np.IPAllowlist
		}
		if u.RateLimit.Set {
			p.RateLimit = np.RateLimit
		}
		if u.Credits.Set {
			p.Credits = np.Credits
		}
		if u.Meta.Set {
			p.Meta = np.Meta
		}
	}, nil
}

func parseAllowlist(field string, list []string) ([]netip.Prefix, error) {
	if len(list) > MaxIPAllowlist {
		return nil, Invalid(FieldError{Field: field, Message: fmt.Sprintf("must hold at most %d addresses or ranges", MaxIPAllowlist)})
	}
	var out []netip.Prefix
	for i, s := range list {
		p, err := parseAddrOrPrefix(s)
		if err != nil {
			return nil, Invalid(FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Message: "must be an IPv4 or IPv6 address or CIDR range"})
		}
		out = append(out, p)
	}
	return out, nil
}

// parseAddrOrPrefix reads an address (a range of one) or a CIDR range, in its canonical form:
// IPv4-mapped IPv6 as IPv4, host bits cleared.
func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if len(s) > 64 {
		return netip.Prefix{}, fmt.Errorf("too long")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("not an address")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, fmt.Errorf("a mapped range wider than IPv4")
		}
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

func parseRateLimit(field string, in *RateLimitInput) (*RateLimit, error) {
	if in == nil {
		return nil, nil
	}
	if in.Limit < 1 || in.Limit > MaxRateLimit {
		return nil, Invalid(FieldError{Field: field + ".limit", Message: fmt.Sprintf("must be between 1 and %d", MaxRateLimit)})
	}
	if in.PeriodSeconds < 1 || in.PeriodSeconds > int64(MaxRatePeriod/time.Second) {
		return nil, Invalid(FieldError{Field: field + ".periodSeconds", Message: fmt.Sprintf("must be between 1 and %d", int64(MaxRatePeriod/time.Second))})
	}
	return &RateLimit{Limit: in.Limit, Period: time.Duration(in.PeriodSeconds) * time.Second}, nil
}

func parseCredits(field string, in *CreditsInput, now time.Time) (*Credits, error) {
	if in == nil {
		return nil, nil
	}
	if in.Remaining < 0 || in.Remaining > MaxCredits {
		return nil, Invalid(FieldError{Field: field + ".remaining", Message: fmt.Sprintf("must be between 0 and %d", int64(MaxCredits))})
	}
	c := &Credits{Remaining: in.Remaining}
	if r := in.Refill; r != nil {
		if r.Amount < 1 || r.Amount > MaxCredits {
			return nil, Invalid(FieldError{Field: field + ".refill.amount", Message: fmt.Sprintf("must be between 1 and %d", int64(MaxCredits))})
		}
		interval := RefillInterval(r.Interval)
		if interval != RefillDaily && interval != RefillMonthly {
			return nil, Invalid(FieldError{Field: field + ".refill.interval", Message: "must be DAILY or MONTHLY"})
		}
		c.Refill = &Refill{Amount: r.Amount, Interval: interval}
		c.RefilledAt = interval.PeriodStart(now)
	}
	return c, nil
}

// parseMeta checks that meta is a JSON object of at most MaxMetaBytes (compacted), and
// returns it compacted with HTML characters escaped (nil for none or JSON null).
func parseMeta(field string, meta json.RawMessage) (json.RawMessage, error) {
	meta = bytes.TrimSpace(meta)
	if len(meta) == 0 || string(meta) == "null" {
		return nil, nil
	}
	if !utf8.Valid(meta) || !json.Valid(meta) || meta[0] != '{' {
		return nil, Invalid(FieldError{Field: field, Message: "must be a JSON object"})
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, meta); err != nil {
		return nil, Invalid(FieldError{Field: field, Message: "must be a JSON object"})
	}
	if buf.Len() > MaxMetaBytes {
		return nil, Invalid(FieldError{Field: field, Message: fmt.Sprintf("must be at most %d bytes of JSON", MaxMetaBytes)})
	}
	// Kept as encoding/json writes JSON, so that every answer can carry it as it is.
	var out bytes.Buffer
	json.HTMLEscape(&out, buf.Bytes())
	return out.Bytes(), nil
}

// Grace validates a rotation's grace period in seconds.
func Grace(field string, seconds int64) (time.Duration, error) {
	if seconds < 0 || seconds > int64(MaxGracePeriod/time.Second) {
		return 0, Invalid(FieldError{Field: field, Message: fmt.Sprintf("must be between 0 and %d", int64(MaxGracePeriod/time.Second))})
	}
	return time.Duration(seconds) * time.Second, nil
}

// Cost validates what a verification takes from a key's rate limit and credits.
func Cost(field string, cost int64) error {
	if cost < 0 || cost > MaxCost {
		return Invalid(FieldError{Field: field, Message: fmt.Sprintf("must be between 0 and %d", MaxCost)})
	}
	return nil
}

// policyDetail records in an audit event's detail which policy fields a change sets: the
// allowlist and limits as given, or "cleared"; the metadata only as changed (it is the
// tenant's customers' data, and the key's listing shows it).
func policyDetail(d map[string]any, u *PolicyUpdate) {
	if u.IPAllowlist.Set {
		d["ipAllowlist"] = detailValue(u.IPAllowlist.Value, len(u.IPAllowlist.Value) == 0)
	}
	if u.RateLimit.Set {
		d["rateLimit"] = detailValue(u.RateLimit.Value, u.RateLimit.Value == nil)
	}
	if u.Credits.Set {
		d["credits"] = detailValue(u.Credits.Value, u.Credits.Value == nil)
	}
	if u.Meta.Set {
		d["meta"] = "changed"
	}
}

// detailValue returns v for an audit event's detail, or "cleared" for a field a change
// cleared: never null, so that every detail value is one the audit listing's schema admits.
func detailValue(v any, cleared bool) any {
	if cleared {
		return "cleared"
	}
	return v
}
