package console_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/node"
)

// visitor is a client that keeps cookies as a browser does (Secure ones only over https) and
// reaches the server at addr under any host name, the way a browser reaches keyhaven behind a
// name of the operator's choosing.
type visitor struct {
	t      *testing.T
	client *http.Client
	base   string
	header http.Header // sent with every request
}

func newVisitor(t *testing.T, addr, base string) *visitor {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &visitor{t: t, base: base, header: http.Header{}, client: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// do sends a request as a browser on the console's own pages would: a form post carries the
// console's origin (and, if the page has one, its CSRF token).
func (v *visitor) do(method, path string, form url.Values) (*http.Response, string) {
	v.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, v.base+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	for k, vs := range v.header {
		req.Header[k] = vs
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if req.Header.Get("Origin") == "" {
			req.Header.Set("Origin", v.base)
		}
	}
	res, err := v.client.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	page := readAll(res)
	res.Body.Close()
	return res, page
}

// signIn loads the sign-in page and posts it, and returns the answer to the post and the
// cookies set along the way.
func (v *visitor) signIn(password string) (*http.Response, []*http.Cookie) {
	v.t.Helper()
	res, page := v.do("GET", "/login", nil)
	if res.StatusCode != http.StatusOK {
		v.t.Fatalf("GET /login: %d", res.StatusCode)
	}
	cookies := res.Cookies()
	form := url.Values{"tenant": {"acme"}, "email": {"admin@acme.test"}, "password": {password}}
	if m := csrfField.FindStringSubmatch(page); m != nil {
		form.Set("csrf", m[1])
	}
	res, page = v.do("POST", "/login", form)
	if res.StatusCode != http.StatusSeeOther {
		v.t.Fatalf("sign-in: status %d, want 303: %s", res.StatusCode, page)
	}
	return res, append(cookies, res.Cookies()...)
}

// TestConsoleOverPlainHTTP signs in at http://keyhaven.internal: no cookie is Secure (a
// browser would drop it), and the session works from there on. The client's own
// X-Forwarded-Proto is not believed: it is no trusted proxy.
func TestConsoleOverPlainHTTP(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	u, _ := url.Parse(e.URL)
	v := newVisitor(t, u.Host, "http://keyhaven.internal:"+u.Port())
	v.header.Set("X-Forwarded-Proto", "https")
	if res, _ := v.do("GET", "/login", nil); res.Header.Get("Referrer-Policy") != "same-origin" {
		// With no-referrer, a browser posts over plain HTTP with Origin: null, and no form holds.
		t.Errorf("Referrer-Policy %q, want same-origin", res.Header.Get("Referrer-Policy"))
	}
	res, cookies := v.signIn(e.Acme.AdminPassword)
	if res.Header.Get("Location") != "/" {
		t.Fatalf("sign-in went to %q, want / (which leads on by permission)", res.Header.Get("Location"))
	}
	for _, c := range cookies {
		if c.Secure {
			t.Errorf("cookie %s is Secure over plain HTTP", c.Name)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %s: HttpOnly %v, SameSite %v, want HttpOnly and Strict", c.Name, c.HttpOnly, c.SameSite)
		}
	}
	if res, page := v.do("GET", "/applications", nil); res.StatusCode != http.StatusOK || !strings.Contains(page, "Sign out") {
		t.Fatalf("GET /applications after signing in: %d", res.StatusCode)
	}
	if res, page := v.do("POST", "/applications", url.Values{"name": {"from plain http"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /applications: %d: %s", res.StatusCode, page)
	}
	if res, _ := v.do("POST", "/logout", url.Values{}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("sign out: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := v.do("GET", "/applications", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET /applications after signing out: %d, want 303 to /login", res.StatusCode)
	}
}

// TestConsoleCookiesSecureOverTLS: cookies are Secure when the browser reached keyhaven over
// TLS, directly or through a trusted proxy that says so.
func TestConsoleCookiesSecureOverTLS(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e := apitest.NewBehind(t, testdb.SQLite, trusted...)
	tlsSrv := httptest.NewTLSServer(e.Node.Handler)
	t.Cleanup(tlsSrv.Close)
	plain, _ := url.Parse(e.URL)
	secure, _ := url.Parse(tlsSrv.URL)

	proxied := newVisitor(t, plain.Host, "http://keyhaven.internal:"+plain.Port())
	proxied.header.Set("X-Forwarded-Proto", "https")
	for name, v := range map[string]*visitor{
		"direct TLS":           newVisitor(t, secure.Host, "https://keyhaven.internal:"+secure.Port()),
		"trusted proxy's TLS ": proxied,
	} {
		t.Run(name, func(t *testing.T) {
			v.t = t
			_, cookies := v.signIn(e.Acme.AdminPassword)
			if len(cookies) == 0 {
				t.Fatal("no cookie set")
			}
			for _, c := range cookies {
				if !c.Secure {
					t.Errorf("cookie %s is not Secure", c.Name)
				}
			}
		})
	}
}

// TestPublicURL: an https public URL makes cookies Secure even over the plain HTTP a proxy in
// front passes on, and its origin may post forms whatever Host the proxy sends; an http one
// changes nothing.
func TestPublicURL(t *testing.T) {
	for _, s := range []struct {
		public string
		secure bool
	}{{"https://keyhaven.example.com", true}, {"http://keyhaven.example.com", false}} {
		t.Run(s.public, func(t *testing.T) {
			public, _ := url.Parse(s.public)
			e := apitest.NewNode(t, testdb.SQLite, func(c *node.Config) { c.PublicURL = public })
			u, _ := url.Parse(e.URL)
			v := newVisitor(t, u.Host, "http://"+u.Host)
			v.header.Set("Origin", s.public) // set by the browser; the proxy passes its own Host
			_, cookies := v.signIn(e.Acme.AdminPassword)
			if len(cookies) == 0 {
				t.Fatal("no cookie set")
			}
			for _, c := range cookies {
				if c.Secure != s.secure {
					t.Errorf("cookie %s: Secure %v, want %v", c.Name, c.Secure, s.secure)
				}
			}
		})
	}
}
