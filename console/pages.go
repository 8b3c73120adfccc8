package console

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keyhaven"
	"keyhaven/internal/httpx"
)

// routes registers the console's pages. Every POST goes through authed or form, which read
// its form once ServeHTTP found it posted by the console's own pages.
func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.form(c.login))
	m.HandleFunc("POST /logout", c.authed(c.logout))
	m.HandleFunc("GET /password", c.authed(c.passwordPage))
	m.HandleFunc("POST /password", c.authed(c.changePassword))
	m.HandleFunc("GET /{$}", c.authed(func(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
		http.Redirect(w, r, "/applications", http.StatusSeeOther)
	}))

	m.HandleFunc("GET /applications", c.authed(c.applications))
	m.HandleFunc("GET /applications/new", c.authed(c.newApplication))
	m.HandleFunc("POST /applications", c.authed(c.createApplication))
	m.HandleFunc("GET /applications/{id}", c.authed(c.application("summary")))
	m.HandleFunc("GET /applications/{id}/access-keys", c.authed(c.application("keys")))
	m.HandleFunc("GET /applications/{id}/edit", c.authed(c.editApplication))
	m.HandleFunc("POST /applications/{id}/edit", c.authed(c.updateApplication))
	m.HandleFunc("GET /applications/{id}/revoke", c.authed(c.confirmRevokeApplication))
	m.HandleFunc("POST /applications/{id}/revoke", c.authed(c.revokeApplication))
	m.HandleFunc("GET /applications/{id}/access-keys/new", c.authed(c.newAccessKey))
	m.HandleFunc("POST /applications/{id}/access-keys", c.authed(c.createAccessKey))
	m.HandleFunc("GET /applications/{id}/access-keys/{key}/edit", c.authed(c.editAccessKey))
	m.HandleFunc("POST /applications/{id}/access-keys/{key}/edit", c.authed(c.updateAccessKey))
	m.HandleFunc("GET /applications/{id}/access-keys/{key}/revoke", c.authed(c.confirmRevokeAccessKey))
	m.HandleFunc("POST /applications/{id}/access-keys/{key}/revoke", c.authed(c.revokeAccessKey))

	m.HandleFunc("GET /api-keys", c.authed(c.apiKeys))
	m.HandleFunc("GET /api-keys/new", c.authed(c.newAPIKey))
	m.HandleFunc("POST /api-keys", c.authed(c.createAPIKey))
	m.HandleFunc("GET /api-keys/{name}/edit", c.authed(c.editAPIKey))
	m.HandleFunc("POST /api-keys/{name}/edit", c.authed(c.updateAPIKey))
	m.HandleFunc("GET /api-keys/{name}/delete", c.authed(c.confirmDeleteAPIKey))
	m.HandleFunc("POST /api-keys/{name}/delete", c.authed(c.deleteAPIKey))

	m.HandleFunc("GET /users", c.authed(c.users))
	m.HandleFunc("GET /users/new", c.authed(c.newUser))
	m.HandleFunc("POST /users", c.authed(c.createUser))
	m.HandleFunc("GET /users/{id}/edit", c.authed(c.editUser))
	m.HandleFunc("POST /users/{id}/edit", c.authed(c.updateUser))
	m.HandleFunc("GET /users/{id}/delete", c.authed(c.confirmDeleteUser))
	m.HandleFunc("POST /users/{id}/delete", c.authed(c.deleteUser))

	m.HandleFunc("GET /contracts", c.authed(c.contracts))
	m.HandleFunc("GET /contracts/new", c.authed(c.newContract))
	m.HandleFunc("POST /contracts", c.authed(c.createContract))
	m.HandleFunc("GET /offerings/new", c.authed(c.newOffering))
	m.HandleFunc("POST /offerings", c.authed(c.createOffering))
	m.HandleFunc("GET /accesses", c.authed(c.accesses))
	m.HandleFunc("GET /batches/new", c.authed(c.newBatch))
	m.HandleFunc("POST /batches", c.authed(c.createBatch))
	m.HandleFunc("GET /batches/{id}", c.authed(c.batch))
	m.HandleFunc("GET /batches/{id}/progress.json", c.authed(c.batchProgress))
	m.HandleFunc("GET /batches/{id}/accesses.csv", c.authed(c.batchCSV))
	m.HandleFunc("GET /audit", c.authed(c.audit))
}

