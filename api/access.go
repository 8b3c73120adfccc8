package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/view"
)

// Access is a device access as the API shows it (see package view).
type Access = view.Access

func toAccess(tenant string, a *keyhaven.Access) Access { return keyhaven.ViewAccess(tenant, a) }

// AccessItem is one access to create.
type AccessItem struct {
	Username   string  `json:"username,omitempty" maxLength:"64" doc:"Generated when omitted; unique within the tenant"`
	Password   *string `json:"password,omitempty" maxLength:"256" doc:"Generated (at least 128 random bits) when omitted"`
	DeviceName string  `json:"deviceName,omitempty" maxLength:"100" doc:"The username when omitted"`
}

func (it AccessItem) input() keyhaven.AccessInput {
	return keyhaven.AccessInput{Username: it.Username, Password: it.Password, DeviceName: it.DeviceName}
}

type createAccessInput struct {
	TenantPath
	Body struct {
		ContractID string `json:"contractId" maxLength:"64"`
		AccessItem
	}
}

// AccessPath names an access.
type AccessPath struct {
	TenantPath
	ID string `path:"id" maxLength:"64"`
}

type updateAccessInput struct {
	AccessPath
	// The contract takes the change as a JSON merge patch only: another media type is 415.
	Body struct {
		Password *string                `json:"password,omitempty" maxLength:"256"`
		Status   *keyhaven.AccessStatus `json:"status,omitempty" enum:"ACTIVE,SUSPENDED,TERMINATED" doc:"TERMINATED is final"`
	} `contentType:"application/merge-patch+json"`
}

type listAccessesInput struct {
	TenantPath
	PageParams
	ContractID    string                `query:"contractId" maxLength:"64"`
	Status        keyhaven.AccessStatus `query:"status" enum:"ACTIVE,SUSPENDED,TERMINATED"`
	CreatedBy     string                `query:"createdBy" maxLength:"64" doc:"A user id or a batch task id"`
	Username      string                `query:"username" maxLength:"64"`
	DeviceName    string                `query:"deviceName" maxLength:"100"`
	CreatedAfter  time.Time             `query:"createdAfter" doc:"Created at or after this time"`
	CreatedBefore time.Time             `query:"createdBefore" doc:"Created before this time"`
	ValidAt       time.Time             `query:"validAt" doc:"Valid at this time"`
}

type verifyAccessInput struct {
	TenantPath
	Body struct {
		Username string `json:"username" maxLength:"64"`
		Password string `json:"password" maxLength:"256"`
	}
}

// AccessVerification is the answer to a device's authentication.
type AccessVerification struct {
	Valid  bool    `json:"valid"`
	Code   string  `json:"code" enum:"VALID,INVALID_CREDENTIALS,NOT_YET_VALID,EXPIRED,SUSPENDED,TERMINATED"`
	Access *Access `json:"access,omitempty" doc:"The access, when the password was right"`
}

func (s *Server) registerAccesses() {
	tags := []string{"device accesses"}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createAccess", Method: http.MethodPost, Path: "/api/{tenant}/access", Tags: tags,
		Summary: "Create one device access", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Needs ACCESS_MANAGEMENT. Synchronous; the password is in this response only. " +
			"409 when the username is taken or the contract accepts no new accesses. Honours Idempotency-Key.",
	}, true), func(ctx context.Context, in *createAccessInput) (*struct{ Body Access }, error) {
		p := principal(ctx)
		a, password, err := s.svc.CreateAccess(ctx, p, in.Body.ContractID, in.Body.AccessItem.input())
		if err != nil {
			return nil, err
		}
		out := toAccess(p.TenantName, a)
		out.Password = password
		return &struct{ Body Access }{out}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listAccesses", Method: http.MethodGet, Path: "/api/{tenant}/access", Tags: tags,
		Summary: "List device accesses", Description: "Needs ACCESS_MANAGEMENT. Never shows a password.",
	}, true), func(ctx context.Context, in *listAccessesInput) (*listOutput[Access], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		p := principal(ctx)
		items, err := s.svc.ListAccesses(ctx, p, keyhaven.AccessFilter{
			ContractID: in.ContractID, Status: in.Status, CreatedBy: in.CreatedBy, Username: in.Username, DeviceName: in.DeviceName,
			CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore, ValidAt: in.ValidAt, Page: pg,
		})
		if err != nil {
			return nil, err
		}
		return newList(s, items, pg, func(a *keyhaven.Access) Access { return toAccess(p.TenantName, a) },
			func(a *keyhaven.Access) string { return a.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getAccess", Method: http.MethodGet, Path: "/api/{tenant}/access/{id}", Tags: tags,
		Summary: "Get a device access", Errors: []int{http.StatusNotFound}, Description: "Never shows the password.",
	}, true), func(ctx context.Context, in *AccessPath) (*struct{ Body Access }, error) {
		p := principal(ctx)
		a, err := s.svc.Access(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body Access }{toAccess(p.TenantName, a)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "updateAccess", Method: http.MethodPatch, Path: "/api/{tenant}/access/{id}", Tags: tags,
		Summary: "Change a device access's password or status", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "A JSON merge patch (Content-Type: application/merge-patch+json) naming password and/or status, " +
			"nothing else. Another content type is 415; {}, nulls and other fields are 400. TERMINATED is final.",
	}, true), func(ctx context.Context, in *updateAccessInput) (*struct{ Body Access }, error) {
		p := principal(ctx)
		a, err := s.svc.UpdateAccess(ctx, p, in.ID, keyhaven.AccessUpdate{Password: in.Body.Password, Status: in.Body.Status})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Access }{toAccess(p.TenantName, a)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "verifyAccess", Method: http.MethodPost, Path: "/api/{tenant}/access/verify", Tags: tags,
		Summary: "Authenticate a device by username and password",
		Description: "Any credential of the tenant may ask. 200 for a well-formed request; the code says why an access is not valid. " +
			"After too many wrong passwords for one username, 429 until its budget refills.",
		Errors: []int{http.StatusTooManyRequests},
	}, true), func(ctx context.Context, in *verifyAccessInput) (*struct{ Body AccessVerification }, error) {
		p := principal(ctx)
		v, err := s.svc.Judge(ctx, keyhaven.Use{Device: &keyhaven.DeviceLogin{Username: in.Body.Username, Password: in.Body.Password}, Caller: p})
		if err != nil {
			return nil, err
		}
		out := AccessVerification{Valid: v.Valid(), Code: string(v.Code)}
		if v.Access != nil {
			a := toAccess(p.TenantName, v.Access)
			out.Access = &a
		}
		return &struct{ Body AccessVerification }{out}, nil
	})
}
