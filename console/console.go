// Package console serves keyhaven's web console: server-rendered pages over the same service
// as the API, so every rule holds here too. Sessions ride in an HttpOnly, SameSite=Strict
// cookie, Secure whenever the browser reached keyhaven over TLS; a form another origin posts
// is refused (http.CrossOriginProtection); the Content-Security-Policy allows only the
// console's own script and style. It works over plain HTTP on any host name.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/httpx"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const sessionCookie = "kh_session"

// Options tune the console.
type Options struct {
	// PublicURL, when set, is where browsers reach keyhaven. When it is https, cookies are
	// Secure on every request (a proxy in front terminates TLS); its origin may post forms
	// whatever Host header the proxy passes on.
	PublicURL *url.URL
}

// Console is the web console.
type Console struct {
	svc         *keyhaven.Service
	log         *slog.Logger
	pages       map[string]*template.Template
	mux         *http.ServeMux
	crossOrigin *http.CrossOriginProtection
	alwaysTLS   bool
}

// New returns the console's handler. Sign-ins are limited by the service, as the API's are.
func New(svc *keyhaven.Service, log *slog.Logger, opts Options) *Console {
	c := &Console{svc: svc, log: log, pages: map[string]*template.Template{}, mux: http.NewServeMux(),
		crossOrigin: http.NewCrossOriginProtection()}
	if u := opts.PublicURL; u != nil && u.Host != "" {
		c.alwaysTLS = u.Scheme == "https"
		if err := c.crossOrigin.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			log.Warn("the public URL's origin cannot be trusted for console forms", "err", err)
		}
	}
	funcs := template.FuncMap{
		"has": func(p *keyhaven.Principal, perm string) bool {
			return p != nil && p.Permissions.Has(keyhaven.Permission(perm))
		},
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format(dateFormat)
		},
		"join": strings.Join,
		// dict makes the argument of a shared template from names and values.
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
		"masked": keyhaven.MaskedKey,
		"status": func(k *keyhaven.Credential) keyhaven.AccessKeyStatus { return keyhaven.AccessKeyStatusAt(k, svc.Now()) },
		// credits are the credits a key has at the service's now, a due refill applied.
		"credits":      func(cr *keyhaven.Credits) int64 { return cr.At(svc.Now()) },
		"allowlist":    keyhaven.AllowlistStrings,
		"pretty":       prettyJSON,
		"period":       period,
		"intervals":    func() []string { return refillIntervals },
		"graceOptions": func() any { return graceOptions },
	}
	pages, _ := fs.Glob(templateFS, "templates/*.html")
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" || name == "policy" || name == "parts" {
			continue
		}
		c.pages[name] = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/policy.html", "templates/parts.html", p))
	}
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	c.routes()
	return c
}

// dateFormat is how pages show a time.
const dateFormat = "2006-01-02 15:04 UTC"

// maxFormBytes bounds the body of every console form: they hold a few short fields.
const maxFormBytes = 64 << 10

// ServeHTTP serves the console with its protective headers. A POST that a browser says,
// through Sec-Fetch-Site or Origin, comes from another origin is refused before anything
// reads its body, which is limited to maxFormBytes; the form is read only after the session
// is known (authed) or for signing in (public).
//
// That check is the console's whole defence against cross-site request forgery, with the
// SameSite=Strict session cookie: it needs no token and no cookie of its own, so it holds
// over plain HTTP, where a browser drops Secure cookies, as well as over TLS. Over plain HTTP
// a browser sends no Sec-Fetch-Site and the Origin decides, which is why the console's pages
// keep their origin in the requests they make (Referrer-Policy: same-origin).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if r.Method == http.MethodPost {
		if c.crossOrigin.Check(r) != nil {
			c.refuseForm(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	c.mux.ServeHTTP(w, r)
}

// setCookie sets a console cookie: HttpOnly, SameSite=Strict, and Secure when the browser
// reached keyhaven over TLS (or the public URL says it always does). Over plain HTTP a browser
// would drop a Secure cookie, and signing in would never hold. Its path is / unless ck has one.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, ck *http.Cookie) {
	if ck.Path == "" {
		ck.Path = "/"
	}
	ck.HttpOnly, ck.SameSite = true, http.SameSiteStrictMode
	ck.Secure = c.alwaysTLS || httpx.OverTLS(r.Context())
	http.SetCookie(w, ck)
}

// readForm reads a posted form, within maxFormBytes.
func readForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &HTTPError{Code: http.StatusRequestEntityTooLarge, Title: "Form too large",
				Msg: fmt.Sprintf("The form is larger than the %d KiB a console form may be.", maxFormBytes>>10)}
		}
		return &HTTPError{Code: http.StatusBadRequest, Title: "Bad form", Msg: "The form could not be read. Reload the page and try again."}
	}
	return nil
}

