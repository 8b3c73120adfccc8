package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven"
)

type listAuditInput struct {
	TenantPath
	PageParams
	Action  string `query:"action" maxLength:"64" doc:"Only events of this action, e.g. user.create"`
	ActorID string `query:"actorId" maxLength:"64" doc:"Only events by this credential"`
	Outcome string `query:"outcome" enum:"success,denied,failure" doc:"Only events with this outcome"`
}

type auditListOutput struct {
	Body struct {
		Items      []*keyhaven.AuditEvent `json:"items"`
		NextCursor string                 `json:"nextCursor,omitempty"`
	}
}

func (s *Server) registerAudit() {
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listAudit", Method: http.MethodGet, Path: "/api/{tenant}/audit", Tags: []string{"audit"},
		Summary: "Read the tenant's audit log, newest first", Description: "Needs AUDIT_READ.",
	}, true), func(ctx context.Context, in *listAuditInput) (*auditListOutput, error) {
		pg, err := in.page()
		if err != nil {
			return nil, err
		}
		events, err := s.svc.ListAudit(ctx, principal(ctx), keyhaven.AuditFilter{
			Action: in.Action, ActorID: in.ActorID, Outcome: in.Outcome, Page: pg,
		})
		if err != nil {
			return nil, err
		}
		out := &auditListOutput{}
		out.Body.Items = events
		if out.Body.Items == nil {
			out.Body.Items = []*keyhaven.AuditEvent{}
		}
		if len(events) > 0 {
			out.Body.NextCursor = nextCursor(len(events), pg, events[len(events)-1].ID)
		}
		return out, nil
	})
}
