package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
)

// fullPolicy is a policy with every field set: an allowlist of both families, a rate limit,
// credits that refill, and metadata.
func fullPolicy() keyhaven.Policy {
	return keyhaven.Policy{
		IPAllowlist: []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		RateLimit:   &keyhaven.RateLimit{Limit: 40, Period: time.Minute},
		Credits: &keyhaven.Credits{Remaining: 50,
			Refill:     &keyhaven.Refill{Amount: 100, Interval: keyhaven.RefillMonthly},
			RefilledAt: keyhaven.RefillMonthly.PeriodStart(base)},
		Meta: json.RawMessage(`{"customer":"c-42","plan":{"name":"pro","seats":3}}`),
	}
}

// otherPolicy differs from fullPolicy in every field.
func otherPolicy() keyhaven.Policy {
	return keyhaven.Policy{
		IPAllowlist: []netip.Prefix{netip.MustParsePrefix("::1/128")},
		RateLimit:   &keyhaven.RateLimit{Limit: 1_000_000_000, Period: 86400 * time.Second},
		Credits:     &keyhaven.Credits{Remaining: keyhaven.MaxCredits},
		Meta:        json.RawMessage(`{"a":[1,2,"\u003c"]}`),
	}
}

// wantPolicy fails unless got is want, field by field.
func wantPolicy(t *testing.T, where string, got, want keyhaven.Policy) {
	t.Helper()
	if !reflect.DeepEqual(got.IPAllowlist, want.IPAllowlist) {
		t.Errorf("%s: ipAllowlist = %v, want %v", where, got.IPAllowlist, want.IPAllowlist)
	}
	if !reflect.DeepEqual(got.RateLimit, want.RateLimit) {
		t.Errorf("%s: rateLimit = %+v, want %+v", where, got.RateLimit, want.RateLimit)
	}
	switch g, w := got.Credits, want.Credits; {
	case (g == nil) != (w == nil):
		t.Errorf("%s: credits = %+v, want %+v", where, g, w)
	case g != nil && (g.Remaining != w.Remaining || !reflect.DeepEqual(g.Refill, w.Refill) || !g.RefilledAt.Equal(w.RefilledAt)):
		t.Errorf("%s: credits = %+v (refill %+v), want %+v (refill %+v)", where, g, g.Refill, w, w.Refill)
	}
	if string(got.Meta) != string(want.Meta) {
		t.Errorf("%s: meta = %s, want %s", where, got.Meta, want.Meta)
	}
}

// find returns the credential with id among cs, or fails.
func find(t *testing.T, cs []*keyhaven.Credential, id string) *keyhaven.Credential {
	t.Helper()
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("credential %s is not listed", id)
	return nil
}

func resolve(t *testing.T, s keyhaven.Store, sec string) *keyhaven.Resolution {
	t.Helper()
	r, err := s.ResolveCredential(ctx, secret.Hash(sec))
	if err != nil {
		t.Fatalf("ResolveCredential: %v", err)
	}
	return r
}

