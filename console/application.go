package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

func (c *Console) applications(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	apps, err := listed(c, r, p, c.svc.ListApplications, func(a *keyhaven.Application) string { return a.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "applications", "Applications", "applications", apps)
}

type appForm struct{ Action, Name, Description, Submit, Cancel string }

func (c *Console) newApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	return c.render(w, r, p, http.StatusOK, "application_form", "New application", "applications",
		appForm{Action: "/applications", Submit: "Create", Cancel: "/applications"})
}

func (c *Console) createApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	f := appForm{Action: "/applications", Submit: "Create", Cancel: "/applications", Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description")}
	if _, err := c.svc.CreateApplication(ctx(r), p, keyhaven.ApplicationInput{Name: &f.Name, Description: &f.Description}); err != nil {
		return refused(err, "application_form", "New application", "applications", f)
	}
	http.Redirect(w, r, "/applications", http.StatusSeeOther)
	return nil
}

type appPage struct {
	App    *keyhaven.Application
	Tab    string
	Keys   list[*keyhaven.Credential]
	Rights keyhaven.AccessKeyRights
}

// application renders an application's Summary or Access keys tab.
func (c *Console) application(tab string) handler {
	return func(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
		app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
		if err != nil {
			return err
		}
		d := appPage{App: app, Tab: tab, Rights: p.AccessKeyRightsOn(app)}
		if tab == "keys" && d.Rights.View {
			d.Keys, err = listed(c, r, p, func(ctx context.Context, p *keyhaven.Principal, page keyhaven.Page) ([]*keyhaven.Credential, error) {
				return c.svc.ListAccessKeys(ctx, p, app.ID, page)
			}, func(k *keyhaven.Credential) string { return k.ID })
			if err != nil {
				return err
			}
		}
		return c.render(w, r, p, http.StatusOK, "application", app.Name, "applications", d)
	}
}

func (c *Console) editApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "application_form", "Edit application", "applications",
		appForm{Action: "/applications/" + app.ID + "/edit", Name: app.Name, Description: app.Description, Submit: "Save", Cancel: "/applications/" + app.ID})
}

func (c *Console) updateApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	f := appForm{Action: "/applications/" + id + "/edit", Submit: "Save", Cancel: "/applications/" + id, Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description")}
	if _, err := c.svc.UpdateApplication(ctx(r), p, id, keyhaven.ApplicationInput{Name: &f.Name, Description: &f.Description}); err != nil {
		return refused(err, "application_form", "Edit application", "applications", f)
	}
	http.Redirect(w, r, "/applications/"+id, http.StatusSeeOther)
	return nil
}

func (c *Console) confirmRevokeApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.confirm(w, r, p, "Revoke application", "applications", confirmData{
		Question: fmt.Sprintf("Revoke %s? Every access key in it stops working at once, and this cannot be undone.", app.Name),
		Action:   "/applications/" + app.ID + "/revoke", Confirm: "Revoke application", Cancel: "/applications/" + app.ID})
}

func (c *Console) revokeApplication(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	if _, err := c.svc.RevokeApplication(ctx(r), p, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/applications", http.StatusSeeOther)
	return nil
}

// accessKeyPath is the path of an access key's page.
func accessKeyPath(appID, id string) string {
	return "/applications/" + url.PathEscape(appID) + "/access-keys/" + url.PathEscape(id)
}

// accessKeyLabels are the labels of an access key form's fields besides its policy's.
var accessKeyLabels = withLabels(map[string]string{"name": "Name", "description": "Description", "scopes": "Scopes", "expiresAt": "Expires"})

func (c *Console) newAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "key_form", "New access key", "applications", keyForm{Action: "/applications/" + app.ID + "/access-keys",
		Submit: "Create", Cancel: "/applications/" + app.ID + "/access-keys", New: true, Options: options(p, 0),
		Policy: policyFields{RefillInterval: string(keyhaven.RefillDaily)}})
}

// dateTimeLocal is how a datetime-local field holds a time (UTC in the console's forms).
const dateTimeLocal = "2006-01-02T15:04"

// formTime reads a datetime-local field in UTC: zero when empty.
func formTime(field, s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(dateTimeLocal, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, keyhaven.Invalid(keyhaven.FieldError{Field: field, Message: "must be a date and time"})
	}
	return t, nil
}

// inForm returns t as a datetime-local field shows it, in UTC: "" for the zero time.
func inForm(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dateTimeLocal)
}

func (c *Console) createAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	appID := r.PathValue("id")
	f := keyForm{Action: "/applications/" + appID + "/access-keys", Submit: "Create", Cancel: "/applications/" + appID + "/access-keys", New: true,
		Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description"), ExpiresAt: r.PostForm.Get("expiresAt"),
		Options: optionsChecked(p, r.PostForm["scopes"]), Policy: policyFieldsFrom(r.PostForm)}
	in := keyhaven.AccessKeyInput{Name: f.Name, Description: f.Description, Scopes: r.PostForm["scopes"]}
	var err error
	in.ExpiresAt, err = formTime("expiresAt", f.ExpiresAt)
	if err == nil {
		in.Policy, err = f.Policy.input()
	}
	var k *keyhaven.Credential
	var secret string
	if err == nil {
		k, secret, err = c.svc.CreateAccessKey(ctx(r), p, appID, in)
	}
	if err != nil {
		return keyFormError(err, "", accessKeyLabels, "key_form", "New access key", "applications", f)
	}
	return c.showOnce(w, r, p, createdData{
		Heading: "Access key created", Text: "Securely record your access key now: it is shown only once.", Nav: "applications",
		Rows:        [][2]string{{"Name", k.Name}, {"Scopes", strings.Join(k.Permissions.Strings(), ", ")}},
		SecretLabel: "Access key", Secret: secret,
		Close: "/applications/" + appID + "/access-keys", CloseLabel: "I have copied my access key - Close",
	})
}

