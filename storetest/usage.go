package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// usageFlush returns a flush of counts with a new id.
func usageFlush(counts ...keyhaven.UsageCount) *keyhaven.UsageFlush {
	return &keyhaven.UsageFlush{ID: keyhaven.NewID("usf"), At: base, Counts: counts}
}

func addUsage(t *testing.T, s keyhaven.Store, f *keyhaven.UsageFlush) {
	t.Helper()
	if err := s.AddUsage(ctx, f); err != nil {
		t.Fatalf("AddUsage: %v", err)
	}
}

// usageOf returns the stored buckets as "start outcome=count" lines, start in UTC.
func usageOf(t *testing.T, s keyhaven.Store, tenantID, credentialID string, g keyhaven.Granularity, from, to time.Time) []string {
	t.Helper()
	rows, err := s.UsageRows(ctx, tenantID, credentialID, g, from, to)
	if err != nil {
		t.Fatalf("UsageRows: %v", err)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s=%d", r.Start.Format("01-02T15:04"), r.Outcome, r.Count))
	}
	return out
}

func wantRows(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// testUsageBuckets: counts land in their minute, hour and day, under their credential and in
// their tenant's totals (a count naming no credential in the totals only), added to what is
// stored, and no other tenant sees them.
func testUsageBuckets(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	day := time.Date(2030, 5, 17, 0, 0, 0, 0, time.UTC)
	m1 := day.Add(10*time.Hour + 59*time.Minute) // 10:59
	m2 := day.Add(11 * time.Hour)                // 11:00
	m3 := day.Add(24*time.Hour + 5*time.Minute)  // the next day, 00:05
	key := f.key.ID
	addUsage(t, s, usageFlush(
		keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: key, Outcome: keyhaven.CodeValid, Minute: m1, Count: 3},
		keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: key, Outcome: keyhaven.CodeRateLimited, Minute: m1, Count: 2},
		keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: key, Outcome: keyhaven.CodeValid, Minute: m2, Count: 5},
		keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: key, Outcome: keyhaven.CodeValid, Minute: m3, Count: 7},
		keyhaven.UsageCount{TenantID: f.tenant.ID, Outcome: keyhaven.CodeNotFound, Minute: m2, Count: 4},
	))
	// A second flush adds to the same buckets.
	addUsage(t, s, usageFlush(
		keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: key, Outcome: keyhaven.CodeValid, Minute: m1, Count: 10},
	))
	from, to := day.Add(-time.Hour), day.Add(48*time.Hour)
	wantRows(t, "MINUTE of the key", usageOf(t, s, f.tenant.ID, key, keyhaven.GranularityMinute, from, to),
		"05-17T10:59 RATE_LIMITED=2", "05-17T10:59 VALID=13", "05-17T11:00 VALID=5", "05-18T00:05 VALID=7")
	wantRows(t, "HOUR of the key", usageOf(t, s, f.tenant.ID, key, keyhaven.GranularityHour, from, to),
		"05-17T10:00 RATE_LIMITED=2", "05-17T10:00 VALID=13", "05-17T11:00 VALID=5", "05-18T00:00 VALID=7")
	wantRows(t, "DAY of the key", usageOf(t, s, f.tenant.ID, key, keyhaven.GranularityDay, from, to),
		"05-17T00:00 RATE_LIMITED=2", "05-17T00:00 VALID=18", "05-18T00:00 VALID=7")
	wantRows(t, "DAY of the tenant", usageOf(t, s, f.tenant.ID, "", keyhaven.GranularityDay, from, to),
		"05-17T00:00 NOT_FOUND=4", "05-17T00:00 RATE_LIMITED=2", "05-17T00:00 VALID=18", "05-18T00:00 VALID=7")
	wantRows(t, "HOUR of the tenant from 11:00 to 12:00", usageOf(t, s, f.tenant.ID, "", keyhaven.GranularityHour, m2, m2.Add(time.Hour)),
		"05-17T11:00 NOT_FOUND=4", "05-17T11:00 VALID=5")
	wantRows(t, "another tenant's view of the key", usageOf(t, s, g.tenant.ID, key, keyhaven.GranularityDay, from, to))
	wantRows(t, "another tenant's totals", usageOf(t, s, g.tenant.ID, "", keyhaven.GranularityDay, from, to))
}

