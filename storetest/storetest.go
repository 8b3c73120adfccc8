// Package storetest is the conformance suite every keyhaven.Store must pass. Each store's
// package runs it with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
)

type subTest struct {
	name string
	run  func(t *testing.T, s keyhaven.Store)
}

// RunTests runs the whole suite against stores made by newStore.
func RunTests(t *testing.T, newStore func(t testing.TB) keyhaven.Store) {
	tests := []subTest{
		{"TenantCreate", testTenantCreate},
		{"TenantDuplicateRace", testTenantDuplicateRace},
		{"UserCRUD", testUserCRUD},
		{"UserEmailUnique", testUserEmailUnique},
		{"UserEmailRace", testUserEmailRace},
		{"UserTenantIsolation", testUserTenantIsolation},
		{"UserPagination", testUserPagination},
		{"UserPasswordChangeEndsSessions", testUserPasswordChangeEndsSessions},
		{"CredentialResolve", testCredentialResolve},
		{"CredentialOwnerDeleted", testCredentialOwnerDeleted},
		{"APIKeyNameUnique", testAPIKeyNameUnique},
		{"APIKeyNameRace", testAPIKeyNameRace},
		{"CredentialGarbageCollection", testCredentialGC},
		{"Audit", testAudit},
		{"ApplicationCRUD", testApplicationCRUD},
		{"AccessKeyCRUD", testAccessKeyCRUD},
		{"ApplicationLimitRace", testApplicationLimitRace},
		{"AccessKeyLimitRace", testAccessKeyLimitRace},
		{"APIKeyLimitRace", testAPIKeyLimitRace},
		{"DeleteUserRevokesWhatItOwns", testDeleteUserRevokesWhatItOwns},
		{"APIKeyCRUD", testAPIKeyCRUD},
		{"APIKeyExpiredIsGone", testAPIKeyExpiredIsGone},
		{"APIKeyPages", testAPIKeyPages},
		{"Contracts", testContracts},
		{"Accesses", testAccesses},
		{"BatchLeases", testBatchLeases},
		{"BatchChunkAtomic", testBatchChunkAtomic},
		{"BatchTurns", testBatchTurns},
		{"BatchHolding", testBatchHolding},
		{"BatchPurge", testBatchPurge},
		{"BatchAccessPages", testBatchAccessPages},
		{"BatchQueue", testBatchQueue},
		{"BatchTaskCursors", testBatchTaskCursors},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"AccessChangeRace", testAccessChangeRace},
		{"ContractChangeRace", testContractChangeRace},
		{"ApplicationChangeRace", testApplicationChangeRace},
		{"AccessKeyChangeRace", testAccessKeyChangeRace},
		{"APIKeyChangeRace", testAPIKeyChangeRace},
		{"UserChangeRace", testUserChangeRace},
		{"ChangeRefused", testChangeRefused},
		{"ChangeWithItsRecord", testChangeWithItsRecord},
		{"SealingKeyCheck", testSealingKeyCheck},
		{"SealedSamples", testSealedSamples},
		{"AdoptSealingKey", testAdoptSealingKey},
		{"PolicyRoundTrip", testPolicyRoundTrip},
		{"TakeCredits", testTakeCredits},
		{"TakeRateWindow", testTakeRateWindow},
		{"RotateCredential", testRotateCredential},
		{"SigningKeyRotation", testSigningKeyRotation},
		{"SigningKeyRotationRace", testSigningKeyRotationRace},
		{"RevokedTokens", testRevokedTokens},
		{"CredentialByID", testCredentialByID},
		{"WebhookCRUD", testWebhookCRUD},
		{"WebhookLimitRace", testWebhookLimitRace},
		{"OutboxWithTheChange", testOutboxWithTheChange},
		{"OutboxRace", testOutboxRace},
		{"WebhookQueue", testWebhookQueue},
		{"WebhookClaimRace", testWebhookClaimRace},
		{"NoteUsageExceeded", testNoteUsageExceeded},
		{"NoteExpiring", testNoteExpiring},
		{"UsageBuckets", testUsageBuckets},
		{"UsageFlushOnce", testUsageFlushOnce},
		{"UsageAddRace", testUsageAddRace},
		{"UsageTop", testUsageTop},
		{"UsageRetention", testUsageRetention},
		{"ExpiringCredentials", testExpiringCredentials},
		{"ListPages", testListPages},
		{"BatchTaskPages", testBatchTaskPages},
		{"UserEmails", testUserEmails},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

var ctx = context.Background()

// base is a fixed instant: stores must round-trip times to the microsecond.
var base = time.Date(2030, 5, 17, 10, 30, 15, 123456000, time.UTC)

// fixture is a tenant with an admin user and a bootstrap API key.
type fixture struct {
	tenant *keyhaven.Tenant
	admin  *keyhaven.User
	key    *keyhaven.Credential
	secret string
}

var counter struct {
	sync.Mutex
	n int
}

func next() int {
	counter.Lock()
	defer counter.Unlock()
	counter.n++
	return counter.n
}

func newTenant(t *testing.T, s keyhaven.Store) fixture {
	t.Helper()
	n := next()
	f := fixture{tenant: &keyhaven.Tenant{ID: keyhaven.NewID("tnt"), Name: fmt.Sprintf("tenant-%d", n), CreatedAt: base, Limits: defaultLimits}}
	f.admin = newUser(f.tenant, fmt.Sprintf("admin%d@example.com", n), keyhaven.AllPermissions)
	f.key, f.secret = newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "bootstrap", keyhaven.AllPermissions)
	if err := s.CreateTenant(ctx, f.tenant, f.admin, f.key, nil); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return f
}

