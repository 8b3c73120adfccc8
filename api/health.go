package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven/internal/httpx"
)

// HealthStatus is the answer of the health checks.
type HealthStatus struct {
	Status string `json:"status" example:"ok"`
}

type statusBody struct {
	Body HealthStatus
}

func (s *Server) registerHealth() {
	huma.Register(s.api, op(huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"health"},
		Summary: "Report that the process is up",
	}, false), func(ctx context.Context, _ *struct{}) (*statusBody, error) {
		out := &statusBody{}
		out.Body.Status = "ok"
		return out, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"health"},
		Summary: "Report that the database is reachable", Errors: []int{http.StatusServiceUnavailable},
	}, false), func(ctx context.Context, _ *struct{}) (*statusBody, error) {
		if err := s.svc.Ping(ctx); err != nil {
			httpx.Logger(ctx).ErrorContext(ctx, "readiness check failed", "err", err)
			return nil, huma.Error503ServiceUnavailable("database unreachable")
		}
		out := &statusBody{}
		out.Body.Status = "ok"
		return out, nil
	})
}
