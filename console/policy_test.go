package console_test

import (
	"fmt"
	htmlstd "html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// consoleVisitor returns a visitor signed in to e's console as acme's admin.
func consoleVisitor(t *testing.T, e *apitest.Env) *visitor {
	t.Helper()
	u, _ := url.Parse(e.URL)
	v := newVisitor(t, u.Host, e.URL)
	v.signIn(e.Acme.AdminPassword)
	return v
}

// shown follows the redirect of a form that made a secret to the page that shows it once
// (post-redirect-get), and returns that page; any other answer is returned as it is.
func (v *visitor) shown(res *http.Response, page string) (*http.Response, string) {
	v.t.Helper()
	if loc := res.Header.Get("Location"); res.StatusCode == http.StatusSeeOther && strings.HasPrefix(loc, "/created/") {
		return v.do("GET", loc, nil)
	}
	return res, page
}

var secretValue = regexp.MustCompile(`id="secret-value">([^<]*)<`)

// shownSecret returns the secret a page shows once, or fails.
func shownSecret(t *testing.T, page string) string {
	t.Helper()
	m := secretValue.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page shows no secret: %s", page)
	}
	return strings.TrimSpace(m[1])
}

var (
	formInput    = regexp.MustCompile(`<input [^>]*>`)
	formTextarea = regexp.MustCompile(`(?s)<textarea [^>]*name="([^"]*)"[^>]*>(.*?)</textarea>`)
	formSelect   = regexp.MustCompile(`(?s)<select [^>]*name="([^"]*)"[^>]*>(.*?)</select>`)
	formOption   = regexp.MustCompile(`<option(?: value="([^"]*)")?( selected)?>([^<]*)</option>`)
	attr         = func(tag, name string) (string, bool) {
		m := regexp.MustCompile(` ` + name + `(?:="([^"]*)")?[ >]`).FindStringSubmatch(tag)
		if m == nil {
			return "", false
		}
		return htmlstd.UnescapeString(m[1]), true
	}
)

// formOf returns what a browser would post from the page's main form as it was loaded.
func formOf(page string) url.Values {
	_, page, _ = strings.Cut(page, "<main>")
	f := url.Values{}
	for _, tag := range formInput.FindAllString(page, -1) {
		name, _ := attr(tag, "name")
		typ, _ := attr(tag, "type")
		value, _ := attr(tag, "value")
		_, checked := attr(tag, "checked")
		if name == "" || (typ == "checkbox" && !checked) {
			continue
		}
		f.Add(name, value)
	}
	for _, m := range formTextarea.FindAllStringSubmatch(page, -1) {
		// A browser reads a textarea's lines ending in LF, and sends them ending in CRLF.
		text := strings.ReplaceAll(htmlstd.UnescapeString(m[2]), "\r\n", "\n")
		f.Add(m[1], strings.ReplaceAll(text, "\n", "\r\n"))
	}
	for _, m := range formSelect.FindAllStringSubmatch(page, -1) {
		options := formOption.FindAllStringSubmatch(m[2], -1)
		pick := options[0]
		for _, o := range options {
			if o[2] != "" {
				pick = o
			}
		}
		value := pick[1]
		if value == "" {
			value = pick[3]
		}
		f.Add(m[1], htmlstd.UnescapeString(value))
	}
	return f
}

// verify asks POST /api/verify about key from ip and returns the answer's code.
func verify(t *testing.T, e *apitest.Env, key, ip string) string {
	t.Helper()
	r := e.Do("POST", "/api/verify", "", map[string]any{"key": key, "ip": ip})
	if r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	return r.JSON()["code"].(string)
}

// policyForm is a form that sets every policy.
func policyForm(more url.Values) url.Values {
	f := url.Values{
		"ipAllowlist":             {"10.0.0.0/8\r\n192.0.2.7, 2001:db8::/32"},
		"rateLimit.limit":         {"100"},
		"rateLimit.periodSeconds": {"60"},
		"credits.remaining":       {"500"},
		"credits.refill.amount":   {"1000"},
		"credits.refill.interval": {"DAILY"},
		"meta":                    {`{"plan": "gold", "note": "<b>bold</b>"}`},
	}
	for k, vs := range more {
		f[k] = vs
	}
	return f
}

// keyKind is one kind of key as the console makes it: API keys and access keys have the
// same policy forms at different paths.
type keyKind struct {
	name string
	// create posts the new key's form and returns the answer (the page showing the new
	// secret, once the form's redirect is followed) and the path of the key's page.
	create func(t *testing.T, v *visitor, name string, form url.Values) (*http.Response, string, string)
}