// refuseForm renders the refusal of a form that another site's page posted.
func (c *Console) refuseForm(w http.ResponseWriter, r *http.Request) {
	c.serveError(w, r, nil, &HTTPError{Code: http.StatusForbidden, Title: "Refused",
		Msg: "The form was not sent from this console's own pages, so it was not carried out. Open the console and try again there."})
}

// A handler serves one page to the signed-in principal p. It returns what went wrong
// rather than writing it: authed hands the error to serveError, the one place that turns
// errors into pages (tailscale's tsweb.ReturnHandler). A handler returns a domain error as
// the service gave it, a refused form through refused, or an *HTTPError.
type handler func(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error

// publicHandler serves a page that needs no session (signing in), as handler does.
type publicHandler func(w http.ResponseWriter, r *http.Request) error

// HTTPError is an error the error page shows with its status: Title and Msg are shown, Err
// is logged and never shown (tailscale's tsweb.HTTPError).
type HTTPError struct {
	Code       int
	Title, Msg string
	Err        error
}

func (e *HTTPError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Msg)
}

func (e *HTTPError) Unwrap() error { return e.Err }

// formRefusal is a form the service refused: the form is shown again with what was typed
// and the refusal, when the refusal is about the input.
type formRefusal struct {
	err              error
	page, title, nav string
	data             any
}

func (e *formRefusal) Error() string { return e.err.Error() }
func (e *formRefusal) Unwrap() error { return e.err }

// refused returns err as the refusal of the form page (with its title, navigation and the
// data it was filled with): serveError shows the form again with the message when err is
// about the input (invalid, conflicting, forbidden, rate limited), and the error page
// otherwise. A nil err is nil.
func refused(err error, page, title, nav string, data any) error {
	if err == nil {
		return nil
	}
	return &formRefusal{err: err, page: page, title: title, nav: nav, data: data}
}

// serveError writes the page of err, the error a handler returned: a refused form again
// with its message, or the error page with the status the error's code maps to (once, in
// httpx.Status). Errors of keyhaven's own (5xx) are logged; their detail is never shown.
func (c *Console) serveError(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, err error) {
	var form *formRefusal
	if errors.As(err, &form) {
		switch keyhaven.ErrorCode(form.err) {
		case keyhaven.EINVALID, keyhaven.ECONFLICT, keyhaven.EFORBIDDEN, keyhaven.EUNAUTHORIZED, keyhaven.ERATELIMITED:
			status := httpx.Status(form.err)
			for k, vs := range httpx.Headers(status, form.err) {
				w.Header()[k] = vs
			}
			if status == http.StatusUnauthorized {
				w.Header().Del("WWW-Authenticate") // a form, not a bearer challenge
			}
			c.writePage(w, r, p, status, form.page, form.title, form.nav, errorData{keyhaven.ErrorMessage(form.err), form.data})
			return
		}
		err = form.err
	}
	var he *HTTPError
	if !errors.As(err, &he) {
		status := httpx.Status(err)
		he = &HTTPError{Code: status, Title: http.StatusText(status), Msg: keyhaven.ErrorMessage(err), Err: err}
		for k, vs := range httpx.Headers(status, err) {
			if k != "WWW-Authenticate" {
				w.Header()[k] = vs
			}
		}
	}
	if he.Code >= 500 {
		c.log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
	}
	title := he.Title
	if title == "" {
		title = http.StatusText(he.Code)
	}
	c.writePage(w, r, p, he.Code, "error", title, "", he.Msg)
}

// authed serves a page that needs a signed-in user. The session is checked before a POST's
// form is read; whatever h returns goes to serveError.
func (c *Console) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		p, err := c.svc.Authenticate(r.Context(), keyhaven.Use{Secret: ck.Value, Kind: keyhaven.KindSession})
		if err != nil && keyhaven.ErrorCode(err) != keyhaven.EUNAUTHORIZED {
			// Not a verdict on the session (the database may be away): keep it.
			c.serveError(w, r, nil, err)
			return
		}
		if err != nil {
			c.setCookie(w, r, &http.Cookie{Name: sessionCookie, MaxAge: -1})
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			err = readForm(r)
		}
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			c.serveError(w, r, p, err)
		}
	}
}

// public serves a page that needs no session (signing in): a POST's form is read first, and
// whatever h returns goes to serveError.
func (c *Console) public(h publicHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var err error
		if r.Method == http.MethodPost {
			err = readForm(r)
		}
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			c.serveError(w, r, nil, err)
		}
	}
}

