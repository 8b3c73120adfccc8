package keyhaven_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// grantWorld is a tenant in which an adversary starts with one session of a user M holding
// a random set of permissions, and acts only with credentials it obtains from there: the
// users it creates (whose passwords it chose), the API keys and access keys it makes.
type grantWorld struct {
	t       testing.TB
	svc     *keyhaven.Service
	store   keyhaven.Store
	ctx     context.Context
	tenant  string
	initial keyhaven.PermissionSet // M's permissions at the start, implications applied
	secrets []string               // every credential the adversary holds
	users   []string               // ids of the users the adversary may aim at
	emails  map[string]string      // the adversary's users' emails, by id
	keys    []string               // names of API keys in the tenant
	apps    []string               // ids of applications
	admin   *keyhaven.Principal
}

const grantPassword = "chosen-by-the-adversary"

func newGrantWorld(t testing.TB, r *rand.Rand) *grantWorld {
	store := testdb.SQLite(t)
	svc := keyhaven.NewService(store, slog.New(slog.DiscardHandler))
	svc.PasswordParams = secret.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	svc.Sealer, _ = secret.NewSealer(must(secret.ParseKey(secret.NewKey())))
	ctx := context.Background()
	tc, err := svc.CreateTenant(ctx, "acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	w := &grantWorld{t: t, svc: svc, store: store, ctx: ctx, tenant: "acme", emails: map[string]string{}}
	w.admin, err = svc.Authenticate(ctx, keyhaven.Use{Secret: tc.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	w.users = append(w.users, w.admin.UserID)
	// M holds USER_MANAGEMENT and KEY_MANAGEMENT often enough to try everything, and a random
	// rest.
	perms := randomPerms(r)
	if r.IntN(4) > 0 {
		perms = append(perms, string(keyhaven.USER_MANAGEMENT), string(keyhaven.KEY_MANAGEMENT))
	}
	pw := grantPassword
	m, _, err := svc.CreateUser(ctx, w.admin, keyhaven.CreateUserInput{Email: "m@acme.test", Password: &pw, Permissions: perms})
	if err != nil {
		t.Fatal(err)
	}
	w.initial = m.Permissions.Expand()
	w.users = append(w.users, m.ID)
	w.emails[m.ID] = m.Email
	w.login(m.Email)
	// Other users and keys the adversary may aim at but does not hold.
	for i := range 2 {
		u, _, err := svc.CreateUser(ctx, w.admin, keyhaven.CreateUserInput{Email: fmt.Sprintf("other%d@acme.test", i), Permissions: randomPerms(r)})
		if err != nil {
			t.Fatal(err)
		}
		w.users = append(w.users, u.ID)
	}
	w.keys = append(w.keys, "bootstrap")
	app, err := svc.CreateApplication(ctx, w.admin, keyhaven.ApplicationInput{Name: ptr("admins")})
	if err != nil {
		t.Fatal(err)
	}
	w.apps = append(w.apps, app.ID)
	return w
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

func randomPerms(r *rand.Rand) []string {
	var out []string
	for _, p := range keyhaven.Permissions {
		if r.IntN(3) == 0 {
			out = append(out, string(p))
		}
	}
	return out
}

func randomSubset(r *rand.Rand, s keyhaven.PermissionSet) []string {
	var out []string
	for _, p := range s.List() {
		if r.IntN(2) == 0 {
			out = append(out, string(p))
		}
	}
	return out
}

func (w *grantWorld) login(email string) string {
	s, err := w.svc.Login(w.ctx, w.tenant, email, grantPassword)
	if err != nil {
		return ""
	}
	w.secrets = append(w.secrets, s.Token)
	return s.Token
}

// step has a random credential of the adversary make a random call, and checks that what
// it granted was held by the calling credential.
func (w *grantWorld) step(r *rand.Rand) {
	p, err := w.svc.Authenticate(w.ctx, keyhaven.Use{Secret: w.secrets[r.IntN(len(w.secrets))]})
	if err != nil {
		return // revoked, deleted or narrowed away: try another
	}
	held := p.Permissions.Expand()
	granted := func(what string, got keyhaven.PermissionSet) {
		if missing := got.Missing(held); missing != 0 {
			w.t.Fatalf("%s granted %v, which the calling credential (%v) did not hold", what, missing.Strings(), held.Strings())
		}
	}
	// Mostly a subset of what the caller holds, so that calls succeed and the world grows;
	// sometimes anything, to try to grant more.
	perms := randomPerms(r)
	if r.IntN(4) > 0 {
		perms = randomSubset(r, held)
	}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	switch r.IntN(8) {
	case 0:
		pw := grantPassword
		email := fmt.Sprintf("u%d@acme.test", r.Uint64())
		if u, _, err := w.svc.CreateUser(w.ctx, p, keyhaven.CreateUserInput{Email: email, Password: &pw, Permissions: perms}); err == nil {
			granted("CreateUser", u.Permissions)
			w.users = append(w.users, u.ID)
			w.emails[u.ID] = email
			w.login(email)
		}
	case 1:
		if u, err := w.svc.UpdateUser(w.ctx, p, pick(w.users), keyhaven.UpdateUserInput{Permissions: &perms}); err == nil {
			granted("UpdateUser", u.Permissions)
		}
	case 2:
		// Re-password someone, then try to sign in as them with it.
		id, pw := pick(w.users), grantPassword
		cur := grantPassword
		in := keyhaven.UpdateUserInput{Password: &pw}
		if id == p.UserID {
			in.CurrentPassword = &cur
		}
		if _, err := w.svc.UpdateUser(w.ctx, p, id, in); err == nil {
			// Setting a password grants a session holding the user's permissions.
			if tok := w.loginAs(id); tok != "" {
				s, err := w.svc.Authenticate(w.ctx, keyhaven.Use{Secret: tok})
				if err != nil {
					w.t.Fatal(err)
				}
				granted("UpdateUser(password)", s.Permissions)
			}
		}
	case 3:
		w.svc.DeleteUser(w.ctx, p, pick(w.users))
	case 4:
		name := fmt.Sprintf("K%d", r.Uint64())
		if c, key, err := w.svc.CreateAPIKey(w.ctx, p, keyhaven.APIKeyInput{Name: name, Permissions: perms}); err == nil {
			granted("CreateAPIKey", c.Permissions)
			w.secrets = append(w.secrets, key)
			w.keys = append(w.keys, name)
		}
	case 5:
		name := pick(w.keys)
		before, err := w.store.APIKeyByName(w.ctx, w.admin.TenantID, name, w.svc.Now())
		if err != nil {
			return
		}
		if c, err := w.svc.UpdateAPIKey(w.ctx, p, name, keyhaven.APIKeyUpdate{Permissions: &perms}); err == nil {
			granted("UpdateAPIKey", c.Permissions)
			// A key is raised only within what its owner holds, whoever edits it.
			owner, err := w.store.User(w.ctx, w.admin.TenantID, c.OwnerID)
			if err != nil {
				w.t.Fatal(err)
			}
			if missing := (c.Permissions &^ before.Permissions).Missing(owner.Permissions); missing != 0 {
				w.t.Fatalf("UpdateAPIKey raised a key to %v, which its owner does not hold", missing.Strings())
			}
		}
	case 6:
		if app, err := w.svc.CreateApplication(w.ctx, p, keyhaven.ApplicationInput{Name: ptr(fmt.Sprintf("a%d", r.Uint64()))}); err == nil {
			w.apps = append(w.apps, app.ID)
		}
	case 7:
		if c, key, err := w.svc.CreateAccessKey(w.ctx, p, pick(w.apps), keyhaven.AccessKeyInput{Name: "k", Scopes: perms}); err == nil {
			granted("CreateAccessKey", c.Permissions)
			w.secrets = append(w.secrets, key)
		}
	}
}

// loginAs signs in as a user with the adversary's password and returns the session's secret.
func (w *grantWorld) loginAs(id string) string {
	u, err := w.store.User(w.ctx, w.admin.TenantID, id)
	if err != nil {
		return ""
	}
	return w.login(u.Email)
}

// check asserts the invariant: nothing the adversary holds or made holds a permission M did
// not hold at the start, and the admin, whom it never held, keeps every permission.
func (w *grantWorld) check() {
	for _, sec := range w.secrets {
		p, err := w.svc.Authenticate(w.ctx, keyhaven.Use{Secret: sec})
		if err != nil {
			continue
		}
		if missing := p.Permissions.Missing(w.initial); missing != 0 {
			w.t.Fatalf("a %s the adversary holds has %v, beyond what it started with (%v)", p.Kind, missing.Strings(), w.initial.Strings())
		}
	}
	for id := range w.emails {
		u, err := w.store.User(w.ctx, w.admin.TenantID, id)
		if err != nil {
			continue
		}
		if missing := u.Permissions.Missing(w.initial); missing != 0 {
			w.t.Fatalf("user %s made by the adversary holds %v", u.Email, missing.Strings())
		}
	}
	admin, err := w.store.User(w.ctx, w.admin.TenantID, w.admin.UserID)
	if err != nil || admin.Permissions != keyhaven.AllPermissions {
		w.t.Fatalf("the admin was changed by the adversary: %+v, %v", admin, err)
	}
}

// runGrants plays steps random calls from seed and checks the invariant after each.
func runGrants(t testing.TB, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := newGrantWorld(t, r)
	for range steps {
		w.step(r)
		w.check()
	}
}

// TestGrantRulesHold is the property test of the grant rules: from random starting
// permissions, random sequences of calls by every credential the adversary can obtain never
// end with a user or credential holding a permission its grantor did not hold.
func TestGrantRulesHold(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			runGrants(t, seed, 150)
		})
	}
}

// FuzzGrantRules explores the same property from fuzzed seeds: go test -fuzz=FuzzGrantRules.
func FuzzGrantRules(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { runGrants(t, seed, 30) })
}
