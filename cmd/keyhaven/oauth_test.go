package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2/clientcredentials"

	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

func postForm(t *testing.T, u, bearer string, v url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+bearer)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if res.StatusCode != 200 || json.Unmarshal(b, &m) != nil {
		t.Fatalf("POST %s: %d %s", u, res.StatusCode, b)
	}
	return m
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

// TestAccessTokensAcrossNodes: a token issued by one node is judged by another at once, a
// credential revoked on one node makes introspection on the other say inactive within a
// second, and a signing key rotated by the command line while the nodes run signs their
// tokens within seconds.
func TestAccessTokensAcrossNodes(t *testing.T) {
	db := testdb.PostgresDSN(t)
	// Nodes behind one load balancer share the public URL, and so the issuer.
	const public = "https://keyhaven.example.com"
	pa := start(t, "--db", db, "--public-url", public)
	a := pa.addr()
	admin := field(pa.output(), "bootstrap key")
	b := start(t, "--db", db, "--public-url", public).addr()
	api := a + "/api/default"
	app := jsonField(t, mustRequest(t, "POST", api+"/applications", admin, `{"name":"app"}`, 201), "id")
	body := mustRequest(t, "POST", api+"/applications/"+app+"/access-keys", admin, `{"name":"k","scopes":["READ"]}`, 201)
	id, key := jsonField(t, body, "id"), jsonField(t, body, "key")

	cfg := clientcredentials.Config{ClientID: id, ClientSecret: key, TokenURL: api + "/oauth2/token"}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v := verifyOn(t, b, tok.AccessToken); v.Code != "VALID" {
		t.Fatalf("verify on the other node: %+v", v)
	}
	introspectB := func() map[string]any {
		return postForm(t, b+"/api/default/oauth2/introspect", admin, url.Values{"token": {tok.AccessToken}})
	}
	if in := introspectB(); in["active"] != true || in["sub"] != id || in["iss"] != public+"/api/default" {
		t.Fatalf("introspect on the other node: %v", in)
	}

	// The command line rotates the signing key beside the running nodes.
	before := kidOf(t, tok.AccessToken)
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"tenant", "rotate-signing-key", "default", "--db", db, "--secret-key", clusterKey, "--output", "json"},
		func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("rotate-signing-key: %v %s", err, errb.String())
	}
	newKid := jsonField(t, out.String(), "kid")
	if newKid == "" || newKid == before {
		t.Fatalf("rotate-signing-key printed %s", out.String())
	}
	for _, node := range []string{a, b} {
		c := cfg
		c.TokenURL = node + "/api/default/oauth2/token"
		eventually.Within(t, 5*time.Second, func() error {
			next, err := c.Token(context.Background())
			if err != nil {
				return err
			}
			if got := kidOf(t, next.AccessToken); got != newKid {
				return fmt.Errorf("%s signs with %s, want %s", node, got, newKid)
			}
			return nil
		})
	}
	// The token of the old key still verifies.
	if v := verifyOn(t, b, tok.AccessToken); v.Code != "VALID" {
		t.Fatalf("verify a token of the retired key: %+v", v)
	}

	mustRequest(t, "POST", api+"/applications/"+app+"/access-keys/"+id+"/revoke", admin, "", 200)
	eventually.Within(t, time.Second, func() error {
		if in := introspectB(); in["active"] != false {
			return errors.New("the other node still says the token is active")
		}
		return nil
	})
	if v := verifyOn(t, b, tok.AccessToken); v.Code != "REVOKED" {
		t.Fatalf("verify on the other node after revocation: %+v", v)
	}
}
