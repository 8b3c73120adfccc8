package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
)

type usageInput struct {
	TenantPath
	CredentialID string    `query:"credentialId" maxLength:"64" doc:"An API key, access key or device access of the tenant (its id); the tenant's totals when omitted"`
	From         time.Time `query:"from" doc:"Start of the period, rounded down to the start of its bucket. Default: 1 hour (MINUTE), 24 hours (HOUR) or 30 days (DAY) before the end of to's bucket"`
	To           time.Time `query:"to" doc:"End of the period, rounded up to the end of its bucket. Default: now"`
	Granularity  string    `query:"granularity" enum:"MINUTE,HOUR,DAY" doc:"Width of the buckets, aligned in UTC (a day starts at midnight UTC). Default: HOUR"`
}

// Usage is the usage of a credential or tenant over a period.
type Usage struct {
	Series []UsageBucket `json:"series" doc:"One bucket per step of the granularity from from to to, oldest first, buckets without uses included"`
}

// UsageBucket is the uses counted in one bucket.
type UsageBucket struct {
	Start    time.Time        `json:"start" doc:"Start of the bucket"`
	Outcomes map[string]int64 `json:"outcomes" doc:"Uses by outcome: a verify code (VALID, RATE_LIMITED, ...), WRONG_TENANT or a device verification code. Every bucket lists the same outcomes, 0 where there were none"`
}

func (s *Server) registerUsage() {
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getUsage", Method: http.MethodGet, Path: "/api/{tenant}/usage", Tags: []string{"usage"},
		Summary: "Count the uses of a credential or of the tenant, by outcome over time",
		Description: "Needs USAGE_READ. Every verification and every use of keyhaven's API by an API key, access key or device access, " +
			"per outcome; counts reach this answer at most 10 seconds after the use and are then exact across nodes. " +
			"MINUTE buckets are kept 48 hours, HOUR and DAY buckets 90 days. At most 2160 buckets (400 past that). " +
			"Without credentialId, the tenant's totals, which also count verifications by the tenant's own credentials of secrets that are none of its keys. " +
			"404 for an id that is none of the tenant's credentials.",
		Errors: []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *usageInput) (*struct{ Body Usage }, error) {
		series, err := s.svc.Usage(ctx, principal(ctx), keyhaven.UsageQuery{CredentialID: in.CredentialID, From: in.From, To: in.To,
			Granularity: keyhaven.Granularity(in.Granularity)})
		if err != nil {
			return nil, err
		}
		out := Usage{Series: make([]UsageBucket, len(series.Buckets))}
		for i, b := range series.Buckets {
			outcomes := make(map[string]int64, len(b.Outcomes))
			for o, n := range b.Outcomes {
				outcomes[string(o)] = n
			}
			out.Series[i] = UsageBucket{Start: b.Start, Outcomes: outcomes}
		}
		return &struct{ Body Usage }{out}, nil
	})
}
