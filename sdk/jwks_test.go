package sdk_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"keyhaven.dev/keyhaven/sdk"
)

// issuerKeys stands for a tenant's token signing: it mints access tokens per the wire format
// and serves the JWK Set of the keys it publishes, counting the fetches.
type issuerKeys struct {
	srv *httptest.Server
	mu  sync.Mutex
	pub []jose.JSONWebKey
	n   int
}

func newIssuerKeys(t testing.TB) *issuerKeys {
	k := &issuerKeys{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/acme/oauth2/jwks.json" {
			http.NotFound(w, r)
			return
		}
		k.mu.Lock()
		k.n++
		set := jose.JSONWebKeySet{Keys: slices.Clone(k.pub)}
		k.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *issuerKeys) fetches() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

func (k *issuerKeys) issuer(tenant string) string { return k.srv.URL + "/api/" + tenant }

// signingKey is a private key and its id.
type signingKey struct {
	jwk jose.JSONWebKey
}

// newKey makes a key of alg named kid.
func newKey(t testing.TB, alg jose.SignatureAlgorithm, kid string) signingKey {
	t.Helper()
	var priv any
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(alg), Use: "sig"}}
}

// publish adds the public part of key to the JWK Set.
func (k *issuerKeys) publish(key signingKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pub = append(k.pub, key.jwk.Public())
}

// token mints an access token signed with key, of typ, with the claims of the wire format
// for issuer iss, living from iat for lifetime; change alters the claims before signing.
func token(t testing.TB, key signingKey, typ, iss string, iat time.Time, lifetime time.Duration, change func(map[string]any)) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.jwk.Algorithm), Key: key.jwk},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{
		"iss": iss, "aud": iss, "sub": "key-1", "client_id": "key-1",
		"exp": iat.Add(lifetime).Unix(), "iat": iat.Unix(), "nbf": iat.Unix(), "jti": rand.Text(),
		"scope": "READ WRITE", "tenant": "acme", "kind": "access_key", "owner": "user-1",
		"meta": map[string]any{"plan": "gold"},
	}
	if change != nil {
		change(claims)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMiddlewareAccessTokens(t *testing.T) {
	keys := newIssuerKeys(t)
	es, ed := newKey(t, jose.ES256, "es-1"), newKey(t, jose.EdDSA, "ed-1")
	keys.publish(es)
	keys.publish(ed)
	clk := newClock()
	mw := sdk.NewMiddleware(keys.srv.URL, sdk.WithTenant("acme"), sdk.WithClock(clk.Now))
	service := mw.Handler(echo)
	iss := keys.issuer("acme")

	t.Run("fresh tokens are verified offline after the first fetch", func(t *testing.T) {
		for range 5 {
			for _, key := range []signingKey{es, ed} {
				a := call(t, service, token(t, key, "at+jwt", iss, clk.Now(), 5*time.Minute, nil))
				if a.Status != http.StatusOK {
					t.Fatalf("%s: got %d %s, want 200", key.jwk.Algorithm, a.Status, a.Problem.Code)
				}
				v := a.Verdict
				if !v.Valid || v.Code != "VALID" || v.Tenant != "acme" || v.Kind != "access_key" || v.ID != "key-1" || v.Owner != "user-1" ||
					!slices.Equal(v.Permissions, []string{"READ", "WRITE"}) || string(v.Meta) != `{"plan":"gold"}` ||
					!v.ExpiresAt.Equal(clk.Now().Add(5*time.Minute)) {
					t.Errorf("got verdict %+v (meta %s), want the token's claims", v, v.Meta)
				}
			}
		}
		if got := keys.fetches(); got != 1 {
			t.Errorf("got %d fetches of the JWK Set for 10 tokens, want 1", got)
		}
	})

	t.Run("a token without meta has {}", func(t *testing.T) {
		a := call(t, service, token(t, es, "at+jwt", iss, clk.Now(), time.Minute, func(c map[string]any) { delete(c, "meta") }))
		if a.Status != http.StatusOK || string(a.Verdict.Meta) != "{}" {
			t.Errorf("got %d with meta %s, want 200 with {}", a.Status, a.Verdict.Meta)
		}
	})

	t.Run("a required permission outside the scope is forbidden", func(t *testing.T) {
		tok := token(t, es, "at+jwt", iss, clk.Now(), time.Minute, func(c map[string]any) { c["scope"] = "READ" })
		mustRefuse(t, call(t, mw.Require("READ", "WRITE")(echo), tok), http.StatusForbidden, "INSUFFICIENT_PERMISSIONS")
	})

	forged := newKey(t, jose.ES256, "es-1") // the id of a published key, not its key
	refused := []struct {
		name, token, code string
	}{
		{"expired", token(t, es, "at+jwt", iss, clk.Now().Add(-time.Hour), 5*time.Minute, nil), "EXPIRED"},
		{"forged", token(t, forged, "at+jwt", iss, clk.Now(), time.Minute, nil), "INVALID_TOKEN"},
		{"another tenant's issuer", token(t, es, "at+jwt", keys.issuer("globex"), clk.Now(), time.Minute, nil), "INVALID_TOKEN"},
		{"another audience", token(t, es, "at+jwt", iss, clk.Now(), time.Minute, func(c map[string]any) { c["aud"] = "https://elsewhere" }), "INVALID_TOKEN"},
		{"another tenant's claim", token(t, es, "at+jwt", iss, clk.Now(), time.Minute, func(c map[string]any) { c["tenant"] = "globex" }), "INVALID_TOKEN"},
		{"typ JWT", token(t, es, "JWT", iss, clk.Now(), time.Minute, nil), "INVALID_TOKEN"},
		{"not yet valid", token(t, es, "at+jwt", iss, clk.Now().Add(time.Hour), time.Hour, nil), "INVALID_TOKEN"},
		{"without exp", token(t, es, "at+jwt", iss, clk.Now(), time.Minute, func(c map[string]any) { delete(c, "exp") }), "INVALID_TOKEN"},
		{"signed with HS256", hs256(t, iss), "INVALID_TOKEN"},
		{"not a JWS", "eyJh.eyJh.c2ln", "INVALID_TOKEN"},
	}
	for _, c := range refused {
		t.Run("refused: "+c.name, func(t *testing.T) {
			mustRefuse(t, call(t, service, c.token), http.StatusUnauthorized, c.code)
		})
	}

	t.Run("a token within the leeway of its exp is accepted", func(t *testing.T) {
		tok := token(t, es, "at+jwt", iss, clk.Now().Add(-5*time.Minute-sdk.DefaultLeeway/2), 5*time.Minute, nil)
		if a := call(t, service, tok); a.Status != http.StatusOK {
			t.Errorf("got %d %s, want 200", a.Status, a.Problem.Code)
		}
	})

	t.Run("a rotated key is fetched on its unknown kid", func(t *testing.T) {
		clk.Advance(sdk.DefaultRefreshInterval)
		before := keys.fetches()
		rotated := newKey(t, jose.ES256, "es-2")
		keys.publish(rotated)
		tok := token(t, rotated, "at+jwt", iss, clk.Now(), time.Minute, nil)
		if a := call(t, service, tok); a.Status != http.StatusOK {
			t.Fatalf("got %d %s, want 200", a.Status, a.Problem.Code)
		}
		call(t, service, tok)
		if got := keys.fetches() - before; got != 1 {
			t.Errorf("got %d fetches for the rotated key, want 1", got)
		}
	})

	t.Run("a flood of unknown kids fetches at most once per interval", func(t *testing.T) {
		clk.Advance(sdk.DefaultRefreshInterval)
		before := keys.fetches()
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				stranger := newKey(t, jose.EdDSA, fmt.Sprintf("forged-%d", i))
				a := call(t, service, token(t, stranger, "at+jwt", iss, clk.Now(), time.Minute, nil))
				if a.Status != http.StatusUnauthorized {
					t.Errorf("forged kid %d: got %d, want 401", i, a.Status)
				}
			})
		}
		wg.Wait()
		if got := keys.fetches() - before; got != 1 {
			t.Errorf("got %d fetches for 200 unknown kids within one interval, want 1", got)
		}
	})

	t.Run("the set is fetched again once its max-age passed", func(t *testing.T) {
		before := keys.fetches()
		clk.Advance(300 * time.Second)
		call(t, service, token(t, es, "at+jwt", iss, clk.Now(), time.Minute, nil))
		if got := keys.fetches() - before; got != 1 {
			t.Errorf("got %d fetches past the max-age, want 1", got)
		}
	})
}

