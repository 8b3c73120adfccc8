package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

// createdData is the one-time display of a new secret: a new key's, a rotated key's or a new
// user's generated password.
type createdData struct {
	Heading, Text, SecretLabel, Secret, Close, CloseLabel string
	// Nav is the navigation link the display belongs under.
	Nav  string
	Rows [][2]string
	// Expires is when the display may no longer be opened.
	Expires time.Time
	// Shown is the page reloaded after its one display: it shows no secret.
	Shown bool `json:"-"`
}

// The one-time display of a secret follows post-redirect-get: the POST that makes a secret
// seals the display into a cookie and redirects (303) to /created/{id}, whose GET shows it
// and clears the cookie. Reloading that page then shows that the secret was shown once, and
// resubmits nothing.
//
// The cookie is HttpOnly, SameSite=Strict, sent only to its own display's path, lives for
// flashTTL, and is sealed with the database's key bound to the session and the display's
// id: any node behind a load balancer opens it, nothing else does, and it holds nothing in
// any node's memory.
const (
	flashCookie = "kh_once"
	flashTTL    = 5 * time.Minute
	flashAD     = "keyhaven console one-time display "
)

// showOnce keeps d for one display and redirects to it.
func (c *Console) showOnce(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, d createdData) error {
	id := strings.TrimPrefix(keyhaven.NewID("x"), "x_")
	d.Expires = c.svc.Now().Add(flashTTL)
	raw, err := json.Marshal(d)
	if err != nil {
		return keyhaven.Internal(err)
	}
	path := "/created/" + id
	c.setCookie(w, r, &http.Cookie{Name: flashCookie, Value: c.svc.Sealer.Seal(raw, flashBinding(p, id)), Path: path,
		MaxAge: int(flashTTL / time.Second)})
	http.Redirect(w, r, path+"?"+url.Values{"close": {d.Close}}.Encode(), http.StatusSeeOther)
	return nil
}

func flashBinding(p *keyhaven.Principal, id string) []byte {
	return []byte(flashAD + p.CredentialID + " " + id)
}

// created shows a display kept by showOnce, once: its cookie is cleared as it is read. Without
// it (reloaded, expired, or another session's) the page says that the secret was shown once.
func (c *Console) created(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	d := createdData{Shown: true, Heading: "Secret already shown", Close: localPath(r.URL.Query().Get("close")), CloseLabel: "Close",
		Text: "This secret was shown once and is not shown again. If it was not recorded, rotate the key (or reset the password) to get a new one."}
	if ck, err := r.Cookie(flashCookie); err == nil {
		c.setCookie(w, r, &http.Cookie{Name: flashCookie, Path: r.URL.Path, MaxAge: -1})
		var kept createdData
		if raw, err := c.svc.Sealer.Open(ck.Value, flashBinding(p, id)); err == nil &&
			json.Unmarshal(raw, &kept) == nil && c.svc.Now().Before(kept.Expires) {
			d = kept
		}
	}
	return c.render(w, r, p, http.StatusOK, "created", d.Heading, d.Nav, d)
}

// localPath returns s when it is a path of this console, "/" otherwise: a link taken from a
// query never leads elsewhere.
func localPath(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n\t") {
		return "/"
	}
	return s
}