// --- applications

func (c *Console) applications(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	apps, err := c.svc.ListApplications(ctx(r), p, keyhaven.Page{Limit: 200})
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "applications", "Applications", "applications", apps)
}

type appForm struct{ Action, Name, Description, Submit, Cancel string }

func (c *Console) newApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	c.render(w, r, p, http.StatusOK, "application_form", "New application", "applications",
		appForm{Action: "/applications", Submit: "Create", Cancel: "/applications"})
}

func (c *Console) createApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	f := appForm{Action: "/applications", Submit: "Create", Cancel: "/applications", Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description")}
	if _, err := c.svc.CreateApplication(ctx(r), p, keyhaven.ApplicationInput{Name: &f.Name, Description: &f.Description}); err != nil {
		c.formError(w, r, p, err, "application_form", "New application", "applications", f)
		return
	}
	http.Redirect(w, r, "/applications", http.StatusSeeOther)
}

type appPage struct {
	App                                    *keyhaven.Application
	Tab                                    string
	Keys                                   []*keyhaven.Credential
	CanView, CanCreate, CanEdit, CanRevoke bool
}

// application renders an application's Summary or Access keys tab.
func (c *Console) application(tab string) func(http.ResponseWriter, *http.Request, *keyhaven.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
		app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
		if err != nil {
			c.fail(w, r, p, err)
			return
		}
		d := appPage{App: app, Tab: tab}
		reach := func(any, own keyhaven.Permission) bool {
			return p.Permissions.Has(any) || p.Permissions.Has(own) && app.CreatedBy == p.UserID
		}
		d.CanView = reach(keyhaven.VIEW_ACCESS_KEYS_ANY, keyhaven.VIEW_ACCESS_KEYS_OWN)
		d.CanCreate = reach(keyhaven.CREATE_ACCESS_KEYS_ANY, keyhaven.CREATE_ACCESS_KEYS_OWN)
		d.CanEdit = reach(keyhaven.EDIT_ACCESS_KEYS_ANY, keyhaven.EDIT_ACCESS_KEYS_OWN)
		d.CanRevoke = reach(keyhaven.REVOKE_ACCESS_KEYS_ANY, keyhaven.REVOKE_ACCESS_KEYS_OWN)
		if tab == "keys" && d.CanView {
			if d.Keys, err = c.svc.ListAccessKeys(ctx(r), p, app.ID, keyhaven.Page{Limit: 200}); err != nil {
				c.fail(w, r, p, err)
				return
			}
		}
		c.render(w, r, p, http.StatusOK, "application", app.Name, "applications", d)
	}
}

func (c *Console) editApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "application_form", "Edit application", "applications",
		appForm{Action: "/applications/" + app.ID + "/edit", Name: app.Name, Description: app.Description, Submit: "Save", Cancel: "/applications/" + app.ID})
}

func (c *Console) updateApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	id := r.PathValue("id")
	f := appForm{Action: "/applications/" + id + "/edit", Submit: "Save", Cancel: "/applications/" + id, Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description")}
	if _, err := c.svc.UpdateApplication(ctx(r), p, id, keyhaven.ApplicationInput{Name: &f.Name, Description: &f.Description}); err != nil {
		c.formError(w, r, p, err, "application_form", "Edit application", "applications", f)
		return
	}
	http.Redirect(w, r, "/applications/"+id, http.StatusSeeOther)
}

type confirmData struct{ Question, Warning, Action, Confirm, Cancel string }

func (c *Console) confirm(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal, title, nav string, d confirmData) {
	c.render(w, r, p, http.StatusOK, "confirm", title, nav, d)
}

