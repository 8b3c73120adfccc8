package keyhaven

import (
	"context"
	"regexp"
	"slices"
	"sync"
	"time"

	"keyhaven.dev/keyhaven/secret"
)

// Access is a device access: a username and password bound to a contract, valid for a period
// the contract decides.
type Access struct {
	ID                  string
	TenantID            string
	ContractID          string
	ProductOfferingID   string
	ProductOfferingName string         // read with the access
	ContractStatus      ContractStatus // read with the access
	DeviceName          string
	Username            string
	PasswordHash        string
	Status              AccessStatus
	ValidFrom           time.Time
	ValidUntil          time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
	// CreatedBy is the id of the user who created the access, or of the batch task.
	CreatedBy string
	// BatchSeq is the access's index in its batch request.
	BatchSeq int
	// BatchSecret is the sealed password of a batch-created access, kept until its task's
	// retention window ends.
	BatchSecret string
}

// AccessStatus is an access's own status, set by its managers. TERMINATED is final; ACTIVE
// and SUSPENDED may change into each other and into TERMINATED.
type AccessStatus string

// Access statuses.
const (
	AccessActive     AccessStatus = "ACTIVE"
	AccessSuspended  AccessStatus = "SUSPENDED"
	AccessTerminated AccessStatus = "TERMINATED"
)

// AccessStatuses lists the access statuses.
var AccessStatuses = []AccessStatus{AccessActive, AccessSuspended, AccessTerminated}

// valid reports whether s is one of AccessStatuses.
func (s AccessStatus) valid() bool {
	return slices.Contains(AccessStatuses, s)
}

// AccessInput creates one access; empty fields are generated. Its JSON form is how a
// batch's explicit items are sealed into the task.
type AccessInput struct {
	Username   string  `json:"u,omitempty"`
	Password   *string `json:"p,omitempty"`
	DeviceName string  `json:"d,omitempty"`
}

// AccessUpdate changes an access's password or status.
type AccessUpdate struct {
	Password *string
	Status   *AccessStatus
}