// testUsageFlushOnce: a flush added again (a retry after an error that left unclear whether
// it was stored) adds nothing; once its id is forgotten, it is a new flush.
func testUsageFlushOnce(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	fl := usageFlush(keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: f.key.ID, Outcome: keyhaven.CodeValid, Minute: base.Truncate(time.Minute), Count: 3})
	addUsage(t, s, fl)
	addUsage(t, s, fl)
	from, to := base.Add(-time.Hour), base.Add(time.Hour)
	wantRows(t, "after a retry", usageOf(t, s, f.tenant.ID, f.key.ID, keyhaven.GranularityMinute, from, to), "05-17T10:30 VALID=3")

	if n, err := s.DeleteUsageFlushes(ctx, base); err != nil || n != 0 {
		t.Fatalf("DeleteUsageFlushes before the flush = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteUsageFlushes(ctx, base.Add(time.Microsecond)); err != nil || n < 1 {
		t.Fatalf("DeleteUsageFlushes after the flush = %d, %v; want at least 1", n, err)
	}
	addUsage(t, s, fl)
	wantRows(t, "once forgotten", usageOf(t, s, f.tenant.ID, f.key.ID, keyhaven.GranularityMinute, from, to), "05-17T10:30 VALID=6")
}

// testUsageAddRace: flushes added at once, to the same buckets, from many connections (as
// nodes flush), all count.
func testUsageAddRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	keys := []string{f.key.ID, "key-b", "key-c"}
	minute := base.Truncate(time.Minute)
	const flushes = 20
	var wg sync.WaitGroup
	for i := range flushes {
		wg.Go(func() {
			var counts []keyhaven.UsageCount
			// Each flush names the keys in another order: the store orders its writes.
			for j := range keys {
				k := keys[(i+j)%len(keys)]
				counts = append(counts,
					keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: k, Outcome: keyhaven.CodeValid, Minute: minute, Count: 1},
					keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: k, Outcome: keyhaven.CodeExpired, Minute: minute.Add(time.Minute), Count: 2})
			}
			if err := s.AddUsage(ctx, usageFlush(counts...)); err != nil {
				t.Errorf("AddUsage: %v", err)
			}
		})
	}
	wg.Wait()
	from, to := minute.Add(-time.Hour), minute.Add(time.Hour)
	for _, k := range keys {
		wantRows(t, "DAY of "+k, usageOf(t, s, f.tenant.ID, k, keyhaven.GranularityDay, from.Truncate(24*time.Hour), to),
			fmt.Sprintf("05-17T00:00 EXPIRED=%d", 2*flushes), fmt.Sprintf("05-17T00:00 VALID=%d", flushes))
	}
	wantRows(t, "MINUTE of the tenant", usageOf(t, s, f.tenant.ID, "", keyhaven.GranularityMinute, from, to),
		fmt.Sprintf("05-17T10:30 VALID=%d", len(keys)*flushes), fmt.Sprintf("05-17T10:31 EXPIRED=%d", 2*len(keys)*flushes))
}