func (c *Console) confirmRevokeApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.confirm(w, r, p, "Revoke application", "applications", confirmData{
		Question: fmt.Sprintf("Revoke %s? Every access key in it stops working at once, and this cannot be undone.", app.Name),
		Action:   "/applications/" + app.ID + "/revoke", Confirm: "Revoke application", Cancel: "/applications/" + app.ID})
}

func (c *Console) revokeApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	if _, err := c.svc.RevokeApplication(ctx(r), p, r.PathValue("id")); err != nil {
		c.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/applications", http.StatusSeeOther)
}

// --- access keys

type keyForm struct {
	AppID, Name, Description string
	Scopes                   []string
}

func (c *Console) newAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "key_form", "New access key", "applications", keyForm{AppID: app.ID, Scopes: p.Permissions.Strings()})
}

type createdData struct {
	Heading, Text, SecretLabel, Secret, Close, CloseLabel string
	Rows                                                  [][2]string
}

func (c *Console) createAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	appID := r.PathValue("id")
	f := keyForm{AppID: appID, Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description"), Scopes: p.Permissions.Strings()}
	in := keyhaven.AccessKeyInput{Name: f.Name, Description: f.Description, Scopes: r.PostForm["scopes"]}
	if v := r.PostForm.Get("expiresAt"); v != "" {
		t, err := time.Parse("2006-01-02T15:04", v)
		if err != nil {
			c.formError(w, r, p, keyhaven.Invalid(keyhaven.FieldError{Field: "expiresAt", Message: "must be a date and time"}), "key_form", "New access key", "applications", f)
			return
		}
		in.ExpiresAt = t
	}
	k, secret, err := c.svc.CreateAccessKey(ctx(r), p, appID, in)
	if err != nil {
		c.formError(w, r, p, err, "key_form", "New access key", "applications", f)
		return
	}
	c.render(w, r, p, http.StatusCreated, "created", "Access key created", "applications", createdData{
		Heading: "Access key created", Text: "Securely record your access key now: it is shown only once.",
		Rows:        [][2]string{{"Name", k.Name}, {"Scopes", strings.Join(k.Permissions.Strings(), ", ")}},
		SecretLabel: "Access key", Secret: secret,
		Close: "/applications/" + appID + "/access-keys", CloseLabel: "I have copied my access key - Close",
	})
}

func (c *Console) editAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	id, keyID := r.PathValue("id"), r.PathValue("key")
	k, err := c.svc.AccessKey(ctx(r), p, id, keyID)
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "application_form", "Edit access key", "applications", appForm{
		Action: "/applications/" + id + "/access-keys/" + keyID + "/edit", Name: k.Name, Description: k.Description,
		Submit: "Save", Cancel: "/applications/" + id + "/access-keys"})
}

func (c *Console) updateAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	id, keyID := r.PathValue("id"), r.PathValue("key")
	f := appForm{Action: "/applications/" + id + "/access-keys/" + keyID + "/edit", Name: r.PostForm.Get("name"),
		Description: r.PostForm.Get("description"), Submit: "Save", Cancel: "/applications/" + id + "/access-keys"}
	if _, err := c.svc.UpdateAccessKey(ctx(r), p, id, keyID, keyhaven.AccessKeyUpdate{Name: &f.Name, Description: &f.Description}); err != nil {
		c.formError(w, r, p, err, "application_form", "Edit access key", "applications", f)
		return
	}
	http.Redirect(w, r, "/applications/"+id+"/access-keys", http.StatusSeeOther)
}

func (c *Console) confirmRevokeAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	id, keyID := r.PathValue("id"), r.PathValue("key")
	k, err := c.svc.AccessKey(ctx(r), p, id, keyID)
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.confirm(w, r, p, "Revoke access key", "applications", confirmData{
		Question: fmt.Sprintf("Revoke the access key %s? Calls made with it are refused at once, and this cannot be undone.", k.Name),
		Action:   "/applications/" + id + "/access-keys/" + keyID + "/revoke", Confirm: "Revoke access key", Cancel: "/applications/" + id + "/access-keys"})
}