// view is what every page renders.
type view struct {
	Title  string
	Nav    string
	P      *keyhaven.Principal
	Error  string
	Notice string
	Data   any
}

// render writes page with status, or returns the error that kept it from being written
// (nothing is written then).
func (c *Console) render(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, status int, page, title, nav string, data any) error {
	v := view{Title: title, Nav: nav, P: p, Data: data}
	switch d := data.(type) {
	case errorData:
		v.Error, v.Data = d.msg, d.data
	case noticeData:
		v.Notice, v.Data = d.msg, d.data
	}
	t, ok := c.pages[page]
	if !ok {
		return keyhaven.Internal(fmt.Errorf("no page %q", page))
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		return keyhaven.Internal(fmt.Errorf("render %s: %w", page, err))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
	return nil
}

// writePage renders a page of serveError's; a page that cannot be rendered is answered in
// plain text.
func (c *Console) writePage(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, status int, page, title, nav string, data any) {
	if err := c.render(w, r, p, status, page, title, nav, data); err != nil {
		c.log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// errorData carries a form's data back with the error that refused it.
type errorData struct {
	msg  string
	data any
}

// noticeData carries a page's data with a notice of what was done.
type noticeData struct {
	msg  string
	data any
}

// ctx is shorthand for the request's context.
func ctx(r *http.Request) context.Context { return r.Context() }

// labelFields returns err with the name of its one invalid field replaced by the label the
// form shows for it, so that the message names what the user sees.
func labelFields(err error, labels map[string]string) error {
	fields := keyhaven.ErrorFields(err)
	if keyhaven.ErrorCode(err) != keyhaven.EINVALID || len(fields) != 1 || labels[fields[0].Field] == "" {
		return err
	}
	return keyhaven.Invalid(keyhaven.FieldError{Field: labels[fields[0].Field], Message: fields[0].Message})
}

type confirmData struct{ Question, Warning, Action, Confirm, Cancel string }

func (c *Console) confirm(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, title, nav string, d confirmData) error {
	return c.render(w, r, p, http.StatusOK, "confirm", title, nav, d)
}

// permOption is one checkbox of a group of them: a permission, a scope or an event type.
type permOption struct {
	Name    string
	Checked bool
}

type permsForm struct {
	Action, NameField, NameType, Name, Submit, Cancel string
	PasswordField                                     bool
	Options                                           []permOption
}

func options(p *keyhaven.Principal, checked keyhaven.PermissionSet) []permOption {
	var out []permOption
	for _, perm := range p.Permissions.List() {
		out = append(out, permOption{Name: string(perm), Checked: checked.Has(perm)})
	}
	return out
}

// optionsChecked returns p's permissions as options, those named in checked checked: a
// posted form's choices, shown again.
func optionsChecked(p *keyhaven.Principal, checked []string) []permOption {
	return checkedOf(p.Permissions.List(), checked)
}

// checkedOf returns all as options, those named in checked checked.
func checkedOf[T ~string](all []T, checked []string) []permOption {
	out := make([]permOption, len(all))
	for i, v := range all {
		out[i] = permOption{Name: string(v), Checked: slices.Contains(checked, string(v))}
	}
	return out
}

// field is one field of a generic form: a text field (of Type), a select among Options, or
// a text field the browser completes from Suggest (a searchable list, for choices too many
// for a select).
type field struct {
	Name, Label, Type, Value, Hint string
	Required                       bool
	Options                        []choice
	Suggest                        []choice
}

// choice is one choice of a select or a searchable list.
type choice struct{ Value, Label string }

type formData struct {
	Action, Submit, Cancel string
	Fields                 []field
	// Hidden are sent back as they are (what an edit form was filled with).
	Hidden []hiddenField
}

// hiddenField is a form's field the user does not see.
type hiddenField struct{ Name, Value string }

// strs returns the values of a typed vocabulary as choices, for a form's options.
func strs[T ~string](vs []T) []choice {
	out := make([]choice, len(vs))
	for i, v := range vs {
		out[i] = choice{string(v), string(v)}
	}
	return out
}

// pickLimit is how many things a select offers; a field with more to choose from is a text
// field that suggests the first pickLimit of them as the user types.
const pickLimit = 200

// pick makes f a choice among items: a select with a first empty choice asking for one when
// items are all there are, or a searchable list when more is set.
func pick(f field, items []choice, more bool) field {
	if more {
		f.Suggest = items
		f.Hint = "type to search; the list suggests the first " + fmt.Sprint(pickLimit)
		return f
	}
	f.Options = append([]choice{{"", "Choose…"}}, items...)
	return f
}
