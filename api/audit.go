package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
)

type listAuditInput struct {
	TenantPath
	PageParams
	Action  string `query:"action" maxLength:"64" doc:"Only events of this action, e.g. user.create"`
	ActorID string `query:"actorId" maxLength:"64" doc:"Only events by this credential"`
	Outcome string `query:"outcome" enum:"success,denied,failure" doc:"Only events with this outcome"`
}

func (s *Server) registerAudit() {
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listAudit", Method: http.MethodGet, Path: "/api/{tenant}/audit", Tags: []string{"audit"},
		Summary: "Read the tenant's audit log, newest first", Description: "Needs AUDIT_READ.",
	}, true), func(ctx context.Context, in *listAuditInput) (*listOutput[*keyhaven.AuditEvent], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		events, err := s.svc.ListAudit(ctx, principal(ctx), keyhaven.AuditFilter{
			Action: in.Action, ActorID: in.ActorID, Outcome: in.Outcome, Page: pg,
		})
		if err != nil {
			return nil, err
		}
		same := func(e *keyhaven.AuditEvent) *keyhaven.AuditEvent { return e }
		return newList(s, events, pg, same, func(e *keyhaven.AuditEvent) string { return e.ID }), nil
	})
}
