package console

import (
	"keyhaven"
	"net/http"
)

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
