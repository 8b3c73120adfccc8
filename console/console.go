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
		"join":   strings.Join,
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
		if name == "layout" || name == "policy" {
			continue
		}
		c.pages[name] = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/policy.html", p))
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
// is known (authed) or for signing in (form).
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
			c.refuseForm(w, r, nil)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	c.mux.ServeHTTP(w, r)
}

// setCookie sets a console cookie: HttpOnly, SameSite=Strict, and Secure when the browser
// reached keyhaven over TLS (or the public URL says it always does). Over plain HTTP a browser
// would drop a Secure cookie, and signing in would never hold.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, ck *http.Cookie) {
	ck.Path, ck.HttpOnly, ck.SameSite = "/", true, http.SameSiteStrictMode
	ck.Secure = c.alwaysTLS || httpx.OverTLS(r.Context())
	http.SetCookie(w, ck)
}

// readForm reads a posted form, within maxFormBytes. It renders the refusal and returns false
// when it cannot.
func (c *Console) readForm(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) bool {
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			c.render(w, r, p, http.StatusRequestEntityTooLarge, "error", "Form too large", "",
				fmt.Sprintf("The form is larger than the %d KiB a console form may be.", maxFormBytes>>10))
			return false
		}
		c.render(w, r, p, http.StatusBadRequest, "error", "Bad form", "", "The form could not be read. Reload the page and try again.")
		return false
	}
	return true
}

// refuseForm renders the refusal of a form that another site's page posted.
func (c *Console) refuseForm(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	c.render(w, r, p, http.StatusForbidden, "error", "Refused", "", "The form was not sent from this console's own pages, so it was not carried out. Open the console and try again there.")
}

// form wraps a form that needs no session (signing in): its POST is read first.
func (c *Console) form(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !c.readForm(w, r, nil) {
			return
		}
		h(w, r)
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

func (c *Console) render(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, status int, page, title, nav string, data any) {
	v := view{Title: title, Nav: nav, P: p, Data: data}
	switch d := data.(type) {
	case errorData:
		v.Error, v.Data = d.msg, d.data
	case noticeData:
		v.Notice, v.Data = d.msg, d.data
	}
	var b strings.Builder
	if err := c.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		c.log.ErrorContext(r.Context(), "render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
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

// fail renders the error page for err.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, err error) {
	status := httpx.Status(err)
	if status >= 500 {
		c.log.ErrorContext(r.Context(), "console", "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", keyhaven.RetryAfterUnavailable)
	}
	c.render(w, r, p, status, "error", http.StatusText(status), "", keyhaven.ErrorMessage(err))
}

// formError re-renders a form with the error that refused it, or the error page when the
// error is not about the input.
func (c *Console) formError(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, err error, page, title, nav string, data any) {
	switch keyhaven.ErrorCode(err) {
	case keyhaven.EINVALID, keyhaven.ECONFLICT, keyhaven.EFORBIDDEN, keyhaven.EUNAUTHORIZED, keyhaven.ERATELIMITED:
		c.render(w, r, p, httpx.Status(err), page, title, nav, errorData{keyhaven.ErrorMessage(err), data})
	default:
		c.fail(w, r, p, err)
	}
}

// authed wraps a page that needs a signed-in user. The session is checked before a POST's
// form is read.
func (c *Console) authed(h func(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		p, err := c.svc.Authenticate(r.Context(), keyhaven.Use{Secret: ck.Value, Kind: keyhaven.KindSession})
		if err != nil && keyhaven.ErrorCode(err) != keyhaven.EUNAUTHORIZED {
			// Not a verdict on the session (the database may be away): keep it.
			c.fail(w, r, nil, err)
			return
		}
		if err != nil {
			c.setCookie(w, r, &http.Cookie{Name: sessionCookie, MaxAge: -1})
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !c.readForm(w, r, p) {
			return
		}
		h(w, r, p)
	}
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

func (c *Console) confirm(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, title, nav string, d confirmData) {
	c.render(w, r, p, http.StatusOK, "confirm", title, nav, d)
}

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
	on := map[string]bool{}
	for _, name := range checked {
		on[name] = true
	}
	var out []permOption
	for _, perm := range p.Permissions.List() {
		out = append(out, permOption{Name: string(perm), Checked: on[string(perm)]})
	}
	return out
}

type field struct {
	Name, Label, Type, Value string
	Required                 bool
	Options                  []string
}

type formData struct {
	Action, Submit, Cancel string
	Fields                 []field
}

// strs returns the values of a typed vocabulary as strings, for a form's options.
func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
