package console

import (
	"context"
	"net/http"
	"net/url"

	"keyhaven.dev/keyhaven"
)

func (c *Console) accesses(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	q := r.URL.Query()
	f := keyhaven.AccessFilter{ContractID: q.Get("contractId"), Status: keyhaven.AccessStatus(q.Get("status")), Username: q.Get("username"),
		CreatedBy: q.Get("createdBy")}
	items, err := listed(c, r, p, func(ctx context.Context, p *keyhaven.Principal, page keyhaven.Page) ([]*keyhaven.Access, error) {
		f.Page = page
		return c.svc.ListAccesses(ctx, p, f)
	}, func(a *keyhaven.Access) string { return a.ID })
	if err != nil {
		return err
	}
	contracts, _, err := c.contractChoices(r, p, "")
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "accesses", "Device accesses", "accesses", map[string]any{
		"F": f, "Statuses": keyhaven.AccessStatuses, "Contracts": contracts,
		"List": items})
}

// contractChoices returns the contracts of a status ("" for any) that a form offers, and
// whether there are more.
func (c *Console) contractChoices(r *http.Request, p *keyhaven.Principal, status keyhaven.ContractStatus) ([]choice, bool, error) {
	contracts, err := c.svc.ListContracts(ctx(r), p, keyhaven.ContractFilter{Status: status, Page: keyhaven.Page{Limit: pickLimit + 1}})
	if err != nil {
		return nil, false, err
	}
	var out []choice
	for _, k := range contracts[:min(len(contracts), pickLimit)] {
		label := k.ID
		if k.CustomerName != "" {
			label += " (" + k.CustomerName + ")"
		}
		out = append(out, choice{k.ID, label})
	}
	return out, len(contracts) > pickLimit, nil
}

// accessPath is the path of an access's page.
func accessPath(id string) string { return "/accesses/" + url.PathEscape(id) }

// access shows a device access (never its password).
func (c *Console) access(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	a, err := c.svc.Access(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "access", "Access "+a.Username, "accesses", a)
}

// accessForm changes an access's status or password; was is the status it was filled with.
func accessForm(a *keyhaven.Access, status, was string) formData {
	return formData{Action: accessPath(a.ID) + "/edit", Submit: "Save", Cancel: accessPath(a.ID), Hidden: []hiddenField{{"was.status", was}}, Fields: []field{
		{Name: "status", Label: "Status", Value: status, Options: strs(keyhaven.AccessStatuses),
			Hint: "TERMINATED is final"},
		{Name: "password", Label: "New password", Type: "password",
			Hint: "leave empty to keep the password; the device signs in with the new one from now on"},
	}}
}

func (c *Console) editAccess(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	a, err := c.svc.Access(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "form", "Edit access "+a.Username, "accesses", accessForm(a, string(a.Status), string(a.Status)))
}

func (c *Console) updateAccess(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	a, err := c.svc.Access(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	// The status changes only when the user changed it, so that saving a new password does
	// not undo a change someone else made since the form was loaded.
	var in keyhaven.AccessUpdate
	status, was := r.PostForm.Get("status"), r.PostForm.Get("was.status")
	if _, ok := r.PostForm["was.status"]; !ok || status != was {
		s := keyhaven.AccessStatus(status)
		in.Status = &s
	}
	if pw := r.PostForm.Get("password"); pw != "" {
		in.Password = &pw
	}
	if in.Status != nil || in.Password != nil {
		if _, err := c.svc.UpdateAccess(ctx(r), p, a.ID, in); err != nil {
			return refused(err, "form", "Edit access "+a.Username, "accesses", accessForm(a, status, was))
		}
	}
	http.Redirect(w, r, accessPath(a.ID), http.StatusSeeOther)
	return nil
}
