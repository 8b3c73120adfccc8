package console_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// rawPost sends a form POST over a plain connection, announcing length bytes of body but
// sending only body, and returns the answer: one that needs more of the body than was sent
// never comes, and the test fails at the read deadline. (Announce more than the 256 KiB the
// server itself would discard before answering.)
func rawPost(t *testing.T, e *apitest.Env, path string, length int, body []byte, headers ...string) *http.Response {
	t.Helper()
	u, _ := url.Parse(e.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", path, u.Host, length)
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", headers[i], headers[i+1])
	}
	b.WriteString("\r\n")
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	go conn.Write(body) // the server may stop reading it
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST %s: no answer without the rest of the body: %v", path, err)
	}
	res.Body.Close()
	return res
}

// TestFormBodyLimits posts console forms that must be refused without their bodies being
// read: an unauthenticated or cross-site post is decided on its headers alone, and a form
// larger than a console form may be is refused once the limit is read, not the whole body.
func TestFormBodyLimits(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	session := "kh_session=" + e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
	cookies := session
	const announced = 20 << 20

	for _, s := range []struct {
		name     string
		path     string
		headers  []string
		want     int
		location string
	}{
		{"no session", "/applications", nil, http.StatusSeeOther, "/login"},
		{"unknown session", "/applications", []string{"Cookie", "kh_session=kh_ses_unknown"}, http.StatusSeeOther, "/login"},
		{"cross-site", "/applications", []string{"Cookie", cookies, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, ""},
		{"same-site", "/applications", []string{"Cookie", cookies, "Sec-Fetch-Site", "same-site"}, http.StatusForbidden, ""},
		{"other origin", "/applications", []string{"Cookie", cookies, "Origin", "http://evil.test"}, http.StatusForbidden, ""},
		{"opaque origin", "/applications", []string{"Cookie", cookies, "Origin", "null"}, http.StatusForbidden, ""},
		{"cross-site sign-in", "/login", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, ""},
		{"other origin's sign-in", "/login", []string{"Origin", "http://evil.test"}, http.StatusForbidden, ""},
	} {
		t.Run(s.name, func(t *testing.T) {
			res := rawPost(t, e, s.path, announced, nil, s.headers...)
			if res.StatusCode != s.want {
				t.Fatalf("status %d, want %d", res.StatusCode, s.want)
			}
			if got := res.Header.Get("Location"); got != s.location {
				t.Fatalf("Location %q, want %q", got, s.location)
			}
		})
	}

	t.Run("oversized form", func(t *testing.T) {
		body := []byte("name=" + strings.Repeat("a", 100<<10))
		res := rawPost(t, e, "/applications", announced, body, "Cookie", cookies)
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", res.StatusCode)
		}
	})
	t.Run("oversized sign-in", func(t *testing.T) {
		body := []byte("tenant=acme&email=" + strings.Repeat("a", 100<<10))
		res := rawPost(t, e, "/login", announced, body)
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", res.StatusCode)
		}
	})
	t.Run("same-origin form", func(t *testing.T) {
		body := []byte(url.Values{"name": {"genuine"}}.Encode())
		u, _ := url.Parse(e.URL)
		res := rawPost(t, e, "/applications", len(body), body, "Cookie", cookies, "Sec-Fetch-Site", "same-origin", "Origin", "http://"+u.Host)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/applications" {
			t.Fatalf("status %d to %q, want 303 to /applications", res.StatusCode, res.Header.Get("Location"))
		}
	})
}