// testUsageTop: the most used credentials of a tenant in a period, with their names: API keys,
// access keys, device accesses, and credentials deleted since.
func testUsageTop(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	app := mustCreateApp(t, s, f, "billing", f.admin.ID)
	ak, _ := newAccessKey(app, f.admin.ID, "erp", time.Time{})
	if err := s.CreateAccessKey(ctx, ak, base, nil); err != nil {
		t.Fatal(err)
	}
	c := newContract(t, s, f)
	dev := newAccess(f, c, "device-1", f.admin.ID, 0)
	if err := s.CreateAccess(ctx, dev, nil); err != nil {
		t.Fatal(err)
	}
	gone, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "gone", keyhaven.NewPermissionSet(keyhaven.READ))
	if err := s.CreateCredential(ctx, gone, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCredential(ctx, f.tenant.ID, gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	h := base.Truncate(time.Hour)
	count := func(tenant, cred string, code keyhaven.VerdictCode, at time.Time, n int64) keyhaven.UsageCount {
		return keyhaven.UsageCount{TenantID: tenant, CredentialID: cred, Outcome: code, Minute: at.Truncate(time.Minute), Count: n}
	}
	addUsage(t, s, usageFlush(
		count(f.tenant.ID, f.key.ID, keyhaven.CodeValid, h, 5),
		count(f.tenant.ID, f.key.ID, keyhaven.CodeRateLimited, h, 1),
		count(f.tenant.ID, ak.ID, keyhaven.CodeValid, h, 9),
		count(f.tenant.ID, dev.ID, keyhaven.CodeInvalidCredentials, h, 2),
		count(f.tenant.ID, gone.ID, keyhaven.CodeValid, h, 6),
		count(f.tenant.ID, "", keyhaven.CodeNotFound, h, 100),
		count(f.tenant.ID, f.key.ID, keyhaven.CodeValid, h.Add(-time.Hour), 50), // before the period
		count(g.tenant.ID, g.key.ID, keyhaven.CodeValid, h, 1000),               // another tenant
	))
	top, err := s.TopUsage(ctx, f.tenant.ID, keyhaven.GranularityHour, h, h.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range top {
		got = append(got, fmt.Sprintf("%s %s %s %d/%d", u.Kind, u.Name, u.ApplicationID, u.Valid, u.Uses))
	}
	wantRows(t, "top", got,
		fmt.Sprintf("access_key erp %s 9/9", app.ID), "api_key bootstrap  5/6", "   6/6", "device device-1  0/2")
	if top, err := s.TopUsage(ctx, f.tenant.ID, keyhaven.GranularityHour, h, h.Add(time.Hour), 2); err != nil || len(top) != 2 || top[0].CredentialID != ak.ID {
		t.Errorf("top 2 = %+v, %v; want the access key first of 2", top, err)
	}

	for _, tc := range []struct {
		name, tenant, id string
		want             bool
	}{
		{"APIKey", f.tenant.ID, f.key.ID, true},
		{"AccessKey", f.tenant.ID, ak.ID, true},
		{"DeviceAccess", f.tenant.ID, dev.ID, true},
		{"DeletedButCounted", f.tenant.ID, gone.ID, true},
		{"AnotherTenants", g.tenant.ID, f.key.ID, false},
		{"AnotherTenantsCounted", f.tenant.ID, g.key.ID, false},
		{"Unknown", f.tenant.ID, "key-unknown", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := s.HasUsageSubject(ctx, tc.tenant, tc.id); err != nil || got != tc.want {
				t.Errorf("HasUsageSubject = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	sess, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", keyhaven.AllPermissions)
	if err := s.CreateCredential(ctx, sess, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.HasUsageSubject(ctx, f.tenant.ID, sess.ID); err != nil || got {
		t.Errorf("HasUsageSubject of a session = %v, %v; want false", got, err)
	}
}

// testUsageRetention: DeleteUsage removes the buckets of one granularity that started before
// the cutoff, and only those.
func testUsageRetention(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	day := base.Truncate(24 * time.Hour)
	addUsage(t, s, usageFlush(
		keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: f.key.ID, Outcome: keyhaven.CodeValid, Minute: day, Count: 1},
		keyhaven.UsageCount{TenantID: f.tenant.ID, CredentialID: f.key.ID, Outcome: keyhaven.CodeValid, Minute: day.Add(time.Hour), Count: 2},
	))
	n, err := s.DeleteUsage(ctx, keyhaven.GranularityMinute, day.Add(time.Hour))
	if err != nil || n != 2 { // the key's and the tenant's minute at 00:00
		t.Fatalf("DeleteUsage(MINUTE) = %d, %v; want 2", n, err)
	}
	from, to := day, day.Add(24*time.Hour)
	wantRows(t, "MINUTE", usageOf(t, s, f.tenant.ID, f.key.ID, keyhaven.GranularityMinute, from, to), "05-17T01:00 VALID=2")
	wantRows(t, "HOUR, untouched", usageOf(t, s, f.tenant.ID, f.key.ID, keyhaven.GranularityHour, from, to),
		"05-17T00:00 VALID=1", "05-17T01:00 VALID=2")
	if n, err := s.DeleteUsage(ctx, keyhaven.GranularityDay, day); err != nil || n != 0 {
		t.Fatalf("DeleteUsage(DAY) at the day's start = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteUsage(ctx, keyhaven.GranularityDay, day.Add(time.Microsecond)); err != nil || n != 2 {
		t.Fatalf("DeleteUsage(DAY) past the day's start = %d, %v; want 2", n, err)
	}
	wantRows(t, "DAY", usageOf(t, s, f.tenant.ID, "", keyhaven.GranularityDay, from, to))
}

// testExpiringCredentials: API keys and access keys expiring in the window, soonest first;
// revoked keys, keys of revoked applications, sessions and keys outside the window left out;
// access keys of other users' applications left out when asked.
func testExpiringCredentials(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	other := newUser(f.tenant, fmt.Sprintf("other%d@example.com", next()), keyhaven.AllPermissions)
	if err := s.CreateUser(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	apiKey := func(tenant fixture, name string, expires time.Time) *keyhaven.Credential {
		c, _ := newCredential(tenant.tenant.ID, tenant.admin.ID, keyhaven.KindAPIKey, name, keyhaven.NewPermissionSet(keyhaven.READ))
		c.ExpiresAt = expires
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		return c
	}
	accessKey := func(app *keyhaven.Application, name string, expires time.Time) *keyhaven.Credential {
		c, _ := newAccessKey(app, app.CreatedBy, name, expires)
		if err := s.CreateAccessKey(ctx, c, base, nil); err != nil {
			t.Fatal(err)
		}
		return c
	}
	soon := apiKey(f, "soon", base.Add(2*day))
	apiKey(f, "later", base.Add(8*day))
	apiKey(f, "never", time.Time{})
	apiKey(g, "elsewhere", base.Add(day))
	mine := mustCreateApp(t, s, f, "mine", f.admin.ID)
	theirs := mustCreateApp(t, s, f, "theirs", other.ID)
	doomed := mustCreateApp(t, s, f, "doomed", f.admin.ID)
	mineKey := accessKey(mine, "mine-key", base.Add(3*day))
	theirKey := accessKey(theirs, "their-key", base.Add(day))
	revoked := accessKey(mine, "revoked", base.Add(day))
	if _, err := s.UpdateAccessKey(ctx, f.tenant.ID, mine.ID, revoked.ID, func(c *keyhaven.Credential) error { c.RevokedAt = base; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	accessKey(doomed, "doomed-key", base.Add(day))
	if _, err := s.UpdateApplication(ctx, f.tenant.ID, doomed.ID, func(a *keyhaven.Application) error { a.RevokedAt = base; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	sess, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", keyhaven.AllPermissions)
	sess.ExpiresAt = base.Add(day)
	if err := s.CreateCredential(ctx, sess, nil); err != nil {
		t.Fatal(err)
	}

	window := keyhaven.ExpiringFilter{From: base, To: base.Add(7 * day), Limit: 10}
	for _, tc := range []struct {
		name string
		f    func(keyhaven.ExpiringFilter) keyhaven.ExpiringFilter
		want []string
	}{
		{"Both", func(x keyhaven.ExpiringFilter) keyhaven.ExpiringFilter {
			x.APIKeys, x.AccessKeys = true, true
			return x
		},
			[]string{theirKey.Name, soon.Name, mineKey.Name}},
		{"APIKeys", func(x keyhaven.ExpiringFilter) keyhaven.ExpiringFilter { x.APIKeys = true; return x },
			[]string{soon.Name}},
		{"OwnAccessKeys", func(x keyhaven.ExpiringFilter) keyhaven.ExpiringFilter {
			x.AccessKeys, x.AppCreatedBy = true, f.admin.ID
			return x
		}, []string{mineKey.Name}},
		{"Limit", func(x keyhaven.ExpiringFilter) keyhaven.ExpiringFilter {
			x.APIKeys, x.AccessKeys, x.Limit = true, true, 1
			return x
		}, []string{theirKey.Name}},
		{"None", func(x keyhaven.ExpiringFilter) keyhaven.ExpiringFilter { return x }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := s.ExpiringCredentials(ctx, f.tenant.ID, tc.f(window))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, c.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