func (c *Console) revokeAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	id := r.PathValue("id")
	if _, err := c.svc.RevokeAccessKey(ctx(r), p, id, r.PathValue("key")); err != nil {
		c.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/applications/"+id+"/access-keys", http.StatusSeeOther)
}

// --- API keys and users

type permOption struct {
	Name    string
	Checked bool
}

type permsForm struct {
	Action, NameField, NameType, Name, Submit, Cancel string
	PasswordField, ActiveField, Active                bool
	Options                                           []permOption
}

func options(p *keyhaven.Principal, checked keyhaven.PermissionSet) []permOption {
	var out []permOption
	for _, perm := range p.Permissions.List() {
		out = append(out, permOption{Name: string(perm), Checked: checked.Has(perm)})
	}
	return out
}

func (c *Console) apiKeys(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	keys, err := c.svc.ListAPIKeys(ctx(r), p)
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "apikeys", "API keys", "api-keys", keys)
}

func (c *Console) newAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	c.render(w, r, p, http.StatusOK, "perms_form", "New API key", "api-keys", permsForm{Action: "/api-keys", NameField: "Name (letters, digits, underscores)",
		NameType: "text", Submit: "Create", Cancel: "/api-keys", ActiveField: true, Active: true, Options: options(p, 0)})
}

func (c *Console) createAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	active := r.PostForm.Get("active") == "true"
	f := permsForm{Action: "/api-keys", NameField: "Name (letters, digits, underscores)", NameType: "text", Name: r.PostForm.Get("name"),
		Submit: "Create", Cancel: "/api-keys", ActiveField: true, Active: active, Options: options(p, 0)}
	k, secret, err := c.svc.CreateAPIKey(ctx(r), p, keyhaven.APIKeyInput{Name: f.Name, Permissions: r.PostForm["permissions"], Active: &active})
	if err != nil {
		c.formError(w, r, p, err, "perms_form", "New API key", "api-keys", f)
		return
	}
	c.render(w, r, p, http.StatusCreated, "created", "API key created", "api-keys", createdData{
		Heading: "API key created", Text: "Securely record this API key now: it is shown only once.",
		Rows: [][2]string{{"Name", k.Name}}, SecretLabel: "API key", Secret: secret, Close: "/api-keys", CloseLabel: "I have copied my API key - Close"})
}

func (c *Console) apiKeyByName(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) *keyhaven.Credential {
	keys, err := c.svc.ListAPIKeys(ctx(r), p)
	if err != nil {
		c.fail(w, r, p, err)
		return nil
	}
	for _, k := range keys {
		if k.Name == r.PathValue("name") {
			return k
		}
	}
	c.fail(w, r, p, keyhaven.Errorf(keyhaven.ENOTFOUND, "no such API key"))
	return nil
}

func (c *Console) editAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	k := c.apiKeyByName(w, r, p)
	if k == nil {
		return
	}
	c.render(w, r, p, http.StatusOK, "perms_form", "Edit API key "+k.Name, "api-keys", permsForm{Action: "/api-keys/" + k.Name + "/edit",
		Submit: "Save", Cancel: "/api-keys", ActiveField: true, Active: k.Active, Options: options(p, k.Permissions)})
}

func (c *Console) updateAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	name := r.PathValue("name")
	active := r.PostForm.Get("active") == "true"
	perms := r.PostForm["permissions"]
	if _, err := c.svc.UpdateAPIKey(ctx(r), p, name, keyhaven.APIKeyUpdate{Permissions: &perms, Active: &active}); err != nil {
		c.formError(w, r, p, err, "perms_form", "Edit API key "+name, "api-keys", permsForm{Action: "/api-keys/" + name + "/edit",
			Submit: "Save", Cancel: "/api-keys", ActiveField: true, Active: active, Options: options(p, 0)})
		return
	}
	http.Redirect(w, r, "/api-keys", http.StatusSeeOther)
}

