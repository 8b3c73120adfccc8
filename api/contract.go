package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
)

// ProductOffering is a product offering as the API shows it.
type ProductOffering struct {
	ID                 string    `json:"id" example:"gold"`
	Name               string    `json:"name"`
	AccessValidityDays int       `json:"accessValidityDays,omitempty" doc:"When set, each access lasts at most this many days"`
	CreatedAt          time.Time `json:"createdAt"`
}

func toOffering(o *keyhaven.ProductOffering) ProductOffering {
	return ProductOffering{ID: o.ID, Name: o.Name, AccessValidityDays: o.AccessValidityDays, CreatedAt: o.CreatedAt}
}

// Contract is a contract as the API shows it.
type Contract struct {
	ID                string                  `json:"id" example:"contract-001"`
	ProductOfferingID string                  `json:"productOfferingId"`
	CustomerName      string                  `json:"customerName"`
	StartDate         time.Time               `json:"startDate"`
	EndDate           time.Time               `json:"endDate"`
	Status            keyhaven.ContractStatus `json:"status" enum:"ACTIVE,SUSPENDED,TERMINATED"`
	CreatedAt         time.Time               `json:"createdAt"`
	UpdatedAt         time.Time               `json:"updatedAt"`
}

func toContract(c *keyhaven.Contract) Contract {
	return Contract{ID: c.ID, ProductOfferingID: c.ProductOfferingID, CustomerName: c.CustomerName, StartDate: c.StartDate,
		EndDate: c.EndDate, Status: c.Status, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type createOfferingInput struct {
	TenantPath
	Body struct {
		ID                 string `json:"id,omitempty" maxLength:"64" doc:"Chosen by the caller; generated when omitted"`
		Name               string `json:"name" maxLength:"100"`
		AccessValidityDays int    `json:"accessValidityDays,omitempty" minimum:"1" maximum:"36500"`
	}
}

type offeringPath struct {
	TenantPath
	ID string `path:"id" maxLength:"64"`
}

type listOfferingsInput struct {
	TenantPath
	PageParams
}

type createContractInput struct {
	TenantPath
	Body struct {
		ID                string                  `json:"id" maxLength:"64" doc:"Chosen by the caller, e.g. contract-001"`
		ProductOfferingID string                  `json:"productOfferingId" maxLength:"64"`
		CustomerName      string                  `json:"customerName,omitempty" maxLength:"200"`
		StartDate         time.Time               `json:"startDate"`
		EndDate           time.Time               `json:"endDate"`
		Status            keyhaven.ContractStatus `json:"status,omitempty" enum:"ACTIVE,SUSPENDED,TERMINATED" doc:"ACTIVE when omitted"`
	}
}

type updateContractInput struct {
	ContractPath
	Body struct {
		Status    *keyhaven.ContractStatus `json:"status,omitempty" enum:"ACTIVE,SUSPENDED,TERMINATED" doc:"TERMINATED is final"`
		StartDate *time.Time               `json:"startDate,omitempty"`
		EndDate   *time.Time               `json:"endDate,omitempty"`
	}
}

// ContractPath names a contract.
type ContractPath struct {
	TenantPath
	ID string `path:"id" maxLength:"64"`
}

type listContractsInput struct {
	TenantPath
	PageParams
	ProductOfferingID string                  `query:"productOfferingId" maxLength:"64"`
	Status            keyhaven.ContractStatus `query:"status" enum:"ACTIVE,SUSPENDED,TERMINATED"`
}

type listOutput[T any] struct {
	Body struct {
		Items      []T    `json:"items"`
		NextCursor string `json:"nextCursor,omitempty"`
	}
}

// newList builds a page of items converted by conv, with the cursor after the last one.
func newList[S, T any](s *Server, items []S, pg keyhaven.Page, conv func(S) T, id func(S) string) *listOutput[T] {
	out := &listOutput[T]{}
	out.Body.Items = make([]T, len(items))
	for i, it := range items {
		out.Body.Items[i] = conv(it)
	}
	if len(items) > 0 {
		out.Body.NextCursor = s.nextCursor(len(items), pg, id(items[len(items)-1]))
	}
	return out
}

func (s *Server) registerContracts() {
	tags := []string{"contracts"}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createProductOffering", Method: http.MethodPost, Path: "/api/{tenant}/product-offerings", Tags: tags,
		Summary: "Create a product offering", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Needs CONTRACT_MANAGEMENT.",
	}, true), func(ctx context.Context, in *createOfferingInput) (*struct{ Body ProductOffering }, error) {
		o, err := s.svc.CreateProductOffering(ctx, principal(ctx), keyhaven.ProductOfferingInput{
			ID: in.Body.ID, Name: in.Body.Name, AccessValidityDays: in.Body.AccessValidityDays})
		if err != nil {
			return nil, err
		}
		return &struct{ Body ProductOffering }{toOffering(o)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listProductOfferings", Method: http.MethodGet, Path: "/api/{tenant}/product-offerings", Tags: tags,
		Summary: "List product offerings", Description: "Needs CONTRACT_MANAGEMENT or ACCESS_MANAGEMENT.",
	}, true), func(ctx context.Context, in *listOfferingsInput) (*listOutput[ProductOffering], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		items, err := s.svc.ListProductOfferings(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		return newList(s, items, pg, toOffering, func(o *keyhaven.ProductOffering) string { return o.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getProductOffering", Method: http.MethodGet, Path: "/api/{tenant}/product-offerings/{id}", Tags: tags,
		Summary: "Get a product offering", Errors: []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *offeringPath) (*struct{ Body ProductOffering }, error) {
		o, err := s.svc.ProductOffering(ctx, principal(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body ProductOffering }{toOffering(o)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createContract", Method: http.MethodPost, Path: "/api/{tenant}/contracts", Tags: tags,
		Summary: "Create a contract", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Needs CONTRACT_MANAGEMENT. The contract decides each access's validity period and whether it accepts new accesses.",
	}, true), func(ctx context.Context, in *createContractInput) (*struct{ Body Contract }, error) {
		c, err := s.svc.CreateContract(ctx, principal(ctx), keyhaven.ContractInput{
			ID: in.Body.ID, ProductOfferingID: in.Body.ProductOfferingID, CustomerName: in.Body.CustomerName,
			StartDate: in.Body.StartDate, EndDate: in.Body.EndDate, Status: in.Body.Status})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Contract }{toContract(c)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listContracts", Method: http.MethodGet, Path: "/api/{tenant}/contracts", Tags: tags,
		Summary: "List contracts", Description: "Needs CONTRACT_MANAGEMENT or ACCESS_MANAGEMENT.",
	}, true), func(ctx context.Context, in *listContractsInput) (*listOutput[Contract], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		items, err := s.svc.ListContracts(ctx, principal(ctx), keyhaven.ContractFilter{ProductOfferingID: in.ProductOfferingID, Status: in.Status, Page: pg})
		if err != nil {
			return nil, err
		}
		return newList(s, items, pg, toContract, func(c *keyhaven.Contract) string { return c.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getContract", Method: http.MethodGet, Path: "/api/{tenant}/contracts/{id}", Tags: tags,
		Summary: "Get a contract", Errors: []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *ContractPath) (*struct{ Body Contract }, error) {
		c, err := s.svc.Contract(ctx, principal(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body Contract }{toContract(c)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "updateContract", Method: http.MethodPatch, Path: "/api/{tenant}/contracts/{id}", Tags: tags,
		Summary: "Change a contract's status or dates", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "Needs CONTRACT_MANAGEMENT.",
	}, true), func(ctx context.Context, in *updateContractInput) (*struct{ Body Contract }, error) {
		c, err := s.svc.UpdateContract(ctx, principal(ctx), in.ID, keyhaven.ContractUpdate{
			Status: in.Body.Status, StartDate: in.Body.StartDate, EndDate: in.Body.EndDate})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Contract }{toContract(c)}, nil
	})
	s.documentMergePatch("/api/{tenant}/contracts/{id}")
}
