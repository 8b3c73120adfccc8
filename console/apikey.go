package console

import (
	"net/http"
	"net/url"
	"time"

	"keyhaven.dev/keyhaven"
)

func (c *Console) apiKeys(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	keys, err := listed(c, r, p, c.svc.ListAPIKeysPage, func(k *keyhaven.Credential) string { return k.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "apikeys", "API keys", "api-keys", keys)
}

// apiKeyPath is the path of an API key's page.
func apiKeyPath(name string) string { return "/api-keys/" + url.PathEscape(name) }

// apiKeyLabels are the labels of an API key form's fields besides its policy's.
var apiKeyLabels = withLabels(map[string]string{"name": "Name", "permissions": "Permissions", "expires": "Expires"})

func (c *Console) newAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	return c.render(w, r, p, http.StatusOK, "apikey_form", "New API key", "api-keys", keyForm{Action: "/api-keys", Submit: "Create", Cancel: "/api-keys",
		New: true, Active: true, Options: options(p, 0), Policy: policyFields{RefillInterval: string(keyhaven.RefillDaily)}})
}

// expiry reads an API key form's expiry: nil when empty (never).
func expiry(s string) (*time.Time, error) {
	t, err := formTime("expires", s)
	if err != nil || t.IsZero() {
		return nil, err
	}
	return &t, nil
}

func (c *Console) createAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	active := r.PostForm.Get("active") == "true"
	f := keyForm{Action: "/api-keys", Submit: "Create", Cancel: "/api-keys", New: true, Name: r.PostForm.Get("name"), Active: active,
		ExpiresAt: r.PostForm.Get("expires"), Options: optionsChecked(p, r.PostForm["permissions"]), Policy: policyFieldsFrom(r.PostForm)}
	in := keyhaven.APIKeyInput{Name: f.Name, Permissions: r.PostForm["permissions"], Active: &active}
	var err error
	in.Expires, err = expiry(f.ExpiresAt)
	if err == nil {
		in.Policy, err = f.Policy.input()
	}
	var k *keyhaven.Credential
	var secret string
	if err == nil {
		k, secret, err = c.svc.CreateAPIKey(ctx(r), p, in)
	}
	if err != nil {
		return keyFormError(err, "", apiKeyLabels, "apikey_form", "New API key", "api-keys", f)
	}
	return c.showOnce(w, r, p, createdData{
		Heading: "API key created", Text: "Securely record this API key now: it is shown only once.", Nav: "api-keys",
		Rows: [][2]string{{"Name", k.Name}}, SecretLabel: "API key", Secret: secret, Close: apiKeyPath(k.Name), CloseLabel: "I have copied my API key - Close"})
}

// apiKey shows an API key: its permissions, state and policy.
func (c *Console) apiKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	k, err := c.svc.APIKey(ctx(r), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "apikey", "API key "+k.Name, "api-keys", apiKeyPage{Key: k, Usage: c.usagePanel(r, p, k.ID, "API key "+k.Name)})
}

func (c *Console) editAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	k, err := c.svc.APIKey(ctx(r), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "apikey_form", "Edit API key "+k.Name, "api-keys", keyForm{Action: apiKeyPath(k.Name) + "/edit",
		Submit: "Save", Cancel: apiKeyPath(k.Name), Active: k.Active, ExpiresAt: inForm(k.ExpiresAt), WasExpires: inForm(k.ExpiresAt),
		Options: options(p, k.Permissions), Policy: policyFieldsOf(k, c.svc.Now())})
}

func (c *Console) updateAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	name := r.PathValue("name")
	active := r.PostForm.Get("active") == "true"
	perms := r.PostForm["permissions"]
	f := keyForm{Action: apiKeyPath(name) + "/edit", Submit: "Save", Cancel: apiKeyPath(name), Active: active,
		ExpiresAt: r.PostForm.Get("expires"), WasExpires: r.PostForm.Get("was.expires"),
		Options: optionsChecked(p, perms), Policy: policyFieldsFrom(r.PostForm)}
	in := keyhaven.APIKeyUpdate{Permissions: &perms, Active: &active}
	var err error
	// The expiry changes only when the user changed it: the field holds minutes, the key's
	// expiry may hold seconds, and saving the form as loaded keeps them.
	if _, ok := r.PostForm["was.expires"]; !ok || f.ExpiresAt != f.WasExpires {
		var t *time.Time
		if t, err = expiry(f.ExpiresAt); err == nil {
			in.Expires = keyhaven.Some(t)
		}
	}
	if err == nil {
		in.Policy, err = f.Policy.update()
	}
	if err == nil {
		_, err = c.svc.UpdateAPIKey(ctx(r), p, name, in)
	}
	if err != nil {
		return keyFormError(err, "api_key.", apiKeyLabels, "apikey_form", "Edit API key "+name, "api-keys", f)
	}
	http.Redirect(w, r, apiKeyPath(name), http.StatusSeeOther)
	return nil
}

func (c *Console) rotateAPIKeyPage(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	k, err := c.svc.APIKey(ctx(r), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "rotate", "Rotate API key "+k.Name, "api-keys", rotateForm{Kind: "API key", Name: k.Name,
		Action: apiKeyPath(k.Name) + "/rotate", Cancel: apiKeyPath(k.Name), Grace: graceOptions[0].Seconds})
}

// rotateAPIKey gives an API key a new secret and shows it once, as creating one does.
func (c *Console) rotateAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	name := r.PathValue("name")
	f := rotateForm{Kind: "API key", Name: name, Action: apiKeyPath(name) + "/rotate", Cancel: apiKeyPath(name), Grace: r.PostForm.Get("gracePeriodSeconds")}
	g, err := grace(f.Grace)
	var k *keyhaven.Credential
	var secret string
	if err == nil {
		k, secret, err = c.svc.RotateAPIKey(ctx(r), p, name, g)
	}
	if err != nil {
		f.Errors, err = fieldErrors(err, "", nil, graceLabels)
		return refused(err, "rotate", "Rotate API key "+name, "api-keys", f)
	}
	return c.showOnce(w, r, p, createdData{
		Heading: "API key rotated", Text: "Securely record the new API key now: it is shown only once.", Nav: "api-keys",
		Rows: [][2]string{{"Name", k.Name}, {"Old API key", c.oldSecret(g)}}, SecretLabel: "New API key", Secret: secret,
		Close: apiKeyPath(k.Name), CloseLabel: "I have copied my API key - Close"})
}

func (c *Console) confirmDeleteAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	name := r.PathValue("name")
	return c.confirm(w, r, p, "Delete API key", "api-keys", confirmData{Question: "Delete the API key " + name + "? It stops working at once; deactivating it first shows whether it is still in use.",
		Action: apiKeyPath(name) + "/delete", Confirm: "Delete API key", Cancel: apiKeyPath(name)})
}

func (c *Console) deleteAPIKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	if err := c.svc.DeleteAPIKey(ctx(r), p, r.PathValue("name")); err != nil {
		return err
	}
	http.Redirect(w, r, "/api-keys", http.StatusSeeOther)
	return nil
}
