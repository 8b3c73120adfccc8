package keyhaven_test

import (
	"fmt"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// TestUsagePeriods: a usage query's defaults and alignment, and the periods it refuses.
func TestUsagePeriods(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2030, 5, 17, 10, 30, 15, 0, time.UTC)
	f.clock.Advance(now.Sub(f.clock.Now()))
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name      string
		q         keyhaven.UsageQuery
		first     string // the first bucket's start
		buckets   int
		wantField string // when refused
	}{
		{"DefaultsToTheLast24Hours", keyhaven.UsageQuery{}, "2030-05-16T11:00:00Z", 24, ""},
		{"MinutesDefaultToTheLastHour", keyhaven.UsageQuery{Granularity: keyhaven.GranularityMinute}, "2030-05-17T09:31:00Z", 60, ""},
		{"DaysDefaultToTheLast30", keyhaven.UsageQuery{Granularity: keyhaven.GranularityDay}, "2030-04-18T00:00:00Z", 30, ""},
		{"FromRoundsDownToRoundsUp", keyhaven.UsageQuery{From: at("2030-05-17T08:20:00Z"), To: at("2030-05-17T09:10:00Z")}, "2030-05-17T08:00:00Z", 2, ""},
		{"BoundariesStay", keyhaven.UsageQuery{From: at("2030-05-17T08:00:00Z"), To: at("2030-05-17T10:00:00Z")}, "2030-05-17T08:00:00Z", 2, ""},
		{"DaysStartAtMidnightUTC", keyhaven.UsageQuery{Granularity: keyhaven.GranularityDay, From: at("2030-05-16T23:00:00-02:00"), To: at("2030-05-17T02:00:00Z")},
			"2030-05-17T00:00:00Z", 1, ""},
		{"TheCap", keyhaven.UsageQuery{Granularity: keyhaven.GranularityMinute, From: at("2030-05-16T00:00:00Z"), To: at("2030-05-17T12:00:00Z")}, "2030-05-16T00:00:00Z", 2160, ""},
		{"PastTheCap", keyhaven.UsageQuery{Granularity: keyhaven.GranularityMinute, From: at("2030-05-16T00:00:00Z"), To: at("2030-05-17T12:01:00Z")}, "", 0, "from"},
		{"FromAfterTo", keyhaven.UsageQuery{From: now, To: now.Add(-time.Second)}, "", 0, "from"},
		{"FromIsTo", keyhaven.UsageQuery{From: now, To: now}, "", 0, "from"},
		{"UnknownGranularity", keyhaven.UsageQuery{Granularity: "WEEK"}, "", 0, "granularity"},
		{"ToPastYear9999", keyhaven.UsageQuery{To: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "", 0, "to"},
		{"CenturiesOfDays", keyhaven.UsageQuery{Granularity: keyhaven.GranularityDay, From: time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC), To: now}, "", 0, "from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := f.svc.Usage(f.ctx, f.admin, tc.q)
			if tc.wantField != "" {
				fields := keyhaven.ErrorFields(err)
				if keyhaven.ErrorCode(err) != keyhaven.EINVALID || len(fields) != 1 || fields[0].Field != tc.wantField {
					t.Fatalf("got %v (fields %v), want EINVALID naming %s", err, fields, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Buckets[0].Start.Format(time.RFC3339); got != tc.first || len(s.Buckets) != tc.buckets {
				t.Fatalf("first bucket %s of %d, want %s of %d", got, len(s.Buckets), tc.first, tc.buckets)
			}
		})
	}
}

// TestUsageNeedsUsageRead: usage and the top keys are refused without USAGE_READ.
func TestUsageNeedsUsageRead(t *testing.T) {
	f := newFixture(t)
	p := *f.admin
	p.Permissions = p.Permissions.Intersect(perms(keyhaven.AUDIT_READ, keyhaven.KEY_MANAGEMENT))
	if _, err := f.svc.Usage(f.ctx, &p, keyhaven.UsageQuery{}); keyhaven.ErrorCode(err) != keyhaven.EFORBIDDEN {
		t.Errorf("Usage without USAGE_READ: %v, want EFORBIDDEN", err)
	}
	if _, err := f.svc.TopUsage(f.ctx, &p, keyhaven.UsageQuery{}, 10); keyhaven.ErrorCode(err) != keyhaven.EFORBIDDEN {
		t.Errorf("TopUsage without USAGE_READ: %v, want EFORBIDDEN", err)
	}
}

// TestUsageRetention: garbage collection, on the service's clock, deletes MINUTE buckets two
// days old and HOUR and DAY buckets 90 days old, and no younger ones.
func TestUsageRetention(t *testing.T) {
	f := newFixture(t)
	start := f.clock.Now().UTC().Truncate(24 * time.Hour).Add(24*time.Hour + 10*time.Hour)
	f.clock.Advance(start.Sub(f.clock.Now()))
	flush := &keyhaven.UsageFlush{ID: keyhaven.NewID("usf"), At: start, Counts: []keyhaven.UsageCount{
		{TenantID: f.admin.TenantID, CredentialID: f.admin.CredentialID, Outcome: keyhaven.CodeValid, Minute: start, Count: 4}}}
	if err := f.store.AddUsage(f.ctx, flush); err != nil {
		t.Fatal(err)
	}
	kept := func() string {
		t.Helper()
		var out []string
		for _, g := range keyhaven.Granularities {
			s, err := f.svc.Usage(f.ctx, f.admin, keyhaven.UsageQuery{CredentialID: f.admin.CredentialID, Granularity: g, From: start, To: start.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s=%d", g, s.Totals()[keyhaven.CodeValid]))
		}
		return fmt.Sprint(out)
	}
	gc := func() {
		t.Helper()
		if _, err := f.svc.CollectGarbage(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		advance time.Duration
		want    string
	}{
		// The minute and the hour start at start, the day 10 hours earlier.
		{48*time.Hour - time.Second, "[MINUTE=4 HOUR=4 DAY=4]"},
		{time.Minute, "[MINUTE=0 HOUR=4 DAY=4]"}, // start + 48h59s
		{90*24*time.Hour - 10*time.Hour - time.Second - (48*time.Hour + 59*time.Second), "[MINUTE=0 HOUR=4 DAY=4]"},
		{2 * time.Second, "[MINUTE=0 HOUR=4 DAY=0]"}, // the day's start + 90 days + 1s
		{10 * time.Hour, "[MINUTE=0 HOUR=0 DAY=0]"},  // start + 90 days + 1s
	}
	for _, s := range steps {
		f.clock.Advance(s.advance)
		gc()
		if got := kept(); got != s.want {
			t.Fatalf("%s after the count: %s, want %s", f.clock.Now().Sub(start), got, s.want)
		}
	}
}

// TestExpiringKeys: the keys expiring within the window, among those the caller may see: API
// keys with KEY_MANAGEMENT, access keys with VIEW_ACCESS_KEYS_ANY, or _OWN in the caller's
// own applications.
func TestExpiringKeys(t *testing.T) {
	f := newFixture(t)
	day := 24 * time.Hour
	soon := f.clock.Now().Add(2 * day)
	if _, _, err := f.svc.CreateAPIKey(f.ctx, f.admin, keyhaven.APIKeyInput{Name: "soon", Permissions: names(keyhaven.READ), Expires: &soon}); err != nil {
		t.Fatal(err)
	}
	late := f.clock.Now().Add(8 * day)
	if _, _, err := f.svc.CreateAPIKey(f.ctx, f.admin, keyhaven.APIKeyInput{Name: "late", Permissions: names(keyhaven.READ), Expires: &late}); err != nil {
		t.Fatal(err)
	}
	app, err := f.svc.CreateApplication(f.ctx, f.admin, keyhaven.ApplicationInput{Name: ptr("billing")})
	if err != nil {
		t.Fatal(err)
	}
	akSoon := f.clock.Now().Add(3 * day)
	if _, _, err := f.svc.CreateAccessKey(f.ctx, f.admin, app.ID, keyhaven.AccessKeyInput{Name: "erp", Scopes: names(keyhaven.READ), ExpiresAt: akSoon}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		holding []keyhaven.Permission
		other   bool // another user than the application's creator
		want    string
	}{
		{[]keyhaven.Permission{keyhaven.KEY_MANAGEMENT, keyhaven.VIEW_ACCESS_KEYS_ANY}, true, "[soon erp]"},
		{[]keyhaven.Permission{keyhaven.KEY_MANAGEMENT}, false, "[soon]"},
		{[]keyhaven.Permission{keyhaven.VIEW_ACCESS_KEYS_OWN}, false, "[erp]"},
		{[]keyhaven.Permission{keyhaven.VIEW_ACCESS_KEYS_OWN}, true, "[]"},
		{[]keyhaven.Permission{keyhaven.USAGE_READ}, false, "[]"},
	} {
		t.Run(fmt.Sprintf("%s/other=%v", holding(tc.holding), tc.other), func(t *testing.T) {
			p := *f.admin
			p.Permissions = perms(tc.holding...)
			if tc.other {
				p.UserID = "usr-someone-else"
			}
			keys, err := f.svc.ExpiringKeys(f.ctx, &p, 7*day)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, k := range keys {
				got = append(got, k.Name)
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}
