package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

func (c *Console) contracts(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	q := r.URL.Query()
	f := keyhaven.ContractFilter{ProductOfferingID: q.Get("productOfferingId"), Status: keyhaven.ContractStatus(q.Get("status"))}
	contracts, err := listed(c, r, p, func(ctx context.Context, p *keyhaven.Principal, page keyhaven.Page) ([]*keyhaven.Contract, error) {
		f.Page = page
		return c.svc.ListContracts(ctx, p, f)
	}, func(c *keyhaven.Contract) string { return c.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "contracts", "Contracts", "contracts", map[string]any{"F": f, "Statuses": keyhaven.ContractStatuses,
		"List": contracts})
}

func (c *Console) offerings(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	offerings, err := listed(c, r, p, c.svc.ListProductOfferings, func(o *keyhaven.ProductOffering) string { return o.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "offerings", "Product offerings", "contracts", offerings)
}

// offeringChoices returns the offerings a contract form offers, and whether there are more.
func (c *Console) offeringChoices(r *http.Request, p *keyhaven.Principal) ([]choice, bool, error) {
	offerings, err := c.svc.ListProductOfferings(ctx(r), p, keyhaven.Page{Limit: pickLimit + 1})
	if err != nil {
		return nil, false, err
	}
	var out []choice
	for _, o := range offerings[:min(len(offerings), pickLimit)] {
		out = append(out, choice{o.ID, o.Name + " (" + o.ID + ")"})
	}
	return out, len(offerings) > pickLimit, nil
}

func (c *Console) contractForm(r *http.Request, p *keyhaven.Principal) (formData, error) {
	v := r.FormValue
	offerings, more, err := c.offeringChoices(r, p)
	if err != nil {
		return formData{}, err
	}
	status := v("status")
	if status == "" {
		status = string(keyhaven.ContractActive)
	}
	return formData{Action: "/contracts", Submit: "Create", Cancel: "/contracts", Fields: []field{
		{Name: "id", Label: "Contract id", Value: v("id"), Required: true},
		pick(field{Name: "productOfferingId", Label: "Product offering", Value: v("productOfferingId"), Required: true}, offerings, more),
		{Name: "customerName", Label: "Customer", Value: v("customerName")},
		{Name: "startDate", Label: "Start (UTC)", Type: "datetime-local", Value: v("startDate"), Required: true},
		{Name: "endDate", Label: "End (UTC)", Type: "datetime-local", Value: v("endDate"), Required: true},
		{Name: "status", Label: "Status", Value: status, Options: strs(keyhaven.ContractStatuses)},
	}}, nil
}

func (c *Console) newContract(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	f, err := c.contractForm(r, p)
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "form", "New contract", "contracts", f)
}

func (c *Console) createContract(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	f, err := c.contractForm(r, p)
	if err != nil {
		return err
	}
	start, err := formTime("startDate", r.PostForm.Get("startDate"))
	var end = start
	if err == nil {
		end, err = formTime("endDate", r.PostForm.Get("endDate"))
	}
	if err == nil {
		_, err = c.svc.CreateContract(ctx(r), p, keyhaven.ContractInput{ID: r.PostForm.Get("id"), ProductOfferingID: r.PostForm.Get("productOfferingId"),
			CustomerName: r.PostForm.Get("customerName"), StartDate: start, EndDate: end, Status: keyhaven.ContractStatus(r.PostForm.Get("status"))})
	}
	if err != nil {
		return refused(err, "form", "New contract", "contracts", f)
	}
	http.Redirect(w, r, "/contracts", http.StatusSeeOther)
	return nil
}

// contractPath is the path of a contract's edit form.
func contractPath(id string) string { return "/contracts/" + url.PathEscape(id) }

// editContractForm is the form changing a contract's status and dates; was holds what it was
// filled with (from the contract, or as posted).
func editContractForm(id string, status, start, end string, was map[string]string) formData {
	f := formData{Action: contractPath(id) + "/edit", Submit: "Save", Cancel: "/contracts", Fields: []field{
		{Name: "status", Label: "Status", Value: status, Options: strs(keyhaven.ContractStatuses),
			Hint: "TERMINATED is final; a contract that is not ACTIVE accepts no new accesses"},
		{Name: "startDate", Label: "Start (UTC)", Type: "datetime-local", Value: start, Required: true},
		{Name: "endDate", Label: "End (UTC)", Type: "datetime-local", Value: end, Required: true},
	}}
	for _, name := range []string{"status", "startDate", "endDate"} {
		f.Hidden = append(f.Hidden, hiddenField{"was." + name, was[name]})
	}
	return f
}

func (c *Console) editContract(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	k, err := c.svc.Contract(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	status, start, end := string(k.Status), inForm(k.StartDate), inForm(k.EndDate)
	was := map[string]string{"status": status, "startDate": start, "endDate": end}
	return c.render(w, r, p, http.StatusOK, "form", "Edit contract "+k.ID, "contracts", editContractForm(k.ID, status, start, end, was))
}

// updateContract changes what the user changed of a contract: the form's dates hold minutes,
// the contract's may hold seconds, which saving the form as loaded keeps.
func (c *Console) updateContract(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	form := r.PostForm
	was := map[string]string{}
	for _, name := range []string{"status", "startDate", "endDate"} {
		was[name] = form.Get("was." + name)
	}
	f := editContractForm(id, form.Get("status"), form.Get("startDate"), form.Get("endDate"), was)
	changed := func(name string) bool {
		_, ok := form["was."+name]
		return !ok || form.Get(name) != was[name]
	}
	var in keyhaven.ContractUpdate
	var err error
	if changed("status") {
		s := keyhaven.ContractStatus(form.Get("status"))
		in.Status = &s
	}
	for _, d := range []struct {
		name string
		to   **time.Time
	}{{"startDate", &in.StartDate}, {"endDate", &in.EndDate}} {
		if err == nil && changed(d.name) {
			var t time.Time
			if t, err = formTime(d.name, form.Get(d.name)); err == nil {
				*d.to = &t
			}
		}
	}
	if err == nil && (in.Status != nil || in.StartDate != nil || in.EndDate != nil) {
		_, err = c.svc.UpdateContract(ctx(r), p, id, in)
	}
	if err != nil {
		return refused(err, "form", "Edit contract "+id, "contracts", f)
	}
	http.Redirect(w, r, "/contracts", http.StatusSeeOther)
	return nil
}

func offeringForm(r *http.Request) formData {
	v := r.FormValue
	return formData{Action: "/offerings", Submit: "Create", Cancel: "/offerings", Fields: []field{
		{Name: "id", Label: "Offering id (optional)", Value: v("id")},
		{Name: "name", Label: "Name", Value: v("name"), Required: true},
		{Name: "accessValidityDays", Label: "Access validity in days (optional)", Type: "number", Value: v("accessValidityDays")},
	}}
}

func (c *Console) newOffering(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	return c.render(w, r, p, http.StatusOK, "form", "New product offering", "contracts", offeringForm(r))
}

func (c *Console) createOffering(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	var days int
	var err error
	if s := r.PostForm.Get("accessValidityDays"); !empty(s) {
		if days, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			err = keyhaven.Invalid(keyhaven.FieldError{Field: "accessValidityDays", Message: "must be a whole number of days"})
		}
	}
	if err == nil {
		_, err = c.svc.CreateProductOffering(ctx(r), p, keyhaven.ProductOfferingInput{ID: r.PostForm.Get("id"), Name: r.PostForm.Get("name"), AccessValidityDays: days})
	}
	if err != nil {
		return refused(err, "form", "New product offering", "contracts", offeringForm(r))
	}
	http.Redirect(w, r, "/offerings", http.StatusSeeOther)
	return nil
}