func keyKinds(t *testing.T, e *apitest.Env) []keyKind {
	app := createApp(t, e, e.Acme.APIKey, "policies")
	return []keyKind{
		{"API key", func(t *testing.T, v *visitor, name string, form url.Values) (*http.Response, string, string) {
			t.Helper()
			form.Set("name", name)
			form.Set("permissions", "READ")
			form.Set("active", "true")
			res, page := v.shown(v.do("POST", "/api-keys", form))
			return res, page, "/api-keys/" + name
		}},
		{"access key", func(t *testing.T, v *visitor, name string, form url.Values) (*http.Response, string, string) {
			t.Helper()
			form.Set("name", name)
			form.Set("scopes", "READ")
			res, page := v.shown(v.do("POST", "/applications/"+app+"/access-keys", form))
			if res.StatusCode != http.StatusOK {
				return res, page, ""
			}
			_, list := v.do("GET", "/applications/"+app+"/access-keys", nil)
			m := regexp.MustCompile(`href="(/applications/` + app + `/access-keys/akey_[^"/]*)">` + regexp.QuoteMeta(name) + `<`).FindStringSubmatch(list)
			if m == nil {
				t.Fatalf("the access keys tab links no page of %s: %s", name, list)
			}
			return res, page, m[1]
		}},
	}
}

// TestKeyPoliciesFromTheForm creates an API key and an access key with every policy through
// the console's forms, and finds each on the key's page: the allowlist, the rate limit, the
// credits the service's clock says remain and their refill, the metadata indented and
// escaped, and the last use.
func TestKeyPoliciesFromTheForm(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testKeyPoliciesFromTheForm(t, apitest.New(t, open)) })
	}
}

func testKeyPoliciesFromTheForm(t *testing.T, e *apitest.Env) {
	v := consoleVisitor(t, e)
	var paths []string
	for i, kind := range keyKinds(t, e) {
		t.Run(kind.name, func(t *testing.T) {
			res, page, path := kind.create(t, v, fmt.Sprintf("with_policies_%d", i), policyForm(nil))
			paths = append(paths, path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("create: %d: %s", res.StatusCode, page)
			}
			key := shownSecret(t, page)
			res, page = v.do("GET", path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", path, res.StatusCode)
			}
			for _, want := range []string{
				"<code>10.0.0.0/8</code>", "<code>192.0.2.7</code>", "<code>2001:db8::/32</code>",
				`id="view-rate-limit">100 per minute<`,
				`id="view-credits">500 remaining; refilled to 1000 every day (UTC)<`,
				"{\n  &#34;plan&#34;: &#34;gold&#34;,\n  &#34;note&#34;: &#34;\\u003cb\\u003ebold\\u003c/b\\u003e&#34;\n}",
				`id="last-used">Never<`,
			} {
				if !strings.Contains(page, want) {
					t.Errorf("the key's page lacks %q", want)
				}
			}
			if strings.Contains(page, "<b>bold") || strings.Contains(page, key) {
				t.Error("the key's page shows the metadata unescaped, or the secret")
			}
			// The page names the client id the token endpoint takes with the key: its id.
			clientID := regexp.MustCompile(`id="client-id">([^<]+)<`).FindStringSubmatch(page)
			verdict := e.Do("POST", "/api/verify", "", map[string]any{"key": key, "ip": "10.1.2.3", "cost": 0}).JSON()
			if clientID == nil || clientID[1] != verdict["id"] {
				t.Errorf("the key's page shows client id %v, verify says the key's id is %v", clientID, verdict["id"])
			}

			// The key works as its policies say, and its page follows its use.
			if code := verify(t, e, key, "10.1.2.3"); code != "VALID" {
				t.Fatalf("verify from the allowlist: %s", code)
			}
			if code := verify(t, e, key, "203.0.113.9"); code != "IP_NOT_ALLOWED" {
				t.Fatalf("verify from elsewhere: %s", code)
			}
			if _, page := v.do("GET", path, nil); !strings.Contains(page, `id="view-credits">499 remaining;`) {
				t.Errorf("after a verification the page does not show 499 credits")
			}
			eventually.Within(t, 10*time.Second, func() error {
				e.Clock.Advance(apitest.UsageInterval)
				if _, page := v.do("GET", path, nil); strings.Contains(page, `id="last-used">Never<`) {
					return fmt.Errorf("the last use is not shown")
				}
				return nil
			})
		})
	}
	// A new day refills the credits: the pages show them as the service's clock has them.
	e.Clock.Advance(24 * time.Hour)
	v.signIn(e.Acme.AdminPassword) // the session has ended by then
	for _, path := range paths {
		if _, page := v.do("GET", path, nil); !strings.Contains(page, `id="view-credits">1000 remaining;`) {
			t.Errorf("%s on the next day: the page does not show the refilled credits: %s", path, regexp.MustCompile(`id="view-credits">[^<]*`).FindString(page))
		}
	}
}