// AccessFilter selects accesses.
type AccessFilter struct {
	ContractID    string
	Status        AccessStatus
	CreatedBy     string
	Username      string
	DeviceName    string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	ValidAt       time.Time // valid at this instant
	Page          Page
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}$`)

// validateAccessInput checks what a caller chose; field prefixes it ("accesses[3].").
func validateAccessInput(field string, in AccessInput) error {
	if in.Username != "" && !usernameRE.MatchString(in.Username) {
		return Invalid(FieldError{Field: field + "username", Message: "must be 3 to 64 letters, digits and . _ @ + -, starting with a letter or digit"})
	}
	if in.Password != nil {
		if err := ValidatePassword(field+"password", *in.Password); err != nil {
			return err
		}
	}
	if in.DeviceName != "" {
		if err := validateName(field+"deviceName", in.DeviceName); err != nil {
			return err
		}
	}
	return nil
}

// GeneratedUsernameLen is the random part of generated usernames: 16 base32 characters, 80
// bits, so that generated usernames do not collide in practice.
const GeneratedUsernameLen = 16

// generateUsername draws a username from the CSPRNG: one made from an id would count up
// within a batch and could be derived from its access's id.
func generateUsername() string { return "dev-" + randomBase32(GeneratedUsernameLen) }

// buildAccess makes an access under contract c and offering o at now, generating what in
// leaves empty. It returns the access and its password in clear.
func (s *Service) buildAccess(c *Contract, o *ProductOffering, in AccessInput, now time.Time, createdBy string) (*Access, string) {
	a := &Access{
		ID: NewID("acc"), TenantID: c.TenantID, ContractID: c.ID, ProductOfferingID: o.ID,
		ProductOfferingName: o.Name, ContractStatus: c.Status, Username: in.Username, DeviceName: in.DeviceName,
		Status: AccessActive, CreatedAt: now, UpdatedAt: now, CreatedBy: createdBy,
	}
	a.ValidFrom, a.ValidUntil = c.validity(o, now)
	if a.Username == "" {
		a.Username = generateUsername()
	}
	if a.DeviceName == "" {
		a.DeviceName = a.Username
	}
	var password string
	if in.Password != nil {
		password = *in.Password
		a.PasswordHash = secret.HashPassword(password, s.PasswordParams)
	} else {
		password = secret.RandomString(GeneratedPasswordLen)
		a.PasswordHash = secret.HashGenerated(password)
	}
	return a, password
}

// contractFor returns the contract named by an input field and its offering.
func (s *Service) contractFor(ctx context.Context, tenantID, field, id string) (*Contract, *ProductOffering, error) {
	if err := validateCallerID(field, id); err != nil {
		return nil, nil, err
	}
	c, err := s.store.Contract(ctx, tenantID, id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil, Invalid(FieldError{Field: field, Message: "no such contract"})
	}
	if err != nil {
		return nil, nil, err
	}
	o, err := s.store.ProductOffering(ctx, tenantID, c.ProductOfferingID)
	if err != nil {
		return nil, nil, err
	}
	return c, o, nil
}

// CreateAccess creates one access synchronously and returns it with its password, the only
// time the password is shown. It needs ACCESS_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds ACCESS_MANAGEMENT; EINVALID if the
// username, password or device name is invalid, or contractId is malformed or names no
// contract of p's tenant; ECONFLICT (contract_inactive) if the contract is not ACTIVE,
// ECONFLICT (contract_ended) if its end has come, ECONFLICT (username_taken) if the tenant has
// an access with the username; EUNAVAILABLE (busy) if too many password hashes are running
// (only for a chosen password).
func (s *Service) CreateAccess(ctx context.Context, p *Principal, contractID string, in AccessInput) (a *Access, password string, err error) {
	e := s.event(ctx, p.TenantID, p, "access.create", "access", "", map[string]any{"contractId": contractID, "username": in.Username})
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(ACCESS_MANAGEMENT); err != nil {
		return nil, "", err
	}
	if err := validateAccessInput("", in); err != nil {
		return nil, "", err
	}
	c, o, err := s.contractFor(ctx, p.TenantID, "contractId", contractID)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	if err := c.acceptsAccesses(now); err != nil {
		return nil, "", err
	}
	if in.Password != nil {
		release, err := s.Hashes.acquire(ctx, false)
		if err != nil {
			return nil, "", err
		}
		defer release()
	}
	a, password = s.buildAccess(c, o, in, now, p.UserID)
	e.TargetID = a.ID
	e.announce(EventAccessCreated, func() any { return ViewAccess(p.TenantName, a) })
	if err := s.store.CreateAccess(ctx, a, e); err != nil {
		return nil, "", err
	}
	return a, password, nil
}

// Access returns an access, never its password; it needs ACCESS_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds ACCESS_MANAGEMENT; ENOTFOUND if there
// is no access with that id in p's tenant.
func (s *Service) Access(ctx context.Context, p *Principal, id string) (*Access, error) {
	if err := p.Require(ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	if !ValidID("acc", id) {
		return nil, Errorf(ENOTFOUND, "access not found")
	}
	return s.store.Access(ctx, p.TenantID, id)
}

// ListAccesses lists accesses; it needs ACCESS_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds ACCESS_MANAGEMENT; EINVALID if a
// filter is not text without control characters.
func (s *Service) ListAccesses(ctx context.Context, p *Principal, f AccessFilter) ([]*Access, error) {
	if err := p.Require(ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	if err := validFilters(map[string]string{"contractId": f.ContractID, "status": string(f.Status), "createdBy": f.CreatedBy,
		"username": f.Username, "deviceName": f.DeviceName}); err != nil {
		return nil, err
	}
	return s.store.ListAccesses(ctx, p.TenantID, f)
}

// UpdateAccess changes an access's password or status. TERMINATED is final, also against a
// terminate that commits while the change is under way: the rule is judged on the access as
// the store holds it for the write.
//
// Returns EFORBIDDEN (missing_permission) unless p holds ACCESS_MANAGEMENT; EINVALID if
// neither password nor status is given, the status is not one of AccessStatuses or the
// password is invalid; ENOTFOUND if there is no access with that id in p's tenant; ECONFLICT
// (access_terminated) if the access is TERMINATED; EUNAVAILABLE (busy) if too many password
// hashes are running.
func (s *Service) UpdateAccess(ctx context.Context, p *Principal, id string, in AccessUpdate) (a *Access, err error) {
	d := map[string]any{"passwordChanged": in.Password != nil}
	if in.Status != nil {
		d["status"] = *in.Status
	}
	e := s.event(ctx, p.TenantID, p, "access.update", "access", id, d)
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	if in.Password == nil && in.Status == nil {
		return nil, Invalid(FieldError{Field: "body", Message: "name password or status"})
	}
	if in.Status != nil && !in.Status.valid() {
		return nil, Invalid(FieldError{Field: "status", Message: "must be ACTIVE, SUSPENDED or TERMINATED"})
	}
	if !ValidID("acc", id) {
		return nil, Errorf(ENOTFOUND, "access not found")
	}
	var hash string
	if in.Password != nil {
		if err := ValidatePassword("password", *in.Password); err != nil {
			return nil, err
		}
		// Hashing takes a while: it happens before the row is held, and only for an access
		// that exists.
		if _, err := s.store.Access(ctx, p.TenantID, id); err != nil {
			return nil, err
		}
		if hash, err = s.hashPassword(ctx, *in.Password); err != nil {
			return nil, err
		}
	}
	now := s.now()
	return s.store.UpdateAccess(ctx, p.TenantID, id, func(a *Access) error {
		if a.Status == AccessTerminated {
			return Reasonf(ECONFLICT, "access_terminated", "a terminated access cannot change")
		}
		if in.Status != nil {
			a.Status = *in.Status
		}
		if in.Password != nil {
			a.PasswordHash = hash
		}
		a.UpdatedAt = now
		e.Notices = nil
		e.announce(EventAccessUpdated, func() any { return ViewAccess(p.TenantName, a) })
		return nil
	}, e)
}

// findDevice finds the access whose username the device presented, if its password is right.
// Every wrong answer costs one argon2id check, whether the username exists or not and
// whichever scheme its password is stored with, so that timing tells no username apart; only
// a right password for a generated one is fast. Failures are counted, and a burst of them is
// audited as one event.
//
// Guessing is limited (Guesses) per username, whoever asks: a gateway verifies thousands of
// devices, and guessing is a matter of one device's password. Each verification holds one
// failure of the username's budget while it is checked, so that verifications made at once
// cannot pass it together; past the budget, they are ERATELIMITED before any check.
func (s *Service) findDevice(ctx context.Context, j *judging) error {
	p, d := j.Caller, j.Device
	g, ok := s.Guesses.hold(deviceKey(p.TenantID, d.Username), s.Clock.Now())
	if !ok {
		return errGuessLimited
	}
	var a *Access
	var err error
	if usernameRE.MatchString(d.Username) { // no access has another username: it is never looked up
		a, err = s.store.AccessByUsername(ctx, p.TenantID, d.Username)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			g.release()
			return err
		}
	}
	ok = false
	if a != nil {
		if ok, err = s.checkPassword(ctx, d.Password, a.PasswordHash); err != nil {
			g.release()
			return err
		}
	}
	if !ok {
		if a == nil || !slowHash(a.PasswordHash) {
			if err := s.failSlowly(ctx, d.Password); err != nil {
				g.release()
				return err
			}
		}
		s.verifyFailed(ctx, p)
		j.v.Code = CodeInvalidCredentials
		return nil
	}
	g.release()
	j.v.Access = a
	return nil
}

// judgeDevice judges whether a device's access is in force at this instant: the access's
// status, its contract's status and its validity period.
func (s *Service) judgeDevice(ctx context.Context, j *judging) {
	if j.v.Code = accessCode(j.v.Access, j.now); j.v.Code != CodeValid {
		s.verifyFailed(ctx, j.Caller)
	}
}

// accessCode judges an access's state at now: its status, its contract's status and its
// validity period.
func accessCode(a *Access, now time.Time) VerdictCode {
	switch {
	case a.Status == AccessTerminated || a.ContractStatus == ContractTerminated:
		return CodeTerminated
	case a.Status == AccessSuspended || a.ContractStatus == ContractSuspended:
		return CodeSuspended
	case now.Before(a.ValidFrom):
		return CodeNotYetValid
	case !now.Before(a.ValidUntil):
		return CodeExpired
	}
	return CodeValid
}

// Verification failures are audited in bursts: one event when a tenant reaches
// burstThreshold failures within burstWindow, saying how many, rather than one per failure.
const (
	burstThreshold = 10
	burstWindow    = time.Minute
)

type failureBurst struct {
	start    time.Time
	count    int
	reported bool
}

type burstCounter struct {
	mu     sync.Mutex
	bursts map[string]*failureBurst
}

func (s *Service) verifyFailed(ctx context.Context, p *Principal) {
	now := s.now()
	b := &s.bursts
	b.mu.Lock()
	if b.bursts == nil {
		b.bursts = map[string]*failureBurst{}
	}
	f := b.bursts[p.TenantID]
	if f == nil || now.Sub(f.start) >= burstWindow {
		f = &failureBurst{start: now}
		b.bursts[p.TenantID] = f
	}
	f.count++
	report := f.count >= burstThreshold && !f.reported
	if report {
		f.reported = true
	}
	b.mu.Unlock()
	if report {
		s.record(ctx, p.TenantID, p, "access.verify_failures", "tenant", p.TenantID,
			Reasonf(EUNAUTHORIZED, "verification_failures", "device verification failures"),
			map[string]any{"failures": burstThreshold, "windowSeconds": int(burstWindow.Seconds()), "since": f.start})
	}
}