func (c *Console) confirmDeleteAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	name := r.PathValue("name")
	c.confirm(w, r, p, "Delete API key", "api-keys", confirmData{Question: "Delete the API key " + name + "? It stops working at once; deactivating it first shows whether it is still in use.",
		Action: "/api-keys/" + name + "/delete", Confirm: "Delete API key", Cancel: "/api-keys"})
}

func (c *Console) deleteAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	if err := c.svc.DeleteAPIKey(ctx(r), p, r.PathValue("name")); err != nil {
		c.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/api-keys", http.StatusSeeOther)
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	users, err := c.svc.ListUsers(ctx(r), p, keyhaven.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "users", "Users", "users", users)
}

func (c *Console) newUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	c.render(w, r, p, http.StatusOK, "perms_form", "New user", "users", permsForm{Action: "/users", NameField: "Email", NameType: "email",
		PasswordField: true, Submit: "Create", Cancel: "/users", Options: options(p, 0)})
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	f := permsForm{Action: "/users", NameField: "Email", NameType: "email", Name: r.PostForm.Get("name"), PasswordField: true,
		Submit: "Create", Cancel: "/users", Options: options(p, 0)}
	in := keyhaven.CreateUserInput{Email: f.Name, Permissions: r.PostForm["permissions"]}
	if pw := r.PostForm.Get("password"); pw != "" {
		in.Password = &pw
	}
	u, generated, err := c.svc.CreateUser(ctx(r), p, in)
	if err != nil {
		c.formError(w, r, p, err, "perms_form", "New user", "users", f)
		return
	}
	if generated == "" {
		http.Redirect(w, r, "/users", http.StatusSeeOther)
		return
	}
	c.render(w, r, p, http.StatusCreated, "created", "User created", "users", createdData{
		Heading: "User created", Text: "Give this password to the user now: it is shown only once.",
		Rows: [][2]string{{"Email", u.Email}}, SecretLabel: "Password", Secret: generated, Close: "/users", CloseLabel: "I have copied the password - Close"})
}

func (c *Console) editUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	u, err := c.svc.User(ctx(r), p, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "perms_form", "Permissions of "+u.Email, "users", permsForm{Action: "/users/" + u.ID + "/edit",
		Submit: "Save", Cancel: "/users", Options: options(p, u.Permissions)})
}

func (c *Console) updateUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	id := r.PathValue("id")
	perms := r.PostForm["permissions"]
	if _, err := c.svc.UpdateUser(ctx(r), p, id, keyhaven.UpdateUserInput{Permissions: &perms}); err != nil {
		c.formError(w, r, p, err, "perms_form", "Permissions", "users", permsForm{Action: "/users/" + id + "/edit", Submit: "Save", Cancel: "/users", Options: options(p, 0)})
		return
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

func (c *Console) confirmDeleteUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	id := r.PathValue("id")
	u, err := c.svc.User(ctx(r), p, id)
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	n, err := c.svc.CountUserCredentials(ctx(r), p, id)
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.confirm(w, r, p, "Delete user", "users", confirmData{
		Question: "Delete " + u.Email + "?",
		Warning:  fmt.Sprintf("%d credentials will stop working at once: the user's sessions, API keys and access keys, and every key in the applications the user created.", n),
		Action:   "/users/" + id + "/delete", Confirm: "Delete user", Cancel: "/users"})
}