// testPolicyRoundTrip: every read of an API key or access key carries its policy as it was
// written, by creation and by change, and a change that clears the policy leaves none.
func testPolicyRoundTrip(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	key, keySecret := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "POLICED", keyhaven.NewPermissionSet(keyhaven.READ))
	key.Policy = fullPolicy()
	if err := s.CreateCredential(ctx, key, nil); err != nil {
		t.Fatal(err)
	}
	app := mustCreateApp(t, s, f, "policed", f.admin.ID)
	ak, akSecret := newAccessKey(app, f.admin.ID, "policed", time.Time{})
	ak.Policy = fullPolicy()
	if err := s.CreateAccessKey(ctx, ak, base, nil); err != nil {
		t.Fatal(err)
	}
	// A key without a policy reads back without one.
	plain, plainSecret := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "PLAIN", 0)
	if err := s.CreateCredential(ctx, plain, nil); err != nil {
		t.Fatal(err)
	}

	reads := func(step string, want, plainWant keyhaven.Policy) {
		t.Helper()
		got, err := s.APIKeyByName(ctx, f.tenant.ID, key.Name, base)
		if err != nil {
			t.Fatal(err)
		}
		wantPolicy(t, step+": APIKeyByName", got.Policy, want)
		keys, err := s.ListAPIKeys(ctx, f.tenant.ID, base)
		if err != nil {
			t.Fatal(err)
		}
		wantPolicy(t, step+": ListAPIKeys", find(t, keys, key.ID).Policy, want)
		wantPolicy(t, step+": ListAPIKeys (a key without one)", find(t, keys, plain.ID).Policy, plainWant)
		wantPolicy(t, step+": ResolveCredential (API key)", resolve(t, s, keySecret).Credential.Policy, want)
		wantPolicy(t, step+": ResolveCredential (a key without one)", resolve(t, s, plainSecret).Credential.Policy, plainWant)

		got, err = s.AccessKey(ctx, f.tenant.ID, app.ID, ak.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantPolicy(t, step+": AccessKey", got.Policy, want)
		aks, err := s.ListAccessKeys(ctx, f.tenant.ID, app.ID, keyhaven.Page{})
		if err != nil {
			t.Fatal(err)
		}
		wantPolicy(t, step+": ListAccessKeys", find(t, aks, ak.ID).Policy, want)
		wantPolicy(t, step+": ResolveCredential (access key)", resolve(t, s, akSecret).Credential.Policy, want)
	}
	reads("created", fullPolicy(), keyhaven.Policy{})

	// A change stores the policy it leaves, returns it, and keeps the rest.
	changeBoth := func(step string, p keyhaven.Policy) {
		t.Helper()
		got, err := s.UpdateAPIKey(ctx, f.tenant.ID, key.Name, base, func(c *keyhaven.Credential) error {
			c.Policy = p
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantPolicy(t, step+": UpdateAPIKey's answer", got.Policy, p)
		got, err = s.UpdateAccessKey(ctx, f.tenant.ID, app.ID, ak.ID, func(c *keyhaven.Credential) error {
			c.Policy = p
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantPolicy(t, step+": UpdateAccessKey's answer", got.Policy, p)
	}
	changeBoth("changed", otherPolicy())
	reads("changed", otherPolicy(), keyhaven.Policy{})
	// A change that leaves the policy as it is keeps it.
	if _, err := s.UpdateAPIKey(ctx, f.tenant.ID, key.Name, base, func(c *keyhaven.Credential) error {
		c.Active = false
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.APIKeyByName(ctx, f.tenant.ID, key.Name, base); got.Active {
		t.Fatal("the other change was not stored")
	}
	reads("other field changed", otherPolicy(), keyhaven.Policy{})
	changeBoth("cleared", keyhaven.Policy{})
	reads("cleared", keyhaven.Policy{}, keyhaven.Policy{})
	// Credits without a refill have no refill period.
	noRefill := keyhaven.Policy{Credits: &keyhaven.Credits{Remaining: 0}}
	changeBoth("credits without refill", noRefill)
	reads("credits without refill", noRefill, keyhaven.Policy{})
}

// takeCredits takes cost at the periods of at and fails unless the answer is want.
func takeCredits(t *testing.T, s keyhaven.Store, id string, cost int64, at time.Time, wantLeft int64, wantOK bool) {
	t.Helper()
	left, ok, err := s.TakeCredits(ctx, id, cost, keyhaven.RefillPeriodsAt(at))
	if err != nil || left != wantLeft || ok != wantOK {
		t.Fatalf("TakeCredits(%d at %v) = %d, %v, %v; want %d, %v", cost, at, left, ok, err, wantLeft, wantOK)
	}
}

func storedCredits(t *testing.T, s keyhaven.Store, sec string) *keyhaven.Credits {
	t.Helper()
	c := resolve(t, s, sec).Credential.Credits
	if c == nil {
		t.Fatal("the key has no credits")
	}
	return c
}

// testTakeCredits: credits are taken while enough remain; a refusal takes nothing and says
// what is left; credits of a past refill period are refilled first, for daily and monthly
// refills alike, each by its own period.
func testTakeCredits(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	newKey := func(name string, c *keyhaven.Credits) (string, string) {
		k, sec := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, name, keyhaven.NewPermissionSet(keyhaven.READ))
		k.Credits = c
		if err := s.CreateCredential(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
		return k.ID, sec
	}

	t.Run("takes while enough remain", func(t *testing.T) {
		id, sec := newKey("FIVE", &keyhaven.Credits{Remaining: 5})
		takeCredits(t, s, id, 2, base, 3, true)
		takeCredits(t, s, id, 4, base, 3, false)
		takeCredits(t, s, id, 0, base, 3, true)
		takeCredits(t, s, id, 3, base, 0, true)
		takeCredits(t, s, id, 1, base, 0, false)
		takeCredits(t, s, id, 0, base, 0, true) // costs nothing: always taken
		// Without a refill, no period refills them.
		takeCredits(t, s, id, 1, base.AddDate(1, 0, 0), 0, false)
		if c := storedCredits(t, s, sec); c.Remaining != 0 || c.Refill != nil {
			t.Fatalf("stored credits %+v, want 0 without refill", c)
		}
	})

	t.Run("ENOTFOUND without credits", func(t *testing.T) {
		id, _ := newKey("UNLIMITED", nil)
		_, ok, err := s.TakeCredits(ctx, id, 1, keyhaven.RefillPeriodsAt(base))
		wantCode(t, err, keyhaven.ENOTFOUND)
		if ok {
			t.Fatal("took credits of a key without any")
		}
		_, _, err = s.TakeCredits(ctx, keyhaven.NewID("key"), 1, keyhaven.RefillPeriodsAt(base))
		wantCode(t, err, keyhaven.ENOTFOUND)
	})

	for _, tc := range []struct {
		interval keyhaven.RefillInterval
		// next is an instant in the next period; same is a later instant in the same period, in
		// a later period of the other interval where there is one.
		next, same time.Time
	}{
		{keyhaven.RefillDaily, time.Date(2030, 5, 18, 0, 0, 0, 0, time.UTC), time.Date(2030, 5, 17, 23, 59, 59, 999999000, time.UTC)},
		{keyhaven.RefillMonthly, time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 5, 31, 23, 0, 0, 0, time.UTC)},
	} {
		t.Run("refills "+string(tc.interval), func(t *testing.T) {
			period := tc.interval.PeriodStart(base)
			id, sec := newKey("REFILL_"+string(tc.interval), &keyhaven.Credits{Remaining: 2,
				Refill: &keyhaven.Refill{Amount: 10, Interval: tc.interval}, RefilledAt: period})
			takeCredits(t, s, id, 2, base, 0, true)
			takeCredits(t, s, id, 1, tc.same, 0, false) // same period: nothing refilled
			// A refusal in a new period says what the refill makes available, and stores nothing.
			takeCredits(t, s, id, 11, tc.next, 10, false)
			if c := storedCredits(t, s, sec); c.Remaining != 0 || !c.RefilledAt.Equal(period) {
				t.Fatalf("after a refused take: stored %+v, want 0 of period %v", c, period)
			}
			takeCredits(t, s, id, 3, tc.next, 7, true)
			if c := storedCredits(t, s, sec); c.Remaining != 7 || !c.RefilledAt.Equal(tc.next) {
				t.Fatalf("after a refill: stored %+v, want 7 of period %v", c, tc.next)
			}
			// The new period refills once.
			takeCredits(t, s, id, 7, tc.next.Add(time.Hour), 0, true)
			takeCredits(t, s, id, 1, tc.next.Add(2*time.Hour), 0, false)
			// At a later period's start, the credits are the amount, whatever was left.
			later := tc.interval.PeriodStart(tc.next.AddDate(0, 1, 1))
			takeCredits(t, s, id, 0, later, 10, true)
		})
	}

	t.Run("race", func(t *testing.T) {
		const n, k = 24, 7
		id, sec := newKey("RACED", &keyhaven.Credits{Remaining: k})
		var mu sync.Mutex
		taken := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				left, ok, err := s.TakeCredits(ctx, id, 1, keyhaven.RefillPeriodsAt(base))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("TakeCredits: %v", err)
				case ok:
					taken++
				case left != 0:
					t.Errorf("refused with %d left", left)
				}
			})
		}
		close(start)
		wg.Wait()
		if taken != k {
			t.Fatalf("%d of %d racing takers took a credit of %d, want exactly %d", taken, n, k, k)
		}
		if c := storedCredits(t, s, sec); c.Remaining != 0 {
			t.Fatalf("%d credits left, want 0", c.Remaining)
		}
	})
}

// testTakeRateWindow: a window's count grows by what take adds, take sees the previous
// window's count, and racing takers on one window line up.
func testTakeRateWindow(t *testing.T, s keyhaven.Store) {
	const period = time.Minute
	w0 := base.Truncate(period)
	w1, w2 := w0.Add(period), w0.Add(2*period)
	take := func(key string, start time.Time, add int64, wantPrev, wantCur int64) {
		t.Helper()
		var sawPrev, sawCur int64 = -1, -1
		prev, cur, err := s.TakeRateWindow(ctx, key, start, start.Add(-period), func(prev, cur int64) int64 {
			sawPrev, sawCur = prev, cur
			return add
		})
		if err != nil || prev != wantPrev || cur != wantCur || sawPrev != wantPrev || sawCur != wantCur {
			t.Fatalf("TakeRateWindow(%s, %v, +%d) = %d, %d, %v (take saw %d, %d); want %d, %d",
				key, start, add, prev, cur, err, sawPrev, sawCur, wantPrev, wantCur)
		}
	}
	take("a", w0, 3, 0, 0)
	take("a", w0, 0, 0, 3) // adds nothing
	take("a", w0, 2, 0, 3)
	take("a", w0, 0, 0, 5)
	take("b", w0, 1, 0, 0) // keys are apart
	take("a", w1, 4, 5, 0) // the previous window is read
	take("a", w1, 0, 5, 4)
	take("a", w2, 0, 4, 0)

	// DeleteRateWindows forgets the windows that started before the cutoff.
	n, err := s.DeleteRateWindows(ctx, w1)
	if err != nil || n != 2 {
		t.Fatalf("DeleteRateWindows = %d, %v; want 2 (a's and b's first windows)", n, err)
	}
	take("a", w1, 0, 0, 4)
	take("b", w0, 0, 0, 0)

	t.Run("race", func(t *testing.T) {
		const takers, limit = 40, 13
		w := w0.Add(10 * period)
		var mu sync.Mutex
		added := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range takers {
			wg.Go(func() {
				<-start
				var n int64
				_, _, err := s.TakeRateWindow(ctx, "raced", w, w.Add(-period), func(_, cur int64) int64 {
					n = 0
					if cur < limit {
						n = 1
					}
					return n
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("TakeRateWindow: %v", err)
				}
				added += int(n)
			})
		}
		close(start)
		wg.Wait()
		if added != limit {
			t.Fatalf("%d of %d racing takers added 1 while the count was under %d, want exactly %d", added, takers, limit, limit)
		}
		take("raced", w, 0, 0, limit)
	})
}

// rotateTo returns a change that gives the credential sec's hash.
func rotateTo(sec string) func(*keyhaven.Credential) error {
	return func(c *keyhaven.Credential) error {
		c.Hash, c.Display = secret.Hash(sec), secret.Display(sec)
		return nil
	}
}

// testRotateCredential: a rotation replaces a key's secret and keeps the old one resolving
// to the same key until it retires; a refused rotation stores nothing; rotations of one key
// line up; retired secrets go when they are old enough and with their key.
func testRotateCredential(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	key, oldSecret := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "ROTATED", keyhaven.NewPermissionSet(keyhaven.READ))
	key.Policy = fullPolicy()
	if err := s.CreateCredential(ctx, key, nil); err != nil {
		t.Fatal(err)
	}
	retireAt := base.Add(time.Hour)
	newSecret := secret.Generate(secret.APIKey)
	e := event(f, "api_key.rotate")
	got, err := s.RotateCredential(ctx, f.tenant.ID, key.ID, retireAt, rotateTo(newSecret), e)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != key.ID || got.Hash != secret.Hash(newSecret) || got.Display != secret.Display(newSecret) {
		t.Fatalf("RotateCredential = %+v, want the key with the new secret", got)
	}
	r := resolve(t, s, newSecret)
	if r.Credential.ID != key.ID || !r.SecretExpiresAt.IsZero() || r.Credential.Hash != secret.Hash(newSecret) {
		t.Fatalf("the new secret resolves to %s (hash %s) retiring at %v; want the key's current secret", r.Credential.ID, r.Credential.Hash, r.SecretExpiresAt)
	}
	wantPolicy(t, "after rotation", r.Credential.Policy, fullPolicy())
	r = resolve(t, s, oldSecret)
	if r.Credential.ID != key.ID || !r.SecretExpiresAt.Equal(retireAt) || r.Credential.Name != key.Name || r.Tenant.Name != f.tenant.Name {
		t.Fatalf("the old secret resolves to %+v retiring at %v; want the key, retiring at %v", r.Credential, r.SecretExpiresAt, retireAt)
	}
	wantPolicy(t, "through the old secret", r.Credential.Policy, fullPolicy())
	if !audited(t, s, f, e.ID) {
		t.Error("the rotation's event was not recorded")
	}

	t.Run("refused", func(t *testing.T) {
		refusal := keyhaven.Errorf(keyhaven.EFORBIDDEN, "no")
		unused := secret.Generate(secret.APIKey)
		_, err := s.RotateCredential(ctx, f.tenant.ID, key.ID, retireAt, func(c *keyhaven.Credential) error {
			c.Hash, c.Display = secret.Hash(unused), secret.Display(unused)
			return refusal
		}, nil)
		if !errors.Is(err, refusal) {
			t.Fatalf("RotateCredential = %v, want the change's error", err)
		}
		if r := resolve(t, s, newSecret); !r.SecretExpiresAt.IsZero() {
			t.Fatal("a refused rotation retired the current secret")
		}
		_, err = s.ResolveCredential(ctx, secret.Hash(unused))
		wantCode(t, err, keyhaven.ENOTFOUND)
		for _, id := range []string{keyhaven.NewID("key"), f.key.ID} {
			tenant := f.tenant.ID
			if id == f.key.ID {
				tenant = g.tenant.ID // another tenant's key is unknown
			}
			_, err = s.RotateCredential(ctx, tenant, id, retireAt, rotateTo(secret.Generate(secret.APIKey)), nil)
			wantCode(t, err, keyhaven.ENOTFOUND)
		}
		sess, sessSecret := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", 0)
		if err := s.CreateCredential(ctx, sess, nil); err != nil {
			t.Fatal(err)
		}
		_, err = s.RotateCredential(ctx, f.tenant.ID, sess.ID, retireAt, rotateTo(secret.Generate(secret.Session)), nil)
		wantCode(t, err, keyhaven.ENOTFOUND) // sessions are not rotated
		resolve(t, s, sessSecret)
	})

	t.Run("access key", func(t *testing.T) {
		app := mustCreateApp(t, s, f, "rotated", f.admin.ID)
		ak, akOld := newAccessKey(app, f.admin.ID, "rotated", time.Time{})
		if err := s.CreateAccessKey(ctx, ak, base, nil); err != nil {
			t.Fatal(err)
		}
		akNew := secret.Generate(secret.AccessKey)
		if _, err := s.RotateCredential(ctx, f.tenant.ID, ak.ID, retireAt, rotateTo(akNew), nil); err != nil {
			t.Fatal(err)
		}
		if r := resolve(t, s, akNew); r.Credential.ID != ak.ID || !r.SecretExpiresAt.IsZero() {
			t.Fatalf("new secret: %s retiring at %v", r.Credential.ID, r.SecretExpiresAt)
		}
		if r := resolve(t, s, akOld); r.Credential.ID != ak.ID || !r.SecretExpiresAt.Equal(retireAt) {
			t.Fatalf("old secret: %s retiring at %v", r.Credential.ID, r.SecretExpiresAt)
		}
		got, err := s.AccessKey(ctx, f.tenant.ID, app.ID, ak.ID)
		if err != nil || got.Hash != secret.Hash(akNew) {
			t.Fatalf("AccessKey after rotation = %+v, %v", got, err)
		}
	})

	t.Run("race", func(t *testing.T) {
		const n = 6
		k, first := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "RACED", 0)
		if err := s.CreateCredential(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
		secrets := make([]string, n)
		for i := range secrets {
			secrets[i] = secret.Generate(secret.APIKey)
		}
		ok := race(t, n, "", func(i int) error {
			_, err := s.RotateCredential(ctx, f.tenant.ID, k.ID, retireAt.Add(time.Duration(i)*time.Minute), rotateTo(secrets[i]), nil)
			return err
		})
		if ok != n {
			t.Fatalf("%d of %d racing rotations succeeded, want all", ok, n)
		}
		// They lined up: each retired the secret the one before it left, so that every secret
		// but the last is retired, and one is current.
		current := 0
		for i, sec := range append(secrets, first) {
			r := resolve(t, s, sec)
			if r.Credential.ID != k.ID {
				t.Fatalf("secret %d resolves to %s", i, r.Credential.ID)
			}
			if r.SecretExpiresAt.IsZero() {
				current++
			}
		}
		if current != 1 {
			t.Fatalf("%d of the %d secrets are current, want 1", current, n+1)
		}
	})

	t.Run("retired secrets are deleted", func(t *testing.T) {
		early, earlyOld := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "EARLY", 0)
		late, lateOld := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "LATE", 0)
		for i, c := range []*keyhaven.Credential{early, late} {
			if err := s.CreateCredential(ctx, c, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RotateCredential(ctx, f.tenant.ID, c.ID, base.Add(time.Duration(2*i-4)*time.Hour),
				rotateTo(secret.Generate(secret.APIKey)), nil); err != nil {
				t.Fatal(err)
			}
		}
		// Retired at base-4h and base-2h; every other secret retires later.
		n, err := s.DeleteRetiredSecrets(ctx, base.Add(-3*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("DeleteRetiredSecrets = %d, %v; want 1", n, err)
		}
		_, err = s.ResolveCredential(ctx, secret.Hash(earlyOld))
		wantCode(t, err, keyhaven.ENOTFOUND)
		resolve(t, s, lateOld)
	})

	t.Run("deleted with their key", func(t *testing.T) {
		for i, del := range []func(c *keyhaven.Credential) error{
			func(c *keyhaven.Credential) error { return s.DeleteCredential(ctx, c.TenantID, c.ID, nil) },
			func(c *keyhaven.Credential) error {
				_, err := s.DeleteExpiredCredentials(ctx, c.ExpiresAt)
				return err
			},
			func(c *keyhaven.Credential) error {
				return s.DeleteUser(ctx, c.TenantID, c.OwnerID, allow[keyhaven.User], base, nil)
			},
		} {
			u := newUser(f.tenant, fmt.Sprintf("rotator%d@example.com", i), keyhaven.AllPermissions)
			if err := s.CreateUser(ctx, u, nil); err != nil {
				t.Fatal(err)
			}
			c, old := newCredential(f.tenant.ID, u.ID, keyhaven.KindAPIKey, fmt.Sprintf("DOOMED%d", i), 0)
			c.ExpiresAt = base.Add(time.Duration(i+1) * time.Minute)
			if err := s.CreateCredential(ctx, c, nil); err != nil {
				t.Fatal(err)
			}
			cur := secret.Generate(secret.APIKey)
			if _, err := s.RotateCredential(ctx, f.tenant.ID, c.ID, retireAt, rotateTo(cur), nil); err != nil {
				t.Fatal(err)
			}
			resolve(t, s, old)
			if err := del(c); err != nil {
				t.Fatal(err)
			}
			for _, sec := range []string{cur, old} {
				_, err := s.ResolveCredential(ctx, secret.Hash(sec))
				wantCode(t, err, keyhaven.ENOTFOUND)
			}
		}
	})
}
