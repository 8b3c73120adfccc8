package keyhaven

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Usage analytics: every verdict Judge reaches is told to Service.Judged, where a counter
// (package usage) counts it in memory per tenant, credential, outcome (the verdict code) and
// minute, and adds its counts to the store in flushes, each exactly once (UsageStore.AddUsage),
// at MINUTE, HOUR and DAY granularity. What is counted:
//
//   - a verdict naming a credential (API key, access key) or a device access counts under it,
//     in its own tenant, whatever the outcome, also WRONG_TENANT;
//   - a verdict naming none (NOT_FOUND, a device's INVALID_CREDENTIALS) counts in the tenant's
//     totals only, when the use was confined to one tenant (verify called with that tenant's
//     credential, device verify); an anonymous use naming no credential is counted nowhere,
//     since anybody could charge it to any tenant (the metrics count it);
//   - sessions (people signed in to the console or the API) are not counted: they are people,
//     not keys, and last hours; the audit log records their sign-ins.
//
// A tenant's totals (the series without a credential) count every use counted in it.

// Granularity is the width of a usage bucket. Buckets are aligned in UTC: a minute, an hour,
// a day from midnight UTC.
type Granularity string

const (
	GranularityMinute Granularity = "MINUTE"
	GranularityHour   Granularity = "HOUR"
	GranularityDay    Granularity = "DAY"
)

// Granularities lists the granularities, finest first.
var Granularities = []Granularity{GranularityMinute, GranularityHour, GranularityDay}

// Duration returns the width of g's buckets, 0 for an unknown granularity.
func (g Granularity) Duration() time.Duration {
	switch g {
	case GranularityMinute:
		return time.Minute
	case GranularityHour:
		return time.Hour
	case GranularityDay:
		return 24 * time.Hour
	}
	return 0
}

// Start returns the start of the bucket of g holding t, in UTC.
func (g Granularity) Start(t time.Time) time.Time { return t.UTC().Truncate(g.Duration()) }

// end returns the end of the bucket of g holding the instant just before t: t itself when it
// starts a bucket.
func (g Granularity) end(t time.Time) time.Time {
	if start := g.Start(t); start.Before(t) {
		return start.Add(g.Duration())
	}
	return t.UTC()
}

// Retention returns how long buckets of g are kept: MinuteUsageRetention for MINUTE,
// UsageRetention for HOUR and DAY.
func (g Granularity) Retention() time.Duration {
	if g == GranularityMinute {
		return MinuteUsageRetention
	}
	return UsageRetention
}

const (
	// UsageRetention is how long HOUR and DAY usage buckets are kept.
	UsageRetention = 90 * 24 * time.Hour
	// MinuteUsageRetention is how long MINUTE buckets are kept: two days, enough to look at
	// yesterday minute by minute, at a sixtieth of the rows 90 days would take.
	MinuteUsageRetention = 48 * time.Hour
	// UsageFlushRetention is how long a flush's id is remembered, so that a flush retried
	// after a failure that left it unclear whether it was stored adds nothing twice. A node
	// retries a failed flush at its next interval.
	UsageFlushRetention = 48 * time.Hour
	// MaxUsageBuckets is the most buckets one usage query returns: the 90 days kept at HOUR
	// granularity, or 36 hours of minutes.
	MaxUsageBuckets = 2160
	// UsageFlushInterval is the longest a node keeps usage counts in memory before it adds
	// them to the store.
	UsageFlushInterval = 10 * time.Second
	// MaxTopUsage is the most credentials TopUsage lists.
	MaxTopUsage = 100
)

