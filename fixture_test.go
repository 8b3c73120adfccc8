package keyhaven_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// fixture is one tenant on a real SQLite store, served by the real service on a manual
// clock. The tables of the service's rules make in it the users, credentials and
// applications their cases need: through the service where that is the rule's own path, and
// straight into the store where a case needs a state the rules under test would refuse to
// build (an application of a user who may not create one, a key of any owner).
type fixture struct {
	// t is the running test; a table whose cases share the fixture sets it in each subtest,
	// which run one after another.
	t     *testing.T
	ctx   context.Context
	svc   *keyhaven.Service
	store keyhaven.Store
	clock *keyhaven.ManualClock
	// admin acts with the tenant's bootstrap API key: every permission.
	admin         *keyhaven.Principal
	adminPassword string
	n             int
}

// fixturePassword is the password of every user a fixture makes.
const fixturePassword = "a-password-long-enough"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store := testdb.SQLite(t)
	svc := keyhaven.NewService(store, slog.New(slog.DiscardHandler))
	svc.PasswordParams = secret.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	svc.Sealer = must(secret.NewSealer(must(secret.ParseKey(secret.NewKey()))))
	clock := keyhaven.NewManualClock(time.Now().UTC().Truncate(time.Second))
	svc.Clock = clock
	ctx := context.Background()
	created, err := svc.CreateTenant(ctx, "acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Authenticate(ctx, keyhaven.Use{Secret: created.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	// Tables make many things in one tenant; the tables of the limits set their own.
	if err := svc.SetTenantLimits(ctx, "acme", keyhaven.Limits{Applications: keyhaven.MaxLimit,
		AccessKeysPerApplication: keyhaven.MaxLimit, APIKeys: keyhaven.MaxLimit}); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, svc: svc, store: store, clock: clock, admin: admin, adminPassword: created.AdminPassword}
}

// perms returns the set holding ps.
func perms(ps ...keyhaven.Permission) keyhaven.PermissionSet { return keyhaven.NewPermissionSet(ps...) }

// names returns the names of ps, as callers give them.
func names(ps ...keyhaven.Permission) []string { return perms(ps...).Strings() }

// holding names a set of permissions in a test's name.
func holding(ps []keyhaven.Permission) string {
	if len(ps) == 0 {
		return "nothing"
	}
	return perms(ps...).String()
}

// name returns a name no other thing of the fixture has.
func (f *fixture) name(prefix string) string {
	f.n++
	return fmt.Sprintf("%s%d", prefix, f.n)
}