func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	if err := c.svc.DeleteUser(ctx(r), p, r.PathValue("id")); err != nil {
		c.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// --- contracts, accesses, batches, audit

func (c *Console) contracts(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	offerings, err := c.svc.ListProductOfferings(ctx(r), p, keyhaven.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	contracts, err := c.svc.ListContracts(ctx(r), p, keyhaven.ContractFilter{Page: keyhaven.Page{Limit: 500}})
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "contracts", "Contracts", "contracts", map[string]any{"Offerings": offerings, "Contracts": contracts})
}

type field struct {
	Name, Label, Type, Value string
	Required                 bool
	Options                  []string
}

// strs returns the values of a typed vocabulary as strings, for a form's options.
func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

type formData struct {
	Action, Submit, Cancel string
	Fields                 []field
}

func contractForm(r *http.Request) formData {
	v := r.FormValue
	return formData{Action: "/contracts", Submit: "Create", Cancel: "/contracts", Fields: []field{
		{Name: "id", Label: "Contract id", Value: v("id"), Required: true},
		{Name: "productOfferingId", Label: "Product offering id", Value: v("productOfferingId"), Required: true},
		{Name: "customerName", Label: "Customer", Value: v("customerName")},
		{Name: "startDate", Label: "Start (UTC)", Type: "datetime-local", Value: v("startDate"), Required: true},
		{Name: "endDate", Label: "End (UTC)", Type: "datetime-local", Value: v("endDate"), Required: true},
		{Name: "status", Label: "Status", Value: v("status"), Options: strs(keyhaven.ContractStatuses)},
	}}
}

func (c *Console) newContract(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	c.render(w, r, p, http.StatusOK, "form", "New contract", "contracts", contractForm(r))
}

func (c *Console) createContract(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	start, err1 := time.Parse("2006-01-02T15:04", r.PostForm.Get("startDate"))
	end, err2 := time.Parse("2006-01-02T15:04", r.PostForm.Get("endDate"))
	var err error
	if err1 != nil || err2 != nil {
		err = keyhaven.Invalid(keyhaven.FieldError{Field: "startDate", Message: "start and end must be dates and times"})
	} else {
		_, err = c.svc.CreateContract(ctx(r), p, keyhaven.ContractInput{ID: r.PostForm.Get("id"), ProductOfferingID: r.PostForm.Get("productOfferingId"),
			CustomerName: r.PostForm.Get("customerName"), StartDate: start, EndDate: end, Status: keyhaven.ContractStatus(r.PostForm.Get("status"))})
	}
	if err != nil {
		c.formError(w, r, p, err, "form", "New contract", "contracts", contractForm(r))
		return
	}
	http.Redirect(w, r, "/contracts", http.StatusSeeOther)
}

func offeringForm(r *http.Request) formData {
	v := r.FormValue
	return formData{Action: "/offerings", Submit: "Create", Cancel: "/contracts", Fields: []field{
		{Name: "id", Label: "Offering id (optional)", Value: v("id")},
		{Name: "name", Label: "Name", Value: v("name"), Required: true},
		{Name: "accessValidityDays", Label: "Access validity in days (optional)", Type: "number", Value: v("accessValidityDays")},
	}}
}

func (c *Console) newOffering(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	c.render(w, r, p, http.StatusOK, "form", "New product offering", "contracts", offeringForm(r))
}

func (c *Console) createOffering(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	days, _ := strconv.Atoi(r.PostForm.Get("accessValidityDays"))
	if _, err := c.svc.CreateProductOffering(ctx(r), p, keyhaven.ProductOfferingInput{ID: r.PostForm.Get("id"), Name: r.PostForm.Get("name"), AccessValidityDays: days}); err != nil {
		c.formError(w, r, p, err, "form", "New product offering", "contracts", offeringForm(r))
		return
	}
	http.Redirect(w, r, "/contracts", http.StatusSeeOther)
}

func (c *Console) accesses(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	q := r.URL.Query()
	f := keyhaven.AccessFilter{ContractID: q.Get("contractId"), Status: keyhaven.AccessStatus(q.Get("status")), Username: q.Get("username"),
		CreatedBy: q.Get("createdBy"), Page: keyhaven.Page{Limit: 200}}
	items, err := c.svc.ListAccesses(ctx(r), p, f)
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "accesses", "Device accesses", "accesses", map[string]any{
		"F": f, "Items": items, "Statuses": keyhaven.AccessStatuses})
}