// hs256 is a token signed with a shared secret, an algorithm keyhaven never signs with.
func hs256(t testing.TB, iss string) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "es-1"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(map[string]any{"iss": iss, "aud": iss, "exp": time.Now().Add(time.Minute).Unix(), "tenant": "acme"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccessTokensWithoutTheJWKSet(t *testing.T) {
	keys := newIssuerKeys(t)
	es := newKey(t, jose.ES256, "es-1")
	keys.srv.Close()
	mw := sdk.NewMiddleware(keys.srv.URL, sdk.WithTenant("acme"))
	tok := token(t, es, "at+jwt", keys.issuer("acme"), time.Now(), time.Minute, nil)
	mustRefuse(t, call(t, mw.Handler(echo), tok), http.StatusServiceUnavailable, "UNAVAILABLE")
}

func TestPublicURLNamesTheIssuer(t *testing.T) {
	keys := newIssuerKeys(t)
	es := newKey(t, jose.ES256, "es-1")
	keys.publish(es)
	v := sdk.NewJWKSVerifier(keys.srv.URL, "acme", sdk.WithPublicURL("https://keys.example.com/"))
	if got, want := v.Issuer(), "https://keys.example.com/api/acme"; got != want {
		t.Fatalf("got issuer %q, want %q", got, want)
	}
	for _, c := range []struct {
		iss  string
		want string
	}{{"https://keys.example.com/api/acme", "VALID"}, {keys.issuer("acme"), "INVALID_TOKEN"}} {
		got, err := v.Verify(context.Background(), token(t, es, "at+jwt", c.iss, time.Now(), time.Minute, nil))
		if err != nil || got.Code != c.want {
			t.Errorf("issuer %s: got %+v, %v, want %s", c.iss, got, err, c.want)
		}
	}
}

// BenchmarkOfflineVerify measures the verification of one access token with a JWK Set
// already fetched; run it with -cpu 1 for one core's rate.
func BenchmarkOfflineVerify(b *testing.B) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA} {
		// "signature" checks the signature every time (the cache off): a token's first
		// verification; "seen" is every later one of the same token.
		for _, mode := range []string{"signature", "seen"} {
			b.Run(string(alg)+"/"+mode, func(b *testing.B) {
				keys := newIssuerKeys(b)
				key := newKey(b, alg, "k")
				keys.publish(key)
				var opts []sdk.Option
				if mode == "signature" {
					opts = append(opts, sdk.WithCache(0, 0))
				}
				v := sdk.NewJWKSVerifier(keys.srv.URL, "acme", opts...)
				tok := token(b, key, "at+jwt", keys.issuer("acme"), time.Now(), time.Hour, nil)
				ctx := context.Background()
				if got, err := v.Verify(ctx, tok); err != nil || !got.Valid {
					b.Fatalf("got %+v, %v, want valid", got, err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if got, _ := v.Verify(ctx, tok); !got.Valid {
						b.Fatal("refused")
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
			})
		}
	}
}
