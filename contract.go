package keyhaven

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// ProductOffering is what a contract sells; it may cap how long each access is valid.
type ProductOffering struct {
	ID                 string
	TenantID           string
	Name               string
	AccessValidityDays int // 0: accesses last as long as their contract
	CreatedAt          time.Time
}

// Contract is a customer contract for a product offering. It decides each access's validity
// period and whether it accepts new accesses.
type Contract struct {
	ID                string
	TenantID          string
	ProductOfferingID string
	CustomerName      string
	StartDate         time.Time
	EndDate           time.Time
	Status            ContractStatus
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// ContractStatus is a contract's status. Only an ACTIVE contract accepts new accesses; a
// SUSPENDED or TERMINATED one makes its accesses fail verification. TERMINATED is final;
// ACTIVE and SUSPENDED may change into each other and into TERMINATED.
type ContractStatus string

// Contract statuses.
const (
	ContractActive     ContractStatus = "ACTIVE"
	ContractSuspended  ContractStatus = "SUSPENDED"
	ContractTerminated ContractStatus = "TERMINATED"
)

// ContractStatuses lists the contract statuses.
var ContractStatuses = []ContractStatus{ContractActive, ContractSuspended, ContractTerminated}

// acceptsAccesses returns nil when the contract accepts new accesses at now, else ECONFLICT.
func (c *Contract) acceptsAccesses(now time.Time) error {
	if c.Status != ContractActive {
		return Reasonf(ECONFLICT, "contract_inactive", "contract %s is %s and accepts no new accesses", c.ID, c.Status)
	}
	if !now.Before(c.EndDate) {
		return Reasonf(ECONFLICT, "contract_ended", "contract %s ended on %s and accepts no new accesses", c.ID, c.EndDate.Format(time.RFC3339))
	}
	return nil
}

// validity returns the validity period of an access created at now under c and offering o:
// from the later of now and the contract's start to the contract's end, or earlier when the
// offering limits how long an access lasts.
func (c *Contract) validity(o *ProductOffering, now time.Time) (from, until time.Time) {
	from = now
	if c.StartDate.After(now) {
		from = c.StartDate
	}
	until = c.EndDate
	if o.AccessValidityDays > 0 {
		if capped := from.AddDate(0, 0, o.AccessValidityDays); capped.Before(until) {
			until = capped
		}
	}
	return from, until
}

var callerIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// errNoContract answers a contract id that no contract can have, which is never looked up.
var errNoContract = Errorf(ENOTFOUND, "contract not found")

func validateCallerID(field, id string) error {
	if !callerIDRE.MatchString(id) {
		return Invalid(FieldError{Field: field, Message: "must be 1 to 64 letters, digits, dots, dashes and underscores, starting with a letter or digit"})
	}
	return nil
}

// ProductOfferingInput creates a product offering.
type ProductOfferingInput struct {
	ID                 string // generated when empty
	Name               string
	AccessValidityDays int
}

// ContractInput creates a contract.
type ContractInput struct {
	ID                string
	ProductOfferingID string
	CustomerName      string
	StartDate         time.Time
	EndDate           time.Time
	Status            ContractStatus // ACTIVE when empty
}

// ContractUpdate changes a contract's status or dates; nil fields stay as they are.
type ContractUpdate struct {
	Status    *ContractStatus
	StartDate *time.Time
	EndDate   *time.Time
}

// ContractFilter selects contracts.
type ContractFilter struct {
	ProductOfferingID string
	Status            ContractStatus
	Page              Page
}

// CreateProductOffering creates a product offering; it needs CONTRACT_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CONTRACT_MANAGEMENT; EINVALID if the
// id or name is invalid or accessValidityDays is not between 0 (no cap) and 36500; ECONFLICT
// (duplicate) if the tenant has an offering with the id.
func (s *Service) CreateProductOffering(ctx context.Context, p *Principal, in ProductOfferingInput) (o *ProductOffering, err error) {
	e := s.event(ctx, p.TenantID, p, "product_offering.create", "product_offering", in.ID, map[string]any{"name": in.Name})
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(CONTRACT_MANAGEMENT); err != nil {
		return nil, err
	}
	if in.ID == "" {
		in.ID = NewID("po")
		e.TargetID = in.ID
	}
	if err := validateCallerID("id", in.ID); err != nil {
		return nil, err
	}
	if err := validateName("name", in.Name); err != nil {
		return nil, err
	}
	if in.AccessValidityDays < 0 || in.AccessValidityDays > 36500 {
		return nil, Invalid(FieldError{Field: "accessValidityDays", Message: "must be between 1 and 36500"})
	}
	o = &ProductOffering{ID: in.ID, TenantID: p.TenantID, Name: in.Name, AccessValidityDays: in.AccessValidityDays, CreatedAt: s.now()}
	if err := s.store.CreateProductOffering(ctx, o, e); err != nil {
		return nil, err
	}
	return o, nil
}

// ProductOffering returns a product offering; it needs CONTRACT_MANAGEMENT or ACCESS_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CONTRACT_MANAGEMENT or
// ACCESS_MANAGEMENT; ENOTFOUND if there is no offering with that id in p's tenant.
func (s *Service) ProductOffering(ctx context.Context, p *Principal, id string) (*ProductOffering, error) {
	if err := requireAny(p, CONTRACT_MANAGEMENT, ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	if !callerIDRE.MatchString(id) {
		return nil, Errorf(ENOTFOUND, "product offering not found")
	}
	return s.store.ProductOffering(ctx, p.TenantID, id)
}

// ListProductOfferings lists product offerings; it needs CONTRACT_MANAGEMENT or
// ACCESS_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CONTRACT_MANAGEMENT or
// ACCESS_MANAGEMENT.
func (s *Service) ListProductOfferings(ctx context.Context, p *Principal, page Page) ([]*ProductOffering, error) {
	if err := requireAny(p, CONTRACT_MANAGEMENT, ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	return s.store.ListProductOfferings(ctx, p.TenantID, page)
}

func requireAny(p *Principal, perms ...Permission) error {
	for _, perm := range perms {
		if p.Permissions.Has(perm) {
			return nil
		}
	}
	return p.Require(perms[0])
}

func validateContractDates(start, end time.Time) error {
	if start.IsZero() || end.IsZero() {
		return Invalid(FieldError{Field: "startDate", Message: "startDate and endDate are required"})
	}
	if err := checkTime("startDate", start); err != nil {
		return err
	}
	if err := checkTime("endDate", end); err != nil {
		return err
	}
	if !end.After(start) {
		return Invalid(FieldError{Field: "endDate", Message: "must be after startDate"})
	}
	return nil
}

func validateContractStatus(field string, status ContractStatus) error {
	if slices.Contains(ContractStatuses, status) {
		return nil
	}
	return Invalid(FieldError{Field: field, Message: "must be ACTIVE, SUSPENDED or TERMINATED"})
}

// CreateContract creates a contract with an id chosen by the caller; it needs
// CONTRACT_MANAGEMENT. Its status is ACTIVE unless given.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CONTRACT_MANAGEMENT; EINVALID if the
// id or productOfferingId is malformed, productOfferingId names no offering of p's tenant, the
// customer name is too long or holds control characters, the status is not one of
// ContractStatuses, or the dates are missing, out of range or do not end after they start;
// ECONFLICT (duplicate) if the tenant has a contract with the id.
func (s *Service) CreateContract(ctx context.Context, p *Principal, in ContractInput) (c *Contract, err error) {
	e := s.event(ctx, p.TenantID, p, "contract.create", "contract", in.ID, map[string]any{"productOfferingId": in.ProductOfferingID})
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(CONTRACT_MANAGEMENT); err != nil {
		return nil, err
	}
	if err := validateCallerID("id", in.ID); err != nil {
		return nil, err
	}
	if err := validateCallerID("productOfferingId", in.ProductOfferingID); err != nil {
		return nil, err
	}
	if len(in.CustomerName) > 200 {
		return nil, Invalid(FieldError{Field: "customerName", Message: "must be at most 200 characters"})
	}
	if strings.ContainsFunc(in.CustomerName, unicode.IsControl) {
		return nil, Invalid(FieldError{Field: "customerName", Message: "must not contain control characters"})
	}
	if in.Status == "" {
		in.Status = ContractActive
	}
	if err := validateContractStatus("status", in.Status); err != nil {
		return nil, err
	}
	if err := validateContractDates(in.StartDate, in.EndDate); err != nil {
		return nil, err
	}
	if _, err := s.store.ProductOffering(ctx, p.TenantID, in.ProductOfferingID); err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return nil, Invalid(FieldError{Field: "productOfferingId", Message: "no such product offering"})
		}
		return nil, err
	}
	now := s.now()
	c = &Contract{
		ID: in.ID, TenantID: p.TenantID, ProductOfferingID: in.ProductOfferingID, CustomerName: in.CustomerName,
		StartDate: in.StartDate.UTC().Truncate(time.Microsecond), EndDate: in.EndDate.UTC().Truncate(time.Microsecond),
		Status: in.Status, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreateContract(ctx, c, e); err != nil {
		return nil, err
	}
	return c, nil
}

// Contract returns a contract; it needs CONTRACT_MANAGEMENT or ACCESS_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CONTRACT_MANAGEMENT or
// ACCESS_MANAGEMENT; ENOTFOUND if there is no contract with that id in p's tenant.
func (s *Service) Contract(ctx context.Context, p *Principal, id string) (*Contract, error) {
	if err := requireAny(p, CONTRACT_MANAGEMENT, ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	if !callerIDRE.MatchString(id) {
		return nil, errNoContract
	}
	return s.store.Contract(ctx, p.TenantID, id)
}

// ListContracts lists contracts; it needs CONTRACT_MANAGEMENT or ACCESS_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CONTRACT_MANAGEMENT or
// ACCESS_MANAGEMENT; EINVALID if a filter is not text without control characters.
func (s *Service) ListContracts(ctx context.Context, p *Principal, f ContractFilter) ([]*Contract, error) {
	if err := requireAny(p, CONTRACT_MANAGEMENT, ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	if err := validFilters(map[string]string{"productOfferingId": f.ProductOfferingID, "status": string(f.Status)}); err != nil {
		return nil, err
	}
	return s.store.ListContracts(ctx, p.TenantID, f)
}

// UpdateContract changes a contract's status or dates; it needs CONTRACT_MANAGEMENT.
// TERMINATED is final, judged on the contract as the store holds it for the write.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CONTRACT_MANAGEMENT; EINVALID if
// nothing is given, the status is not one of ContractStatuses, or the dates that result are
// out of range or do not end after they start; ENOTFOUND if there is no contract with that id
// in p's tenant; ECONFLICT (contract_terminated) if the contract is TERMINATED and the status
// given is another.
func (s *Service) UpdateContract(ctx context.Context, p *Principal, id string, in ContractUpdate) (c *Contract, err error) {
	e := s.event(ctx, p.TenantID, p, "contract.update", "contract", id, contractUpdateDetail(in))
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(CONTRACT_MANAGEMENT); err != nil {
		return nil, err
	}
	if in.Status == nil && in.StartDate == nil && in.EndDate == nil {
		return nil, Invalid(FieldError{Field: "body", Message: "name at least one of status, startDate, endDate"})
	}
	if !callerIDRE.MatchString(id) {
		return nil, errNoContract
	}
	if in.Status != nil {
		if err := validateContractStatus("status", *in.Status); err != nil {
			return nil, err
		}
	}
	now := s.now()
	return s.store.UpdateContract(ctx, p.TenantID, id, func(c *Contract) error {
		if in.Status != nil {
			if c.Status == ContractTerminated && *in.Status != ContractTerminated {
				return Reasonf(ECONFLICT, "contract_terminated", "a terminated contract cannot change status")
			}
			c.Status = *in.Status
		}
		if in.StartDate != nil {
			c.StartDate = in.StartDate.UTC().Truncate(time.Microsecond)
		}
		if in.EndDate != nil {
			c.EndDate = in.EndDate.UTC().Truncate(time.Microsecond)
		}
		if err := validateContractDates(c.StartDate, c.EndDate); err != nil {
			return err
		}
		c.UpdatedAt = now
		return nil
	}, e)
}

func contractUpdateDetail(in ContractUpdate) map[string]any {
	d := map[string]any{}
	if in.Status != nil {
		d["status"] = *in.Status
	}
	if in.StartDate != nil {
		d["startDate"] = *in.StartDate
	}
	if in.EndDate != nil {
		d["endDate"] = *in.EndDate
	}
	return d
}