// TestKeyFormFieldErrors posts new-key forms the service refuses: each error is shown beside
// its field, and the form keeps everything else the user typed.
func TestKeyFormFieldErrors(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	v := consoleVisitor(t, e)
	for _, kind := range keyKinds(t, e) {
		for _, s := range []struct {
			name  string
			form  url.Values
			field string // the id of the field's error
			want  string
		}{
			{"bad CIDR", policyForm(url.Values{"ipAllowlist": {"10.0.0.0/8\r\n10.0.0.0/33"}}), "ip-allowlist-error",
				"&#34;10.0.0.0/33&#34; must be an IPv4 or IPv6 address or CIDR range"},
			{"rate limit without its period", policyForm(url.Values{"rateLimit.periodSeconds": {""}}), "rate-period-error", "must be between 1 and 86400"},
			{"rate limit not a number", policyForm(url.Values{"rateLimit.limit": {"lots"}}), "rate-limit-error", "must be a whole number"},
			{"huge credits", policyForm(url.Values{"credits.remaining": {"99999999999999999999"}}), "credits-error", "must be between 0 and 1000000000000"},
			{"refill without credits", policyForm(url.Values{"credits.remaining": {""}}), "credits-error", "must be given with a refill"},
			{"unknown interval", policyForm(url.Values{"credits.refill.interval": {"HOURLY"}}), "refill-interval-error", "must be DAILY or MONTHLY"},
			{"metadata not an object", policyForm(url.Values{"meta": {`["gold"]`}}), "meta-error", "must be a JSON object"},
		} {
			t.Run(kind.name+"/"+s.name, func(t *testing.T) {
				name := "refused_" + strings.ReplaceAll(s.name, " ", "_")
				res, page, _ := kind.create(t, v, name, s.form)
				if res.StatusCode != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", res.StatusCode, page)
				}
				if !regexp.MustCompile(`id="` + s.field + `">[^<]*` + regexp.QuoteMeta(s.want)).MatchString(page) {
					t.Fatalf("no %q beside the field (%s): %s", s.want, s.field, page)
				}
				if !strings.Contains(page, `role="alert"`) || !strings.Contains(page, `aria-describedby="`+s.field+`"`) {
					t.Error("the page has no alert, or the field does not point at its error")
				}
				kept := formOf(page)
				for k := range s.form {
					got := strings.ReplaceAll(kept.Get(k), "\r\n", "\n")
					want := strings.ReplaceAll(s.form.Get(k), "\r\n", "\n")
					if k == "credits.refill.interval" && want == "HOURLY" {
						continue // no such choice to keep
					}
					if got != want {
						t.Errorf("the form lost %s: %q, want %q", k, got, want)
					}
				}
				if kept.Get("name") != name || (kept.Get("permissions") != "READ" && kept.Get("scopes") != "READ") {
					t.Errorf("the form lost the name or the permissions: %v", kept)
				}
			})
		}
	}
	// Nothing refused was created.
	if _, page := v.do("GET", "/api-keys", nil); strings.Contains(page, "refused_") {
		t.Error("a refused API key is listed")
	}
}