func batchForm(r *http.Request) formData {
	return formData{Action: "/batches", Submit: "Create accesses", Cancel: "/accesses", Fields: []field{
		{Name: "contractId", Label: "Contract id", Value: r.FormValue("contractId"), Required: true},
		{Name: "numberOfAccesses", Label: "Number of accesses (1 to 100,000)", Type: "number", Value: r.FormValue("numberOfAccesses"), Required: true},
	}}
}

func (c *Console) newBatch(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	c.render(w, r, p, http.StatusOK, "form", "New batch of device accesses", "accesses", batchForm(r))
}

func (c *Console) createBatch(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	n, err := strconv.Atoi(r.PostForm.Get("numberOfAccesses"))
	if err != nil {
		n = 0
	}
	t, err := c.svc.SubmitBatch(ctx(r), p, keyhaven.BatchInput{ContractID: r.PostForm.Get("contractId"), NumberOfAccesses: &n})
	if err != nil {
		c.formError(w, r, p, err, "form", "New batch of device accesses", "accesses", batchForm(r))
		return
	}
	http.Redirect(w, r, "/batches/"+t.ID, http.StatusSeeOther)
}

func (c *Console) batch(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	t, err := c.svc.BatchTaskProgress(ctx(r), p, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "batch", "Batch "+t.ID, "accesses", t)
}

func (c *Console) batchProgress(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	t, err := c.svc.BatchTaskProgress(ctx(r), p, r.PathValue("id"))
	if err != nil {
		http.Error(w, keyhaven.ErrorMessage(err), httpx.Status(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"id": t.ID, "state": t.State, "requested": t.Requested,
		"processed": t.Processed, "created": t.Created, "failed": t.Failed})
}

// csvPage is how many accesses the CSV download reads and writes at a time.
const csvPage = 1000

// batchCSV streams a batch's accesses page by page: however large the batch, it holds one
// page at a time. Once rows are sent an error can no longer change the status, so a failure
// midway aborts the response and the client sees the download cut short rather than
// complete.
func (c *Console) batchCSV(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	id := r.PathValue("id")
	page := keyhaven.Page{Limit: csvPage}
	res, err := c.svc.BatchAccesses(ctx(r), p, id, page)
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+res.Task.ID+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "username", "password", "deviceName", "contractId", "validFrom", "validUntil"})
	for {
		for i, a := range res.Accesses {
			cw.Write(csvRow(a.ID, a.Username, res.Passwords[i], a.DeviceName, a.ContractID,
				a.ValidFrom.Format(time.RFC3339), a.ValidUntil.Format(time.RFC3339)))
		}
		cw.Flush()
		if cw.Error() != nil {
			return // the client went away
		}
		rc.Flush()
		if len(res.Accesses) < page.Limit {
			return
		}
		page.After = keyhaven.BatchCursor(res.Accesses[len(res.Accesses)-1])
		if res, err = c.svc.BatchAccesses(ctx(r), p, id, page); err != nil {
			c.log.ErrorContext(r.Context(), "batch CSV", "task", id, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// csvRow returns cells safe to open in a spreadsheet: a cell that a spreadsheet would take
// for a formula (it starts with = + - @, a tab or a carriage return) gets a leading ', which
// makes it text (OWASP's advice against CSV injection). Any cell may be chosen by a caller
// (device names, passwords), and the person opening the file may not be that caller.
func csvRow(cells ...string) []string {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			cells[i] = "'" + c
		}
	}
	return cells
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) {
	q := r.URL.Query()
	f := keyhaven.AuditFilter{Action: q.Get("action"), Outcome: q.Get("outcome"), Page: keyhaven.Page{Limit: 200}}
	items, err := c.svc.ListAudit(ctx(r), p, f)
	if err != nil {
		c.fail(w, r, p, err)
		return
	}
	c.render(w, r, p, http.StatusOK, "audit", "Audit log", "audit", map[string]any{
		"F": f, "Items": items, "Outcomes": []string{keyhaven.OutcomeSuccess, keyhaven.OutcomeDenied, keyhaven.OutcomeFailure}})
}