type accessKeyPage struct {
	App    *keyhaven.Application
	Key    *keyhaven.Credential
	Usage  usageHTML // its usage chart, for those who may read usage
	Rights keyhaven.AccessKeyRights
}

// accessKey shows an access key: its scopes, state and policy.
func (c *Console) accessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	app, err := c.svc.Application(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	k, err := c.svc.AccessKey(ctx(r), p, app.ID, r.PathValue("key"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "access_key", "Access key "+k.Name, "applications", accessKeyPage{App: app, Key: k,
		Usage: c.usagePanel(r, p, k.ID, "access key "+k.Name), Rights: p.AccessKeyRightsOn(app)})
}

func (c *Console) editAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id, keyID := r.PathValue("id"), r.PathValue("key")
	k, err := c.svc.AccessKey(ctx(r), p, id, keyID)
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "key_form", "Edit access key", "applications", keyForm{
		Action: accessKeyPath(id, keyID) + "/edit", Name: k.Name, Description: k.Description,
		Submit: "Save", Cancel: accessKeyPath(id, keyID), Policy: policyFieldsOf(k, c.svc.Now())})
}

func (c *Console) updateAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id, keyID := r.PathValue("id"), r.PathValue("key")
	f := keyForm{Action: accessKeyPath(id, keyID) + "/edit", Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description"),
		Submit: "Save", Cancel: accessKeyPath(id, keyID), Policy: policyFieldsFrom(r.PostForm)}
	policy, err := f.Policy.update()
	if err == nil {
		_, err = c.svc.UpdateAccessKey(ctx(r), p, id, keyID, keyhaven.AccessKeyUpdate{Name: &f.Name, Description: &f.Description, Policy: policy})
	}
	if err != nil {
		return keyFormError(err, "", accessKeyLabels, "key_form", "Edit access key", "applications", f)
	}
	http.Redirect(w, r, accessKeyPath(id, keyID), http.StatusSeeOther)
	return nil
}

func (c *Console) rotateAccessKeyPage(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id, keyID := r.PathValue("id"), r.PathValue("key")
	k, err := c.svc.AccessKey(ctx(r), p, id, keyID)
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "rotate", "Rotate access key", "applications", rotateForm{Kind: "access key", Name: k.Name,
		Action: accessKeyPath(id, keyID) + "/rotate", Cancel: accessKeyPath(id, keyID), Grace: graceOptions[0].Seconds})
}

// rotateAccessKey gives an access key a new secret and shows it once, as creating one does.
func (c *Console) rotateAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id, keyID := r.PathValue("id"), r.PathValue("key")
	f := rotateForm{Kind: "access key", Name: r.PostForm.Get("name"), Action: accessKeyPath(id, keyID) + "/rotate", Cancel: accessKeyPath(id, keyID),
		Grace: r.PostForm.Get("gracePeriodSeconds")}
	g, err := grace(f.Grace)
	var k *keyhaven.Credential
	var secret string
	if err == nil {
		k, secret, err = c.svc.RotateAccessKey(ctx(r), p, id, keyID, g)
	}
	if err != nil {
		f.Errors, err = fieldErrors(err, "", nil, graceLabels)
		return refused(err, "rotate", "Rotate access key", "applications", f)
	}
	return c.showOnce(w, r, p, createdData{
		Heading: "Access key rotated", Text: "Securely record the new access key now: it is shown only once.", Nav: "applications",
		Rows:        [][2]string{{"Name", k.Name}, {"Old access key", c.oldSecret(g)}},
		SecretLabel: "New access key", Secret: secret,
		Close: accessKeyPath(id, keyID), CloseLabel: "I have copied my access key - Close",
	})
}

func (c *Console) confirmRevokeAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id, keyID := r.PathValue("id"), r.PathValue("key")
	k, err := c.svc.AccessKey(ctx(r), p, id, keyID)
	if err != nil {
		return err
	}
	return c.confirm(w, r, p, "Revoke access key", "applications", confirmData{
		Question: fmt.Sprintf("Revoke the access key %s? Calls made with it are refused at once, and this cannot be undone.", k.Name),
		Action:   accessKeyPath(id, keyID) + "/revoke", Confirm: "Revoke access key", Cancel: "/applications/" + id + "/access-keys"})
}

func (c *Console) revokeAccessKey(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	if _, err := c.svc.RevokeAccessKey(ctx(r), p, id, r.PathValue("key")); err != nil {
		return err
	}
	http.Redirect(w, r, "/applications/"+id+"/access-keys", http.StatusSeeOther)
	return nil
}