// TestListItemErrors posts forms whose list fields (a key's permissions or scopes, a
// webhook's events, also when editing) hold an item the service refuses: the error about
// that one item is shown beside the list's field, and the banner names the field by its
// label rather than by the item's index.
func TestListItemErrors(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	v := consoleVisitor(t, e)
	app := createApp(t, e, e.Acme.APIKey, "items")
	if r := e.Do("POST", "/api/acme/api-keys", e.Acme.APIKey, map[string]any{"name": "edited", "permissions": []string{"READ"}}); r.Status != http.StatusCreated {
		t.Fatal(r.Status, string(r.Body))
	}
	for _, s := range []struct {
		name, path string
		form       url.Values
		field      string // the id of the field's error
		label      string // the field's label in the banner
	}{
		{"API key", "/api-keys", url.Values{"name": {"items"}, "permissions": {"READ", "NOPE"}, "active": {"true"}}, "permissions-error", "Permissions"},
		{"edited API key", "/api-keys/edited/edit", url.Values{"permissions": {"NOPE"}, "active": {"true"}}, "permissions-error", "Permissions"},
		{"access key", "/applications/" + app + "/access-keys", url.Values{"name": {"items"}, "scopes": {"NOPE"}}, "scopes-error", "Scopes"},
		{"webhook", "/webhooks", url.Values{"url": {"https://hooks.example.com/"}, "events": {"api_key.created", "no.such_event"}, "enabled": {"true"}}, "events-error", "Events"},
	} {
		t.Run(s.name, func(t *testing.T) {
			res, page := v.do("POST", s.path, s.form)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.StatusCode, page)
			}
			if !strings.Contains(page, `id="`+s.field+`">`) {
				t.Errorf("no error beside the field (%s): %s", s.field, page)
			}
			if strings.Contains(page, "[0]") || strings.Contains(page, "[1]") || !strings.Contains(page, s.label+": ") {
				t.Errorf("the banner does not name the field %s: %s", s.label, page)
			}
		})
	}
}

// TestRotateKeyInConsole rotates an API key with a grace period and an access key without:
// the new secret is shown once (the key's page never shows it), and the old secret stays
// VALID at POST /api/verify until the grace ends, then is EXPIRED.
func TestRotateKeyInConsole(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testRotateKeyInConsole(t, apitest.New(t, open)) })
	}
}