// user creates a user holding ps, whose password is fixturePassword.
func (f *fixture) user(ps ...keyhaven.Permission) *keyhaven.User {
	f.t.Helper()
	pw := fixturePassword
	u, _, err := f.svc.CreateUser(f.ctx, f.admin, keyhaven.CreateUserInput{
		Email: f.name("user") + "@acme.test", Password: &pw, Permissions: names(ps...)})
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// key stores an API key owned by u holding ps and returns it with the principal it
// authenticates as: the key's permissions intersected with u's.
func (f *fixture) key(u *keyhaven.User, ps ...keyhaven.Permission) (*keyhaven.Principal, *keyhaven.Credential) {
	f.t.Helper()
	k := secret.Generate(secret.APIKey)
	c := &keyhaven.Credential{
		ID: keyhaven.NewID("key"), TenantID: f.admin.TenantID, Kind: keyhaven.KindAPIKey, OwnerID: u.ID,
		Name: f.name("key_"), Hash: secret.Hash(k), Display: secret.Display(k), Permissions: perms(ps...),
		Active: true, CreatedAt: f.svc.Now(),
	}
	if err := f.store.CreateCredential(f.ctx, c, nil); err != nil {
		f.t.Fatal(err)
	}
	return f.authenticate(k), c
}

// as returns a principal acting for a new user holding ps, through an API key holding every
// permission: its effective permissions are ps with their implications.
func (f *fixture) as(ps ...keyhaven.Permission) *keyhaven.Principal {
	f.t.Helper()
	p, _ := f.key(f.user(ps...), keyhaven.Permissions...)
	return p
}

// session signs in as the user with email and returns the session's principal and secret.
func (f *fixture) session(email, password string) (*keyhaven.Principal, string) {
	f.t.Helper()
	s, err := f.svc.Login(f.ctx, "acme", email, password)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.authenticate(s.Token), s.Token
}

func (f *fixture) authenticate(secret string) *keyhaven.Principal {
	f.t.Helper()
	p, err := f.svc.Authenticate(f.ctx, keyhaven.Use{Secret: secret})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// application stores an active application created by the user with id createdBy.
func (f *fixture) application(createdBy string) *keyhaven.Application {
	f.t.Helper()
	now := f.svc.Now()
	app := &keyhaven.Application{ID: keyhaven.NewID("app"), TenantID: f.admin.TenantID, Name: f.name("app"),
		CreatedBy: createdBy, CreatedAt: now, UpdatedAt: now}
	if err := f.store.CreateApplication(f.ctx, app, nil); err != nil {
		f.t.Fatal(err)
	}
	return app
}

// accessKey stores an active access key of app owned by the user with id owner, holding READ,
// expiring at expires (never when zero), and returns it with its secret.
func (f *fixture) accessKey(app *keyhaven.Application, owner string, expires time.Time) (*keyhaven.Credential, string) {
	f.t.Helper()
	k := secret.Generate(secret.AccessKey)
	c := &keyhaven.Credential{
		ID: keyhaven.NewID("akey"), TenantID: f.admin.TenantID, Kind: keyhaven.KindAccessKey, OwnerID: owner,
		Name: f.name("akey"), ApplicationID: app.ID, Hash: secret.Hash(k), Display: secret.Display(k),
		Permissions: perms(keyhaven.READ), Active: true, ExpiresAt: expires, CreatedAt: f.svc.Now(),
	}
	if err := f.store.CreateAccessKey(f.ctx, c, f.svc.Now(), nil); err != nil {
		f.t.Fatal(err)
	}
	return c, k
}

// contract creates a contract with the given status, starting and ending that far from now,
// under a new product offering.
func (f *fixture) contract(status keyhaven.ContractStatus, start, end time.Duration) *keyhaven.Contract {
	f.t.Helper()
	o, err := f.svc.CreateProductOffering(f.ctx, f.admin, keyhaven.ProductOfferingInput{Name: "Plain"})
	if err != nil {
		f.t.Fatal(err)
	}
	now := f.svc.Now()
	c, err := f.svc.CreateContract(f.ctx, f.admin, keyhaven.ContractInput{ID: f.name("contract-"), ProductOfferingID: o.ID,
		StartDate: now.Add(start), EndDate: now.Add(end), Status: status})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// access creates an access under a new active contract and gives it status.
func (f *fixture) access(status keyhaven.AccessStatus) *keyhaven.Access {
	f.t.Helper()
	c := f.contract(keyhaven.ContractActive, -time.Hour, 24*time.Hour)
	a, _, err := f.svc.CreateAccess(f.ctx, f.admin, c.ID, keyhaven.AccessInput{})
	if err != nil {
		f.t.Fatal(err)
	}
	if status != a.Status {
		if a, err = f.svc.UpdateAccess(f.ctx, f.admin, a.ID, keyhaven.AccessUpdate{Status: &status}); err != nil {
			f.t.Fatal(err)
		}
	}
	return a
}

// setLimits sets the tenant's limits.
func (f *fixture) setLimits(l keyhaven.Limits) {
	f.t.Helper()
	if err := f.svc.SetTenantLimits(f.ctx, "acme", l); err != nil {
		f.t.Fatal(err)
	}
}

// outcome names err as the tables state it: "ok", the error's code, or "code:reason" when it
// has a more specific reason.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	code, reason := keyhaven.ErrorCode(err), keyhaven.ErrorReason(err)
	if reason == code {
		return code
	}
	return code + ":" + reason
}

// Outcomes the tables expect.
const (
	okay              = "ok"
	notFound          = keyhaven.ENOTFOUND
	invalidInput      = keyhaven.EINVALID + ":invalid_input"
	missingPermission = keyhaven.EFORBIDDEN + ":missing_permission"
	escalation        = keyhaven.EFORBIDDEN + ":permission_escalation"
	limitReached      = keyhaven.ECONFLICT + ":limit_reached"
	unauthorized      = keyhaven.EUNAUTHORIZED + ":invalid_credential"
)

// errNotListed stands for "not in the listing" in tables whose other actions answer
// ENOTFOUND for what the caller may not reach.
var errNotListed = keyhaven.Errorf(keyhaven.ENOTFOUND, "not listed")

// listed returns errNotListed unless id is among the ids of items.
func listed[T any](items []T, err error, id string, idOf func(T) string) error {
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(items, func(it T) bool { return idOf(it) == id }) {
		return errNotListed
	}
	return nil
}
