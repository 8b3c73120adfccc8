package console

import (
	"fmt"
	"net/http"

	"keyhaven.dev/keyhaven"
)

func (c *Console) users(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	users, err := listed(c, r, p, c.svc.ListUsers, func(u *keyhaven.User) string { return u.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "users", "Users", "users", users)
}

func (c *Console) newUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	return c.render(w, r, p, http.StatusOK, "perms_form", "New user", "users", permsForm{Action: "/users", NameField: "Email", NameType: "email",
		PasswordField: true, Submit: "Create", Cancel: "/users", Options: options(p, 0)})
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	f := permsForm{Action: "/users", NameField: "Email", NameType: "email", Name: r.PostForm.Get("name"), PasswordField: true,
		Submit: "Create", Cancel: "/users", Options: optionsChecked(p, r.PostForm["permissions"])}
	in := keyhaven.CreateUserInput{Email: f.Name, Permissions: r.PostForm["permissions"]}
	if pw := r.PostForm.Get("password"); pw != "" {
		in.Password = &pw
	}
	u, generated, err := c.svc.CreateUser(ctx(r), p, in)
	if err != nil {
		return refused(err, "perms_form", "New user", "users", f)
	}
	if generated == "" {
		http.Redirect(w, r, "/users", http.StatusSeeOther)
		return nil
	}
	return c.showOnce(w, r, p, createdData{
		Heading: "User created", Text: "Give this password to the user now: it is shown only once.", Nav: "users",
		Rows: [][2]string{{"Email", u.Email}}, SecretLabel: "Password", Secret: generated, Close: "/users", CloseLabel: "I have copied the password - Close"})
}

func (c *Console) editUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	u, err := c.svc.User(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "perms_form", "Permissions of "+u.Email, "users", permsForm{Action: "/users/" + u.ID + "/edit",
		Submit: "Save", Cancel: "/users", Options: options(p, u.Permissions)})
}

func (c *Console) updateUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	perms := r.PostForm["permissions"]
	if _, err := c.svc.UpdateUser(ctx(r), p, id, keyhaven.UpdateUserInput{Permissions: &perms}); err != nil {
		return refused(err, "perms_form", "Permissions", "users", permsForm{Action: "/users/" + id + "/edit", Submit: "Save", Cancel: "/users",
			Options: optionsChecked(p, perms)})
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
	return nil
}

func (c *Console) confirmDeleteUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	u, err := c.svc.User(ctx(r), p, id)
	if err != nil {
		return err
	}
	n, err := c.svc.CountUserCredentials(ctx(r), p, id)
	if err != nil {
		return err
	}
	return c.confirm(w, r, p, "Delete user", "users", confirmData{
		Question: "Delete " + u.Email + "?",
		Warning:  fmt.Sprintf("%d credentials will stop working at once: the user's sessions, API keys and access keys, and every key in the applications the user created.", n),
		Action:   "/users/" + id + "/delete", Confirm: "Delete user", Cancel: "/users"})
}

func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	if err := c.svc.DeleteUser(ctx(r), p, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
	return nil
}

type passwordData struct{ MinLen int }

// passwordPage is the signed-in user's form to change their own password.
func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	return c.render(w, r, p, http.StatusOK, "password", "Change password", "password", passwordData{keyhaven.MinPasswordLen})
}

// changePassword changes the signed-in user's own password, as the service allows: with the
// current password, through this session, which stays signed in while the others end.
func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	d := passwordData{keyhaven.MinPasswordLen}
	current, next := r.PostForm.Get("current"), r.PostForm.Get("new")
	if next != r.PostForm.Get("confirm") {
		return refused(keyhaven.Errorf(keyhaven.EINVALID, "The new password and its repetition do not match."),
			"password", "Change password", "password", d)
	}
	_, err := c.svc.UpdateUser(ctx(r), p, p.UserID, keyhaven.UpdateUserInput{Password: &next, CurrentPassword: &current})
	if err != nil {
		return refused(labelFields(err, map[string]string{"password": "New password", "currentPassword": "Current password"}),
			"password", "Change password", "password", d)
	}
	return c.render(w, r, p, http.StatusOK, "password", "Change password", "password",
		noticeData{"Your password was changed. Your other sessions were signed out; this one stays signed in.", d})
}
