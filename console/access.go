package console

import (
	"keyhaven.dev/keyhaven"
	"net/http"
)

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
