package console

import (
	"context"
	"net/http"

	"keyhaven.dev/keyhaven"
)

// auditRow is an audit event with the email of the user its actor acted for.
type auditRow struct {
	*keyhaven.AuditEvent
	ActorEmail string
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	q := r.URL.Query()
	f := keyhaven.AuditFilter{Action: q.Get("action"), Outcome: q.Get("outcome")}
	rows, err := listed(c, r, p, func(ctx context.Context, p *keyhaven.Principal, page keyhaven.Page) ([]auditRow, error) {
		f.Page = page
		events, err := c.svc.ListAudit(ctx, p, f)
		if err != nil {
			return nil, err
		}
		// The actors of the whole page are read at once, not one per row.
		emails, err := c.svc.AuditActors(ctx, p, events)
		if err != nil {
			return nil, err
		}
		rows := make([]auditRow, len(events))
		for i, e := range events {
			rows[i] = auditRow{e, emails[e.ActorUserID]}
		}
		return rows, nil
	}, func(e auditRow) string { return e.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "audit", "Audit log", "audit", map[string]any{
		"F": f, "Outcomes": []string{keyhaven.OutcomeSuccess, keyhaven.OutcomeDenied, keyhaven.OutcomeFailure},
		"List": rows})
}