func newUser(t *keyhaven.Tenant, email string, perms keyhaven.PermissionSet) *keyhaven.User {
	return &keyhaven.User{
		ID: keyhaven.NewID("usr"), TenantID: t.ID, Email: email, PasswordHash: "$argon2id$test",
		Permissions: perms, CreatedAt: base, UpdatedAt: base,
	}
}

func newCredential(tenantID, ownerID string, kind keyhaven.CredentialKind, name string, perms keyhaven.PermissionSet) (*keyhaven.Credential, string) {
	sk := secret.APIKey
	if kind == keyhaven.KindSession {
		sk = secret.Session
	}
	sec := secret.Generate(sk)
	return &keyhaven.Credential{
		ID: keyhaven.NewID("key"), TenantID: tenantID, Kind: kind, OwnerID: ownerID, Name: name,
		Hash: secret.Hash(sec), Display: secret.Display(sec), Permissions: perms, Active: true, CreatedAt: base,
	}, sec
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := keyhaven.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func testTenantCreate(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	got, err := s.TenantByName(ctx, f.tenant.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != f.tenant.ID || !got.CreatedAt.Equal(base) {
		t.Fatalf("TenantByName = %+v, want %+v", got, f.tenant)
	}
	_, err = s.TenantByName(ctx, "no-such-tenant")
	wantCode(t, err, keyhaven.ENOTFOUND)
	if n, err := s.CountTenants(ctx); err != nil || n != 1 {
		t.Fatalf("CountTenants = %d, %v; want 1", n, err)
	}
	// A duplicate name creates nothing: neither the user nor the key of the failed attempt.
	dup := &keyhaven.Tenant{ID: keyhaven.NewID("tnt"), Name: f.tenant.Name, CreatedAt: base}
	admin := newUser(dup, "other@example.com", keyhaven.AllPermissions)
	key, sec := newCredential(dup.ID, admin.ID, keyhaven.KindAPIKey, "bootstrap", keyhaven.AllPermissions)
	wantCode(t, s.CreateTenant(ctx, dup, admin, key, nil), keyhaven.ECONFLICT)
	_, err = s.ResolveCredential(ctx, secret.Hash(sec))
	wantCode(t, err, keyhaven.ENOTFOUND)
}

// race runs fn n times at once and returns how many succeeded; every failure must have code.
func race(t *testing.T, n int, code string, fn func(i int) error) int {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch keyhaven.ErrorCode(err) {
		case "":
			ok++
		case code:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return ok
}

func testTenantDuplicateRace(t *testing.T, s keyhaven.Store) {
	ok := race(t, 16, keyhaven.ECONFLICT, func(i int) error {
		tn := &keyhaven.Tenant{ID: keyhaven.NewID("tnt"), Name: "contested", CreatedAt: base}
		admin := newUser(tn, "admin@example.com", keyhaven.AllPermissions)
		key, _ := newCredential(tn.ID, admin.ID, keyhaven.KindAPIKey, "bootstrap", keyhaven.AllPermissions)
		return s.CreateTenant(ctx, tn, admin, key, nil)
	})
	if ok != 1 {
		t.Fatalf("%d racing CreateTenant calls succeeded, want 1", ok)
	}
}

func testUserCRUD(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	u := newUser(f.tenant, "bob@example.com", keyhaven.NewPermissionSet(keyhaven.READ, keyhaven.WRITE))
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.User(ctx, f.tenant.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != u.Email || got.Permissions != u.Permissions || got.PasswordHash != u.PasswordHash ||
		!got.CreatedAt.Equal(base) || got.Deleted() {
		t.Fatalf("User = %+v, want %+v", got, u)
	}
	byEmail, err := s.UserByEmail(ctx, f.tenant.ID, "bob@example.com")
	if err != nil || byEmail.ID != u.ID {
		t.Fatalf("UserByEmail = %v, %v", byEmail, err)
	}
	u.Permissions = keyhaven.NewPermissionSet(keyhaven.READ)
	u.PasswordHash = "$argon2id$new"
	u.UpdatedAt = base.Add(time.Hour)
	if err := putUser(s, u, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = s.User(ctx, f.tenant.ID, u.ID)
	if got.Permissions != u.Permissions || got.PasswordHash != "$argon2id$new" || !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Fatalf("after update User = %+v", got)
	}
	if err := s.DeleteUser(ctx, f.tenant.ID, u.ID, allow[keyhaven.User], base.Add(2*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.User(ctx, f.tenant.ID, u.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	wantCode(t, s.DeleteUser(ctx, f.tenant.ID, u.ID, allow[keyhaven.User], base, nil), keyhaven.ENOTFOUND)
	wantCode(t, putUser(s, u, nil), keyhaven.ENOTFOUND)
	users, err := s.ListUsers(ctx, f.tenant.ID, keyhaven.Page{})
	if err != nil || len(users) != 1 || users[0].ID != f.admin.ID {
		t.Fatalf("ListUsers after delete = %v, %v; want only the admin", users, err)
	}
}

func testUserEmailUnique(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	u := newUser(f.tenant, "dup@example.com", 0)
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateUser(ctx, newUser(f.tenant, "dup@example.com", 0), nil), keyhaven.ECONFLICT)
	// Another tenant may use the same email.
	g := newTenant(t, s)
	if err := s.CreateUser(ctx, newUser(g.tenant, "dup@example.com", 0), nil); err != nil {
		t.Fatalf("same email in another tenant: %v", err)
	}
	// A deleted user's email is free again.
	if err := s.DeleteUser(ctx, f.tenant.ID, u.ID, allow[keyhaven.User], base, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, newUser(f.tenant, "dup@example.com", 0), nil); err != nil {
		t.Fatalf("email of a deleted user: %v", err)
	}
}

func testUserEmailRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	ok := race(t, 20, keyhaven.ECONFLICT, func(int) error {
		return s.CreateUser(ctx, newUser(f.tenant, "racer@example.com", 0), nil)
	})
	if ok != 1 {
		t.Fatalf("%d racing CreateUser calls succeeded, want 1", ok)
	}
}

func testUserTenantIsolation(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	_, err := s.User(ctx, g.tenant.ID, f.admin.ID)
	wantCode(t, err, keyhaven.ENOTFOUND)
	_, err = s.UserByEmail(ctx, g.tenant.ID, f.admin.Email)
	wantCode(t, err, keyhaven.ENOTFOUND)
	wantCode(t, s.DeleteUser(ctx, g.tenant.ID, f.admin.ID, allow[keyhaven.User], base, nil), keyhaven.ENOTFOUND)
	other := *f.admin
	other.TenantID = g.tenant.ID
	wantCode(t, putUser(s, &other, &keyhaven.EndSessions{}), keyhaven.ENOTFOUND)
	wantCode(t, s.DeleteCredential(ctx, g.tenant.ID, f.key.ID, nil), keyhaven.ENOTFOUND)
	if _, err := s.User(ctx, f.tenant.ID, f.admin.ID); err != nil {
		t.Fatalf("the admin was touched through another tenant: %v", err)
	}
}

// testUserPasswordChangeEndsSessions: a change that ends sessions deletes every session of
// the user but the kept one, in the same transaction, and nothing else: not the user's API
// keys, not other users' sessions.
func testUserPasswordChangeEndsSessions(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	bob := newUser(f.tenant, "bob@example.com", keyhaven.AllPermissions)
	if err := s.CreateUser(ctx, bob, nil); err != nil {
		t.Fatal(err)
	}
	var sessions []string
	for range 3 {
		c, sec := newCredential(f.tenant.ID, bob.ID, keyhaven.KindSession, "", keyhaven.AllPermissions)
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, sec)
	}
	key, keySecret := newCredential(f.tenant.ID, bob.ID, keyhaven.KindAPIKey, "BOBS", keyhaven.AllPermissions)
	adminSession, adminSecret := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", keyhaven.AllPermissions)
	for _, c := range []*keyhaven.Credential{key, adminSession} {
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	kept, err := s.ResolveCredential(ctx, secret.Hash(sessions[0]))
	if err != nil {
		t.Fatal(err)
	}
	bob.PasswordHash = "$argon2id$changed"
	if err := putUser(s, bob, &keyhaven.EndSessions{Keep: kept.Credential.ID}); err != nil {
		t.Fatal(err)
	}
	alive := func(sec string) bool {
		_, err := s.ResolveCredential(ctx, secret.Hash(sec))
		return err == nil
	}
	if !alive(sessions[0]) {
		t.Error("the kept session was ended")
	}
	for _, sec := range sessions[1:] {
		if alive(sec) {
			t.Error("another session of the user survived the password change")
		}
	}
	if !alive(keySecret) || !alive(adminSecret) {
		t.Error("a password change ended an API key or another user's session")
	}
	// Without a kept session, every session ends; without end, none does.
	if err := putUser(s, bob, nil); err != nil || !alive(sessions[0]) {
		t.Fatalf("UpdateUser without end: %v, kept session alive %v", err, alive(sessions[0]))
	}
	if err := putUser(s, bob, &keyhaven.EndSessions{}); err != nil || alive(sessions[0]) {
		t.Fatalf("UpdateUser ending all: %v, session alive %v", err, alive(sessions[0]))
	}
}

func testUserPagination(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	want := map[string]bool{f.admin.ID: true}
	for i := range 7 {
		u := newUser(f.tenant, fmt.Sprintf("u%d@example.com", i), 0)
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		want[u.ID] = true
	}
	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		users, err := s.ListUsers(ctx, f.tenant.ID, keyhaven.Page{Limit: 3, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) == 0 {
			break
		}
		for _, u := range users {
			if seen[u.ID] || u.ID <= after {
				t.Fatalf("user %s out of order or repeated", u.ID)
			}
			seen[u.ID] = true
			after = u.ID
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("pages held %d users, want %d", len(seen), len(want))
	}
}

func testCredentialResolve(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	c, sec := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", keyhaven.AllPermissions)
	c.ExpiresAt = base.Add(time.Hour)
	if err := s.CreateCredential(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	r, err := s.ResolveCredential(ctx, secret.Hash(sec))
	if err != nil {
		t.Fatal(err)
	}
	got := r.Credential
	if got.ID != c.ID || got.Kind != keyhaven.KindSession || got.OwnerID != f.admin.ID || !got.Active ||
		got.Permissions != keyhaven.AllPermissions || !got.ExpiresAt.Equal(c.ExpiresAt) || !got.RevokedAt.IsZero() ||
		got.Hash != c.Hash {
		t.Fatalf("ResolveCredential = %+v, want %+v", got, c)
	}
	if r.Tenant.Name != f.tenant.Name || r.Owner.Email != f.admin.Email || r.Owner.Permissions != keyhaven.AllPermissions {
		t.Fatalf("resolution tenant %+v owner %+v", r.Tenant, r.Owner)
	}
	_, err = s.ResolveCredential(ctx, secret.Hash(secret.Generate(secret.APIKey)))
	wantCode(t, err, keyhaven.ENOTFOUND)
	if err := s.DeleteCredential(ctx, f.tenant.ID, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.ResolveCredential(ctx, secret.Hash(sec))
	wantCode(t, err, keyhaven.ENOTFOUND)
}

func testCredentialOwnerDeleted(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	u := newUser(f.tenant, "owner@example.com", keyhaven.NewPermissionSet(keyhaven.READ))
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	c, sec := newCredential(f.tenant.ID, u.ID, keyhaven.KindAPIKey, "owned", keyhaven.NewPermissionSet(keyhaven.READ))
	if err := s.CreateCredential(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountOwnedCredentials(ctx, f.tenant.ID, u.ID, base); err != nil || n != 1 {
		t.Fatalf("CountOwnedCredentials = %d, %v; want 1", n, err)
	}
	if err := s.DeleteUser(ctx, f.tenant.ID, u.ID, allow[keyhaven.User], base, nil); err != nil {
		t.Fatal(err)
	}
	// The deleted user's API keys are deleted with it.
	_, err := s.ResolveCredential(ctx, secret.Hash(sec))
	wantCode(t, err, keyhaven.ENOTFOUND)
}

func testAPIKeyNameUnique(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	c, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "POWER_USER", 0)
	if err := s.CreateCredential(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	dup, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "POWER_USER", 0)
	wantCode(t, s.CreateCredential(ctx, dup, nil), keyhaven.ECONFLICT)
	other, _ := newCredential(g.tenant.ID, g.admin.ID, keyhaven.KindAPIKey, "POWER_USER", 0)
	if err := s.CreateCredential(ctx, other, nil); err != nil {
		t.Fatalf("same key name in another tenant: %v", err)
	}
	// Sessions have no name to clash on.
	for range 2 {
		sess, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindSession, "", 0)
		if err := s.CreateCredential(ctx, sess, nil); err != nil {
			t.Fatalf("second session: %v", err)
		}
	}
}

func testAPIKeyNameRace(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	ok := race(t, 20, keyhaven.ECONFLICT, func(int) error {
		c, _ := newCredential(f.tenant.ID, f.admin.ID, keyhaven.KindAPIKey, "CONTESTED", 0)
		return s.CreateCredential(ctx, c, nil)
	})
	if ok != 1 {
		t.Fatalf("%d racing CreateCredential calls succeeded, want 1", ok)
	}
}

func testCredentialGC(t *testing.T, s keyhaven.Store) {
	f := newTenant(t, s)
	type item struct {
		kind    keyhaven.CredentialKind
		expires time.Time
		keep    bool
	}
	items := []item{
		{keyhaven.KindSession, base.Add(-time.Second), false},
		{keyhaven.KindSession, base.Add(time.Second), true},
		{keyhaven.KindAPIKey, base, false}, // expiring exactly now is expired
		{keyhaven.KindAPIKey, time.Time{}, true},
		{keyhaven.KindAPIKey, base.Add(time.Minute), true},
	}
	secrets := make([]string, len(items))
	for i, it := range items {
		c, sec := newCredential(f.tenant.ID, f.admin.ID, it.kind, fmt.Sprintf("k%d", i), 0)
		c.ExpiresAt = it.expires
		if err := s.CreateCredential(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		secrets[i] = sec
	}
	n, err := s.DeleteExpiredCredentials(ctx, base)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredCredentials = %d, %v; want 2", n, err)
	}
	for i, it := range items {
		_, err := s.ResolveCredential(ctx, secret.Hash(secrets[i]))
		if kept := err == nil; kept != it.keep {
			t.Errorf("item %d kept = %v, want %v (err %v)", i, kept, it.keep, err)
		}
	}
}

func testAudit(t *testing.T, s keyhaven.Store) {
	f, g := newTenant(t, s), newTenant(t, s)
	var ids []string
	for i := range 5 {
		e := &keyhaven.AuditEvent{
			ID: keyhaven.NewID("evt"), TenantID: f.tenant.ID, At: base.Add(time.Duration(i) * time.Second),
			ActorKind: "api_key", ActorID: f.key.ID, ActorUserID: f.admin.ID, Action: "user.create",
			TargetType: "user", TargetID: fmt.Sprintf("usr_%d", i), Outcome: keyhaven.OutcomeSuccess,
			RemoteAddr: "127.0.0.1", RequestID: "req", Detail: map[string]any{"n": float64(i)},
		}
		if i == 4 {
			e.Action, e.Outcome = "user.delete", keyhaven.OutcomeDenied
		}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if err := s.AppendAudit(ctx, &keyhaven.AuditEvent{ID: keyhaven.NewID("evt"), TenantID: g.tenant.ID, At: base, ActorKind: "system", Action: "tenant.create", TargetType: "tenant", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListAudit(ctx, f.tenant.ID, keyhaven.AuditFilter{})
	if err != nil || len(all) != 5 {
		t.Fatalf("ListAudit = %d events, %v; want 5 (another tenant's excluded)", len(all), err)
	}
	for i := range all {
		if want := ids[len(ids)-1-i]; all[i].ID != want {
			t.Fatalf("event %d is %s, want %s: not newest first", i, all[i].ID, want)
		}
	}
	denied, _ := s.ListAudit(ctx, f.tenant.ID, keyhaven.AuditFilter{Outcome: keyhaven.OutcomeDenied})
	if len(denied) != 1 || denied[0].Action != "user.delete" || denied[0].Detail["n"] != float64(4) {
		t.Fatalf("denied events = %+v", denied)
	}
	creates, _ := s.ListAudit(ctx, f.tenant.ID, keyhaven.AuditFilter{Action: "user.create", Page: keyhaven.Page{Limit: 2}})
	if len(creates) != 2 {
		t.Fatalf("limit 2 gave %d events", len(creates))
	}
	rest, _ := s.ListAudit(ctx, f.tenant.ID, keyhaven.AuditFilter{Action: "user.create", Page: keyhaven.Page{After: creates[1].ID}})
	if len(rest) != 2 {
		t.Fatalf("second page gave %d events, want 2", len(rest))
	}
}

var defaultLimits = keyhaven.DefaultLimits

// to returns a change that makes the held value v: for cases about what a write stores.
func to[T any](v *T) func(*T) error {
	return func(held *T) error {
		*held = *v
		return nil
	}
}

// allow is a check that allows the change.
func allow[T any](*T) error { return nil }

// putUser stores u whole.
func putUser(s keyhaven.Store, u *keyhaven.User, end *keyhaven.EndSessions) error {
	_, err := s.UpdateUser(ctx, u.TenantID, u.ID, to(u), end, nil)
	return err
}

// putAPIKey stores c whole over the API key named name.
func putAPIKey(s keyhaven.Store, name string, c *keyhaven.Credential, now time.Time) error {
	_, err := s.UpdateAPIKey(ctx, c.TenantID, name, now, to(c), nil)
	return err
}

// errRevoked is what the domain answers for a change of something revoked.
var errRevoked = keyhaven.Errorf(keyhaven.ENOTFOUND, "revoked")

// revokeApp revokes an application at at, as the domain does: unless the held row says it is
// revoked already.
func revokeApp(s keyhaven.Store, tenantID, id string, at time.Time) error {
	_, err := s.UpdateApplication(ctx, tenantID, id, func(a *keyhaven.Application) error {
		if !a.RevokedAt.IsZero() {
			return errRevoked
		}
		a.RevokedAt = at
		return nil
	}, nil)
	return err
}

// revokeKey revokes an access key at at, like revokeApp.
func revokeKey(s keyhaven.Store, tenantID, appID, id string, at time.Time) error {
	_, err := s.UpdateAccessKey(ctx, tenantID, appID, id, func(c *keyhaven.Credential) error {
		if !c.RevokedAt.IsZero() {
			return errRevoked
		}
		c.RevokedAt = at
		return nil
	}, nil)
	return err
}
