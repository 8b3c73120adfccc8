package console

import (
	"keyhaven.dev/keyhaven"
	"net/http"
)

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