func testRotateKeyInConsole(t *testing.T, e *apitest.Env) {
	v := consoleVisitor(t, e)
	kinds := keyKinds(t, e)
	for i, s := range []struct {
		kind  keyKind
		grace string
	}{{kinds[0], "3600"}, {kinds[1], "0"}, {kinds[1], "604800"}} {
		t.Run(fmt.Sprintf("%s, grace %s s", s.kind.name, s.grace), func(t *testing.T) {
			res, page, path := s.kind.create(t, v, fmt.Sprintf("rotated_%d", i), url.Values{})
			if res.StatusCode != http.StatusOK {
				t.Fatalf("create: %d: %s", res.StatusCode, page)
			}
			old := shownSecret(t, page)
			if res, page := v.do("GET", path+"/rotate", nil); res.StatusCode != http.StatusOK || !strings.Contains(page, `name="gracePeriodSeconds"`) {
				t.Fatalf("GET %s/rotate: %d, want the form", path, res.StatusCode)
			}
			for _, bad := range []string{"lots", "604801", "-1", "99999999999999999999"} {
				res, page := v.do("POST", path+"/rotate", url.Values{"gracePeriodSeconds": {bad}})
				if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="grace-error"`) || strings.Contains(page, "secret-value") {
					t.Fatalf("grace %q: %d, want 400 with the field's error: %s", bad, res.StatusCode, page)
				}
			}
			// A rotation another site's page posts is refused, as every console form is.
			v.header.Set("Origin", "http://evil.test")
			res, page = v.do("POST", path+"/rotate", url.Values{"gracePeriodSeconds": {"0"}})
			v.header.Del("Origin")
			if res.StatusCode != http.StatusForbidden || strings.Contains(page, "secret-value") {
				t.Fatalf("a rotation posted from another origin: %d, want 403", res.StatusCode)
			}
			if code := verify(t, e, old, ""); code != "VALID" {
				t.Fatalf("the old secret after refused rotations: %s", code)
			}

			res, page = v.shown(v.do("POST", path+"/rotate", url.Values{"gracePeriodSeconds": {s.grace}}))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("rotate: %d: %s", res.StatusCode, page)
			}
			key := shownSecret(t, page)
			if key == old || strings.Contains(page, old) {
				t.Fatal("the rotation shows the old secret")
			}
			if !strings.Contains(page, `action="`+path+`"`) {
				t.Error("the new secret's page does not lead back to the key's page")
			}
			if _, page := v.do("GET", path, nil); strings.Contains(page, key) || strings.Contains(page, "secret-value") {
				t.Fatal("the key's page shows the new secret again")
			}
			if code := verify(t, e, key, ""); code != "VALID" {
				t.Fatalf("the new secret: %s", code)
			}
			want := "VALID"
			if s.grace == "0" {
				want = "EXPIRED"
			}
			if code := verify(t, e, old, ""); code != want {
				t.Fatalf("the old secret during the grace: %s, want %s", code, want)
			}
			if s.grace == "3600" {
				e.Clock.Advance(time.Hour)
				if code := verify(t, e, old, ""); code != "EXPIRED" {
					t.Fatalf("the old secret once the grace ended: %s, want EXPIRED", code)
				}
				if code := verify(t, e, key, ""); code != "VALID" {
					t.Fatalf("the new secret once the grace ended: %s", code)
				}
			}
		})
	}
}

// TestEditKeyPolicies sets and clears a key's rate limit on its edit form, and saves a form
// loaded before the key used credits: what the user did not change stays as the key has it.
func TestEditKeyPolicies(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testEditKeyPolicies(t, apitest.New(t, open)) })
	}
}

func testEditKeyPolicies(t *testing.T, e *apitest.Env) {
	v := consoleVisitor(t, e)
	for i, kind := range keyKinds(t, e) {
		t.Run(kind.name, func(t *testing.T) {
			res, page, path := kind.create(t, v, fmt.Sprintf("edited_%d", i), url.Values{"credits.remaining": {"10"}})
			if res.StatusCode != http.StatusOK {
				t.Fatalf("create: %d: %s", res.StatusCode, page)
			}
			key := shownSecret(t, page)
			edit := func(change func(url.Values)) string {
				t.Helper()
				res, page := v.do("GET", path+"/edit", nil)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("GET %s/edit: %d", path, res.StatusCode)
				}
				form := formOf(page)
				change(form)
				res, page = v.do("POST", path+"/edit", form)
				if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != path {
					t.Fatalf("save: %d to %q, want 303 to %s: %s", res.StatusCode, res.Header.Get("Location"), path, page)
				}
				_, page = v.do("GET", path, nil)
				return page
			}

			page = edit(func(f url.Values) { f.Set("rateLimit.limit", "2"); f.Set("rateLimit.periodSeconds", "3600") })
			if !strings.Contains(page, `id="view-rate-limit">2 per hour<`) || !strings.Contains(page, `id="view-credits">10 remaining<`) {
				t.Fatalf("after setting a rate limit the page shows: %s", page)
			}
			for n, want := range []string{"VALID", "VALID", "RATE_LIMITED"} {
				if code := verify(t, e, key, ""); code != want {
					t.Fatalf("verification %d with the rate limit: %s, want %s", n+1, code, want)
				}
			}

			page = edit(func(f url.Values) { f.Set("rateLimit.limit", ""); f.Set("rateLimit.periodSeconds", "") })
			if !strings.Contains(page, `id="view-rate-limit">None<`) {
				t.Fatalf("after clearing the rate limit the page shows: %s", page)
			}
			if code := verify(t, e, key, ""); code != "VALID" {
				t.Fatalf("verification without the rate limit: %s", code)
			}

			// A form loaded at 7 credits is saved after one more verification: the key keeps
			// the 6 it has, as the user did not change them, and gets the allowlist set.
			res, page = v.do("GET", path+"/edit", nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("edit form: %d", res.StatusCode)
			}
			form := formOf(page)
			if form.Get("credits.remaining") != "7" {
				t.Fatalf("the edit form shows %q credits, want 7", form.Get("credits.remaining"))
			}
			if code := verify(t, e, key, ""); code != "VALID" {
				t.Fatalf("verification: %s", code)
			}
			form.Set("ipAllowlist", "198.51.100.0/24")
			if res, page := v.do("POST", path+"/edit", form); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("save: %d: %s", res.StatusCode, page)
			}
			if _, page := v.do("GET", path, nil); !strings.Contains(page, `id="view-credits">6 remaining<`) || !strings.Contains(page, "<code>198.51.100.0/24</code>") {
				t.Fatalf("after saving an older form the page shows: %s", page)
			}

			// Credits the user changes are set; a bad value is shown beside its field.
			page = edit(func(f url.Values) { f.Set("credits.remaining", "50") })
			if !strings.Contains(page, `id="view-credits">50 remaining<`) {
				t.Fatalf("after setting credits the page shows: %s", page)
			}
			_, page = v.do("GET", path+"/edit", nil)
			form = formOf(page)
			form.Set("ipAllowlist", "198.51.100.0/24, not-an-address")
			res, page = v.do("POST", path+"/edit", form)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="ip-allowlist-error">&#34;not-an-address&#34; must be`) {
				t.Fatalf("a bad allowlist entry: %d: %s", res.StatusCode, page)
			}
			if kept := formOf(page); kept.Get("credits.remaining") != "50" || kept.Get("was.credits") != form.Get("was.credits") {
				t.Errorf("the refused form lost what it was loaded with: %v", kept)
			}
		})
	}
}
