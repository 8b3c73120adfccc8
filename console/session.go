package console

import (
	"net/http"

	"keyhaven.dev/keyhaven"
)

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	return c.render(w, r, nil, http.StatusOK, "login", "Sign in", "", loginData{Tenant: r.URL.Query().Get("tenant")})
}

type loginData struct{ Tenant, Email string }

func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	d := loginData{Tenant: r.PostForm.Get("tenant"), Email: r.PostForm.Get("email")}
	sess, err := c.svc.Login(r.Context(), d.Tenant, d.Email, r.PostForm.Get("password"))
	if err != nil {
		return refused(err, "login", "Sign in", "", d)
	}
	c.setCookie(w, r, &http.Cookie{Name: sessionCookie, Value: sess.Token, Expires: sess.ExpiresAt})
	// The console's root leads on by the user's permissions (home).
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	if err := c.svc.Logout(r.Context(), p); err != nil {
		return err
	}
	c.setCookie(w, r, &http.Cookie{Name: sessionCookie, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
