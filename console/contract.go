package console

import (
	"keyhaven.dev/keyhaven"
	"net/http"
	"strconv"
	"time"
)

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