// DefaultUsagePeriod returns the period a usage query of g covers when it names no start: the
// last hour of minutes, the last 24 hours of hours, the last 30 days of days.
func DefaultUsagePeriod(g Granularity) time.Duration {
	switch g {
	case GranularityMinute:
		return time.Hour
	case GranularityDay:
		return 30 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// UsageCount is how many uses of one credential had one outcome in one minute. CredentialID
// is empty for uses that named no credential of the tenant: they count in the tenant's totals
// only.
type UsageCount struct {
	TenantID     string
	CredentialID string
	Outcome      VerdictCode
	Minute       time.Time // the start of the minute, UTC
	Count        int64
}

// UsageFlush is counts added to the store at once. Its ID makes it count once however often
// it is retried.
type UsageFlush struct {
	ID     string
	At     time.Time
	Counts []UsageCount
}

// UsageRow is one stored bucket: how many uses had an outcome in the bucket starting at Start.
type UsageRow struct {
	Start   time.Time
	Outcome VerdictCode
	Count   int64
}

// UsageTotal is how often one credential of a tenant was used in a period.
type UsageTotal struct {
	CredentialID string
	// Kind is KindAPIKey, KindAccessKey or KindDevice (a device access), or empty when the
	// credential is gone.
	Kind CredentialKind
	// Name is an API key's or access key's name, or a device access's username.
	Name          string
	ApplicationID string // access keys only
	// Uses counts every outcome; Valid the VALID ones.
	Uses, Valid int64
}

// ExpiringFilter selects API keys and access keys of a tenant whose expiry falls in
// [From, To). Revoked keys, and access keys of revoked applications, are left out.
type ExpiringFilter struct {
	From, To   time.Time
	APIKeys    bool
	AccessKeys bool
	// AppCreatedBy, when set, keeps only the access keys of applications that user created.
	AppCreatedBy string
	Limit        int
}

// UsageStore keeps usage counts. Every Store is one.
type UsageStore interface {
	// AddUsage adds each count of f to its MINUTE, HOUR and DAY buckets, under its credential
	// (unless it names none) and in its tenant's totals, adding to what is stored (other
	// processes add to the same buckets at once, and every addition counts), in one
	// transaction that also remembers f.ID: a flush whose ID is remembered already adds
	// nothing, so a retry never counts twice.
	AddUsage(ctx context.Context, f *UsageFlush) error
	// UsageRows returns the buckets of g of a credential of the tenant (the tenant's totals
	// when credentialID is empty) that start in [from, to), ordered by start and outcome.
	UsageRows(ctx context.Context, tenantID, credentialID string, g Granularity, from, to time.Time) ([]UsageRow, error)
	// TopUsage returns the up to limit credentials of the tenant used most in the buckets of
	// g starting in [from, to), most used first (ties by id), with their kind and name.
	TopUsage(ctx context.Context, tenantID string, g Granularity, from, to time.Time, limit int) ([]UsageTotal, error)
	// HasUsageSubject reports whether id is a credential or a device access of the tenant, or
	// has usage counted in it (a credential deleted since).
	HasUsageSubject(ctx context.Context, tenantID, id string) (bool, error)
	// DeleteUsage deletes the buckets of g that started before cutoff and returns how many.
	DeleteUsage(ctx context.Context, g Granularity, cutoff time.Time) (int, error)
	// DeleteUsageFlushes forgets the ids of flushes added before cutoff.
	DeleteUsageFlushes(ctx context.Context, cutoff time.Time) (int, error)
	// ExpiringCredentials returns the tenant's API keys and access keys that f selects,
	// soonest expiry first (ties by id), at most f.Limit of them.
	ExpiringCredentials(ctx context.Context, tenantID string, f ExpiringFilter) ([]*Credential, error)
}

// UsageQuery asks for a series of usage counts. Zero fields take the defaults: granularity
// HOUR, To now, From DefaultUsagePeriod(granularity) before the end of To's bucket (24 whole
// hours, the last one the current hour).
type UsageQuery struct {
	// CredentialID is an API key, access key or device access of the tenant; empty for the
	// tenant's totals.
	CredentialID string
	From, To     time.Time
	Granularity  Granularity
}

// UsageSeries is the usage of a credential or tenant: one bucket per step of Granularity from
// From to To, buckets without uses included. Every bucket lists the same outcomes: every
// outcome counted in any bucket of the series, 0 where it was not.
type UsageSeries struct {
	Granularity Granularity
	From, To    time.Time
	Buckets     []UsageBucket
}

// UsageBucket is the uses in the bucket starting at Start, by outcome.
type UsageBucket struct {
	Start    time.Time
	Outcomes map[VerdictCode]int64
}

// Totals returns the uses of the whole series by outcome.
func (s *UsageSeries) Totals() map[VerdictCode]int64 {
	out := map[VerdictCode]int64{}
	for _, b := range s.Buckets {
		for o, n := range b.Outcomes {
			out[o] += n
		}
	}
	return out
}

// Outcomes returns the outcomes the series lists, VALID first, then by name.
func (s *UsageSeries) Outcomes() []VerdictCode {
	if len(s.Buckets) == 0 {
		return nil
	}
	out := make([]VerdictCode, 0, len(s.Buckets[0].Outcomes))
	for o := range s.Buckets[0].Outcomes {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b VerdictCode) int {
		switch {
		case a == b:
			return 0
		case a == CodeValid:
			return -1
		case b == CodeValid:
			return 1
		case a < b:
			return -1
		}
		return 1
	})
	return out
}

// usagePeriod fills q's defaults and aligns its period on its granularity: From down to the
// start of its bucket, To up to the end of its bucket, so that the bucket now falls in is
// whole.
//
// Returns EINVALID for an unknown granularity, a time outside the years 0000 to 9999, From
// not before To, or more than MaxUsageBuckets buckets.
func (s *Service) usagePeriod(q UsageQuery) (Granularity, time.Time, time.Time, error) {
	g := q.Granularity
	if g == "" {
		g = GranularityHour
	}
	d := g.Duration()
	if d == 0 {
		return "", time.Time{}, time.Time{}, Invalid(FieldError{Field: "granularity", Message: "must be MINUTE, HOUR or DAY"})
	}
	to, from := q.To, q.From
	if to.IsZero() {
		to = s.now()
	}
	if err := checkTime("to", to); err != nil {
		return "", time.Time{}, time.Time{}, err
	}
	if from.IsZero() {
		from = g.end(to).Add(-DefaultUsagePeriod(g))
	}
	if err := checkTime("from", from); err != nil {
		return "", time.Time{}, time.Time{}, err
	}
	if !from.Before(to) {
		return "", time.Time{}, time.Time{}, Invalid(FieldError{Field: "from", Message: "must be before to"})
	}
	from, to = g.Start(from), g.end(to)
	// A span too long for a Duration saturates, past the cap too.
	if to.Sub(from) > MaxUsageBuckets*d {
		return "", time.Time{}, time.Time{}, Invalid(FieldError{Field: "from", Message: fmt.Sprintf(
			"the period holds more than %d buckets of %s: shorten it or choose a coarser granularity", MaxUsageBuckets, g)})
	}
	return g, from, to, nil
}

// Usage returns the usage series of a credential of p's tenant, or of the tenant itself: every
// verification and every use of keyhaven's API, per outcome, in buckets of q's granularity.
// Counts stay in memory on each node until its next flush (at most UsageFlushInterval); after
// that they are exact across nodes.
//
// Returns EFORBIDDEN unless p holds USAGE_READ; EINVALID for a bad period or granularity (see
// UsageQuery); ENOTFOUND if the credential is not an API key, access key or device access of
// the tenant (another tenant's included) and has no usage counted in it.
func (s *Service) Usage(ctx context.Context, p *Principal, q UsageQuery) (*UsageSeries, error) {
	if err := p.Require(USAGE_READ); err != nil {
		return nil, err
	}
	g, from, to, err := s.usagePeriod(q)
	if err != nil {
		return nil, err
	}
	if q.CredentialID != "" {
		if err := s.usageSubject(ctx, p.TenantID, q.CredentialID); err != nil {
			return nil, err
		}
	}
	rows, err := s.store.UsageRows(ctx, p.TenantID, q.CredentialID, g, from, to)
	if err != nil {
		return nil, err
	}
	return fillSeries(g, from, to, rows), nil
}

// usageSubject returns ENOTFOUND unless id names a credential or device access of the tenant,
// or one that was counted in it.
func (s *Service) usageSubject(ctx context.Context, tenantID, id string) error {
	notFound := Reasonf(ENOTFOUND, "not_found", "no credential with that id")
	if len(id) > 64 {
		return notFound
	}
	ok, err := s.store.HasUsageSubject(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound
	}
	return nil
}

// fillSeries lays rows out in one bucket per step of g from from to to.
func fillSeries(g Granularity, from, to time.Time, rows []UsageRow) *UsageSeries {
	d := g.Duration()
	n := int(to.Sub(from) / d)
	out := &UsageSeries{Granularity: g, From: from, To: to, Buckets: make([]UsageBucket, n)}
	var outcomes []VerdictCode
	for _, r := range rows {
		if !slices.Contains(outcomes, r.Outcome) {
			outcomes = append(outcomes, r.Outcome)
		}
	}
	for i := range out.Buckets {
		b := UsageBucket{Start: from.Add(time.Duration(i) * d), Outcomes: make(map[VerdictCode]int64, len(outcomes))}
		for _, o := range outcomes {
			b.Outcomes[o] = 0
		}
		out.Buckets[i] = b
	}
	for _, r := range rows {
		if i := int(r.Start.Sub(from) / d); i >= 0 && i < n {
			out.Buckets[i].Outcomes[r.Outcome] += r.Count
		}
	}
	return out
}

// TopUsage returns the up to limit (at most MaxTopUsage) credentials of p's tenant used most
// in q's period, most used first. q.CredentialID is ignored.
//
// Returns EFORBIDDEN unless p holds USAGE_READ, EINVALID for a bad period or granularity.
func (s *Service) TopUsage(ctx context.Context, p *Principal, q UsageQuery, limit int) ([]UsageTotal, error) {
	if err := p.Require(USAGE_READ); err != nil {
		return nil, err
	}
	g, from, to, err := s.usagePeriod(q)
	if err != nil {
		return nil, err
	}
	limit = min(max(limit, 1), MaxTopUsage)
	return s.store.TopUsage(ctx, p.TenantID, g, from, to, limit)
}

// ExpiringKeys returns the API keys and access keys of p's tenant that expire within the
// given time from now, soonest first, at most 50 of them, among those p may see: API keys with
// KEY_MANAGEMENT; access keys with VIEW_ACCESS_KEYS_ANY, or with VIEW_ACCESS_KEYS_OWN those of
// the applications p's user created. Without any of these it returns none.
func (s *Service) ExpiringKeys(ctx context.Context, p *Principal, within time.Duration) ([]*Credential, error) {
	if !p.MaySeeExpiringKeys() || within <= 0 {
		return nil, nil
	}
	now := s.now()
	f := ExpiringFilter{From: now, To: now.Add(within), Limit: 50, APIKeys: p.Permissions.Has(KEY_MANAGEMENT),
		AccessKeys: p.Permissions.Has(VIEW_ACCESS_KEYS_ANY) || p.Permissions.Has(VIEW_ACCESS_KEYS_OWN)}
	if !p.Permissions.Has(VIEW_ACCESS_KEYS_ANY) {
		f.AppCreatedBy = p.UserID
	}
	return s.store.ExpiringCredentials(ctx, p.TenantID, f)
}

// pruneUsage deletes the usage buckets past their retention and the flush ids past theirs.
func (s *Service) pruneUsage(ctx context.Context, now time.Time) error {
	for _, g := range Granularities {
		if _, err := s.store.DeleteUsage(ctx, g, now.Add(-g.Retention())); err != nil {
			return err
		}
	}
	_, err := s.store.DeleteUsageFlushes(ctx, now.Add(-UsageFlushRetention))
	return err
}
