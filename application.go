package keyhaven

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"keyhaven.dev/keyhaven/secret"
)

// Application groups access keys, for example one per integration. It is bound to the user
// who created it: deleting that user revokes it.
type Application struct {
	ID          string
	TenantID    string
	Name        string
	Description string
	CreatedBy   string // user id
	CreatedAt   time.Time
	UpdatedAt   time.Time
	RevokedAt   time.Time // zero while active
}

// ApplicationStatus is an application's status, computed from its record. REVOKED is final.
type ApplicationStatus string

// Application statuses.
const (
	ApplicationActive  ApplicationStatus = "ACTIVE"
	ApplicationRevoked ApplicationStatus = "REVOKED"
)

// Status returns the application's status.
func (a *Application) Status() ApplicationStatus {
	if !a.RevokedAt.IsZero() {
		return ApplicationRevoked
	}
	return ApplicationActive
}

// AccessKeyStatus is an access key's status, computed at use time: a key expires the instant
// its expiry passes. REVOKED is final; so is EXPIRED, since an access key's expiry never
// changes.
type AccessKeyStatus string

// Access key statuses.
const (
	AccessKeyActive  AccessKeyStatus = "ACTIVE"
	AccessKeyRevoked AccessKeyStatus = "REVOKED"
	AccessKeyExpired AccessKeyStatus = "EXPIRED"
)

// AccessKeyStatusAt returns an access key's status at now. Revoked wins over expired.
func AccessKeyStatusAt(c *Credential, now time.Time) AccessKeyStatus {
	switch {
	case !c.RevokedAt.IsZero():
		return AccessKeyRevoked
	case c.Expired(now):
		return AccessKeyExpired
	}
	return AccessKeyActive
}

// ApplicationInput creates or changes an application; nil fields of a change stay as they are.
type ApplicationInput struct {
	Name        *string
	Description *string
}

// AccessKeyInput creates an access key.
type AccessKeyInput struct {
	Name        string
	Description string
	Scopes      []string
	ExpiresAt   time.Time // zero: never
	Policy      PolicyInput
}

// AccessKeyUpdate changes an access key's name, description and policy; scopes never change.
type AccessKeyUpdate struct {
	Name        *string
	Description *string
	Policy      PolicyUpdate
}

// validateName checks a display name: 1 to 100 characters, no control characters, no
// surrounding space.
func validateName(field, name string) error {
	msg := ""
	switch {
	case strings.TrimSpace(name) == "":
		msg = "is required"
	case strings.TrimSpace(name) != name:
		msg = "must not start or end with spaces"
	case utf8.RuneCountInString(name) > 100:
		msg = "must be at most 100 characters"
	case strings.ContainsFunc(name, unicode.IsControl):
		msg = "must not contain control characters"
	}
	if msg != "" {
		return Invalid(FieldError{Field: field, Message: msg})
	}
	return nil
}

func validateDescription(field, d string) error {
	if utf8.RuneCountInString(d) > 1000 {
		return Invalid(FieldError{Field: field, Message: "must be at most 1000 characters"})
	}
	if strings.ContainsFunc(d, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return Invalid(FieldError{Field: field, Message: "must not contain control characters"})
	}
	return nil
}

// keyAction is one of the four access key permissions, each in an _ANY and an _OWN form.
type keyAction struct{ any, own Permission }

var (
	viewKeys   = keyAction{VIEW_ACCESS_KEYS_ANY, VIEW_ACCESS_KEYS_OWN}
	createKeys = keyAction{CREATE_ACCESS_KEYS_ANY, CREATE_ACCESS_KEYS_OWN}
	editKeys   = keyAction{EDIT_ACCESS_KEYS_ANY, EDIT_ACCESS_KEYS_OWN}
	revokeKeys = keyAction{REVOKE_ACCESS_KEYS_ANY, REVOKE_ACCESS_KEYS_OWN}
)

// reaches reports whether p may take action on the keys of app: _ANY reaches every
// application, _OWN those created by p's owner user.
func (k keyAction) reaches(p *Principal, app *Application) bool {
	return p.Permissions.Has(k.any) || p.Permissions.Has(k.own) && app.CreatedBy == p.UserID
}

// AccessKeyRights are what a principal may do with the access keys of one application.
type AccessKeyRights struct{ View, Create, Edit, Revoke bool }

// AccessKeyRightsOn returns what p may do with the keys of app, as the service judges each
// action: an _ANY permission reaches every application, an _OWN one those p's owner user
// created. Editing includes rotating. A key's changes to itself are refused whatever this
// says (a key cannot change itself).
func (p *Principal) AccessKeyRightsOn(app *Application) AccessKeyRights {
	return AccessKeyRights{
		View:   viewKeys.reaches(p, app),
		Create: createKeys.reaches(p, app),
		Edit:   editKeys.reaches(p, app),
		Revoke: revokeKeys.reaches(p, app),
	}
}

var (
	errNoApplication = Errorf(ENOTFOUND, "application not found")
	errNoAccessKey   = Errorf(ENOTFOUND, "access key not found")
	// errOwnAccessKey refuses a key's changes to itself: a key that could edit keys would
	// otherwise lift its own limits.
	errOwnAccessKey = Reasonf(EFORBIDDEN, "own_key", "a key cannot change itself")
)

// activeApplication returns an active application of the tenant, or ENOTFOUND.
func (s *Service) activeApplication(ctx context.Context, tenantID, id string) (*Application, error) {
	if !ValidID("app", id) {
		return nil, errNoApplication
	}
	app, err := s.store.Application(ctx, tenantID, id)
	if ErrorCode(err) == ENOTFOUND || err == nil && app.Status() != ApplicationActive {
		return nil, errNoApplication
	}
	return app, err
}

// application returns an active application for p to read or change. VIEW_APPLICATIONS
// (implied by creating, editing and revoking them) reaches every application; an access key
// permission reaches only the applications p's owner created, whatever its _ANY form reaches
// among keys. Another application is ENOTFOUND to such a caller.
func (s *Service) application(ctx context.Context, p *Principal, id string) (*Application, error) {
	all, own := applicationScope(p)
	if !all && !own {
		return nil, Reasonf(EFORBIDDEN, "missing_permission", "this needs the VIEW_APPLICATIONS permission")
	}
	app, err := s.activeApplication(ctx, p.TenantID, id)
	if err == nil && !all && app.CreatedBy != p.UserID {
		return nil, errNoApplication
	}
	return app, err
}

// applicationScope says which applications p may list and read: all of them (with
// VIEW_APPLICATIONS), only those its owner created (with an access key permission, which
// reaches keys, not other users' applications), or none.
func applicationScope(p *Principal) (all, own bool) {
	if p.Permissions.Has(VIEW_APPLICATIONS) {
		return true, false
	}
	for _, k := range []keyAction{viewKeys, createKeys, editKeys, revokeKeys} {
		if p.Permissions.Has(k.own) {
			return false, true
		}
	}
	return false, false
}

// keyApplication returns an active application whose keys p may take action k on: _ANY
// reaches every application, _OWN those created by p's owner user. Another user's
// application is ENOTFOUND to a caller that may not see it, EFORBIDDEN to one that may.
func (s *Service) keyApplication(ctx context.Context, p *Principal, id string, k keyAction) (*Application, error) {
	if !p.Permissions.Has(k.any) && !p.Permissions.Has(k.own) {
		return nil, Reasonf(EFORBIDDEN, "missing_permission", "this needs the %s or %s permission", k.any, k.own)
	}
	app, err := s.activeApplication(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if k.reaches(p, app) {
		return app, nil
	}
	if p.Permissions.Has(VIEW_APPLICATIONS) {
		return nil, Reasonf(EFORBIDDEN, "not_own_application", "%s reaches only applications you created", k.own)
	}
	return nil, errNoApplication
}

// CreateApplication creates an application bound to p's owner user. It needs
// CREATE_APPLICATION; the tenant's limit of active applications holds under concurrency.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CREATE_APPLICATION; EINVALID if the
// name or description is invalid; ECONFLICT (limit_reached) if the tenant has its limit of
// active applications, ECONFLICT (duplicate) if an active application has the name.
func (s *Service) CreateApplication(ctx context.Context, p *Principal, in ApplicationInput) (app *Application, err error) {
	e := s.event(ctx, p.TenantID, p, "application.create", "application", "", nameDetail(in.Name))
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(CREATE_APPLICATION); err != nil {
		return nil, err
	}
	var name, desc string
	if in.Name != nil {
		name = *in.Name
	}
	if in.Description != nil {
		desc = *in.Description
	}
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	if err := validateDescription("description", desc); err != nil {
		return nil, err
	}
	now := s.now()
	app = &Application{ID: NewID("app"), TenantID: p.TenantID, Name: name, Description: desc, CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now}
	e.TargetID = app.ID
	e.announce(EventApplicationCreated, func() any { return ViewApplication(app) })
	if err := s.store.CreateApplication(ctx, app, e); err != nil {
		return nil, err
	}
	return app, nil
}

func nameDetail(name *string) map[string]any {
	if name == nil {
		return nil
	}
	return map[string]any{"name": *name}
}

// Application returns an active application p may read: any with VIEW_APPLICATIONS (which
// CREATE_, EDIT_ and REVOKE_APPLICATION imply), only those p's owner created with an access
// key permission alone.
//
// Returns EFORBIDDEN (missing_permission) if p holds neither; ENOTFOUND if there is no active
// application with that id in p's tenant, or p may not read it.
func (s *Service) Application(ctx context.Context, p *Principal, id string) (*Application, error) {
	return s.application(ctx, p, id)
}

// ListApplications lists the active applications p may read (see Application).
//
// Returns EFORBIDDEN (missing_permission) if p holds neither VIEW_APPLICATIONS (or a
// permission implying it) nor an access key permission.
func (s *Service) ListApplications(ctx context.Context, p *Principal, page Page) ([]*Application, error) {
	all, own := applicationScope(p)
	if !all && !own {
		return nil, Reasonf(EFORBIDDEN, "missing_permission", "this needs the VIEW_APPLICATIONS permission")
	}
	createdBy := ""
	if !all {
		createdBy = p.UserID
	}
	return s.store.ListApplications(ctx, p.TenantID, createdBy, page)
}

// UpdateApplication changes an application's name or description; it needs EDIT_APPLICATION.
//
// Returns EFORBIDDEN (missing_permission) unless p holds EDIT_APPLICATION; EINVALID if neither
// name nor description is given, or one is invalid; ENOTFOUND if there is no active
// application with that id in p's tenant (a revoked one included); ECONFLICT (duplicate) if
// another active application has the name.
func (s *Service) UpdateApplication(ctx context.Context, p *Principal, id string, in ApplicationInput) (app *Application, err error) {
	e := s.event(ctx, p.TenantID, p, "application.update", "application", id, nameDetail(in.Name))
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(EDIT_APPLICATION); err != nil {
		return nil, err
	}
	if in.Name == nil && in.Description == nil {
		return nil, Invalid(FieldError{Field: "body", Message: "name at least one of name, description"})
	}
	if in.Name != nil {
		if err := validateName("name", *in.Name); err != nil {
			return nil, err
		}
	}
	if in.Description != nil {
		if err := validateDescription("description", *in.Description); err != nil {
			return nil, err
		}
	}
	if _, err = s.application(ctx, p, id); err != nil {
		return nil, err
	}
	now := s.now()
	return s.store.UpdateApplication(ctx, p.TenantID, id, func(app *Application) error {
		if !app.RevokedAt.IsZero() {
			return errNoApplication
		}
		if in.Name != nil {
			app.Name = *in.Name
		}
		if in.Description != nil {
			app.Description = *in.Description
		}
		app.UpdatedAt = now
		return nil
	}, e)
}

// RevokeApplication revokes an application and, with it, every one of its keys. It needs
// REVOKE_APPLICATION. Revoked is final.
//
// Returns EFORBIDDEN (missing_permission) unless p holds REVOKE_APPLICATION; ENOTFOUND if
// there is no active application with that id in p's tenant (one revoked already included).
func (s *Service) RevokeApplication(ctx context.Context, p *Principal, id string) (app *Application, err error) {
	e := s.event(ctx, p.TenantID, p, "application.revoke", "application", id, nil)
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(REVOKE_APPLICATION); err != nil {
		return nil, err
	}
	if _, err = s.application(ctx, p, id); err != nil {
		return nil, err
	}
	now := s.now()
	app, err = s.store.UpdateApplication(ctx, p.TenantID, id, func(app *Application) error {
		if !app.RevokedAt.IsZero() {
			return errNoApplication
		}
		app.RevokedAt = now
		e.Notices = nil
		e.announce(EventApplicationRevoked, func() any { return ViewApplication(app) })
		return nil
	}, e)
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, app.ID)
	return app, nil
}

// CreateAccessKey creates an access key in an application, bound to p's owner user. Its
// scopes must be held by p and never change; the application's limit of active keys holds
// under concurrency. The secret is returned once.
//
// Returns EFORBIDDEN (missing_permission) unless p holds CREATE_ACCESS_KEYS_ANY or
// CREATE_ACCESS_KEYS_OWN; ENOTFOUND if the application is not active, or is another user's and
// p reaches it only with the _OWN permission and may not see it; EFORBIDDEN
// (not_own_application) if it is another user's that p may see (VIEW_APPLICATIONS) but reaches
// only with the _OWN permission; EINVALID if the name or description is invalid, scopes are
// empty or name an unknown permission, or expiresAt is not in the future or is past the year
// 9999; EFORBIDDEN (permission_escalation) if a scope is a permission p does not hold;
// ECONFLICT (limit_reached) if the application has its limit of active keys, ECONFLICT
// (duplicate) if another of its keys has the name.
func (s *Service) CreateAccessKey(ctx context.Context, p *Principal, appID string, in AccessKeyInput) (c *Credential, key string, err error) {
	e := s.event(ctx, p.TenantID, p, "access_key.create", "access_key", "",
		map[string]any{"application": appID, "name": in.Name, "scopes": in.Scopes})
	defer func() { s.failed(ctx, e, err) }()
	app, err := s.keyApplication(ctx, p, appID, createKeys)
	if err != nil {
		return nil, "", err
	}
	if err := validateName("name", in.Name); err != nil {
		return nil, "", err
	}
	if err := validateDescription("description", in.Description); err != nil {
		return nil, "", err
	}
	if len(in.Scopes) == 0 {
		return nil, "", Invalid(FieldError{Field: "scopes", Message: "must name at least one permission"})
	}
	scopes, err := ParsePermissions("scopes", in.Scopes)
	if err != nil {
		return nil, "", err
	}
	if err := p.CheckGrant(scopes); err != nil {
		return nil, "", err
	}
	now := s.now()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return nil, "", Invalid(FieldError{Field: "expiresAt", Message: "must be in the future"})
	}
	if err := checkTime("expiresAt", in.ExpiresAt); err != nil {
		return nil, "", err
	}
	pol, err := policy("", in.Policy, now)
	if err != nil {
		return nil, "", err
	}
	key = secret.Generate(secret.AccessKey)
	c = &Credential{
		ID: NewID("akey"), TenantID: p.TenantID, Kind: KindAccessKey, OwnerID: p.UserID, Name: in.Name,
		Description: in.Description, ApplicationID: app.ID, Hash: secret.Hash(key), Display: secret.Display(key),
		Permissions: scopes, Active: true, ExpiresAt: in.ExpiresAt.UTC().Truncate(time.Microsecond), CreatedAt: now,
		Policy: pol,
	}
	e.TargetID = c.ID
	e.announce(EventAccessKeyCreated, func() any { return ViewAccessKey(c, now) })
	setExpiry(e, c, now)
	if err := s.store.CreateAccessKey(ctx, c, now, e); err != nil {
		return nil, "", err
	}
	return c, key, nil
}

// AccessKey returns a non-revoked access key of an application p may view keys of.
//
// Returns EFORBIDDEN (missing_permission) unless p holds VIEW_ACCESS_KEYS_ANY or
// VIEW_ACCESS_KEYS_OWN; ENOTFOUND if the application is not active, or is another user's and p
// reaches it only with the _OWN permission and may not see it; EFORBIDDEN
// (not_own_application) if it is another user's that p may see (VIEW_APPLICATIONS) but reaches
// only with the _OWN permission; ENOTFOUND if the application has no such key, or it is
// revoked.
func (s *Service) AccessKey(ctx context.Context, p *Principal, appID, id string) (*Credential, error) {
	_, c, err := s.accessKey(ctx, p, appID, id, viewKeys)
	return c, err
}

func (s *Service) accessKey(ctx context.Context, p *Principal, appID, id string, k keyAction) (*Application, *Credential, error) {
	app, err := s.keyApplication(ctx, p, appID, k)
	if err != nil {
		return nil, nil, err
	}
	if !ValidID("akey", id) {
		return nil, nil, errNoAccessKey
	}
	c, err := s.store.AccessKey(ctx, p.TenantID, app.ID, id)
	if ErrorCode(err) == ENOTFOUND || err == nil && !c.RevokedAt.IsZero() {
		return nil, nil, errNoAccessKey
	}
	return app, c, err
}

// ListAccessKeys lists an application's active and expired keys; revoked ones are gone.
//
// Returns EFORBIDDEN (missing_permission) unless p holds VIEW_ACCESS_KEYS_ANY or
// VIEW_ACCESS_KEYS_OWN; ENOTFOUND if the application is not active, or is another user's and p
// reaches it only with the _OWN permission and may not see it; EFORBIDDEN
// (not_own_application) if it is another user's that p may see (VIEW_APPLICATIONS) but reaches
// only with the _OWN permission.
func (s *Service) ListAccessKeys(ctx context.Context, p *Principal, appID string, page Page) ([]*Credential, error) {
	app, err := s.keyApplication(ctx, p, appID, viewKeys)
	if err != nil {
		return nil, err
	}
	return s.store.ListAccessKeys(ctx, p.TenantID, app.ID, page)
}

// UpdateAccessKey changes an access key's name, description or policy.
//
// Returns EINVALID if nothing is given to change, or something is invalid; EFORBIDDEN
// (missing_permission) unless p holds EDIT_ACCESS_KEYS_ANY or EDIT_ACCESS_KEYS_OWN; ENOTFOUND
// if the application is not active, or is another user's and p reaches it only with the _OWN
// permission and may not see it; EFORBIDDEN (not_own_application) if it is another user's that
// p may see (VIEW_APPLICATIONS) but reaches only with the _OWN permission; ENOTFOUND if the
// application has no such key, or it is revoked; EFORBIDDEN (own_key) if the key is the one p
// calls with; ECONFLICT (duplicate) if another of its keys has the name.
func (s *Service) UpdateAccessKey(ctx context.Context, p *Principal, appID, id string, in AccessKeyUpdate) (c *Credential, err error) {
	detail := map[string]any{"application": appID}
	if in.Name != nil {
		detail["name"] = *in.Name
	}
	policyDetail(detail, &in.Policy)
	e := s.event(ctx, p.TenantID, p, "access_key.update", "access_key", id, detail)
	defer func() { s.failed(ctx, e, err) }()
	if in.Name == nil && in.Description == nil && in.Policy.IsZero() {
		return nil, Invalid(FieldError{Field: "body", Message: "name at least one of name, description, ipAllowlist, rateLimit, credits, meta"})
	}
	if in.Name != nil {
		if err := validateName("name", *in.Name); err != nil {
			return nil, err
		}
	}
	if in.Description != nil {
		if err := validateDescription("description", *in.Description); err != nil {
			return nil, err
		}
	}
	now := s.now()
	applyPolicy, err := in.Policy.apply("", now)
	if err != nil {
		return nil, err
	}
	if _, _, err = s.accessKey(ctx, p, appID, id, editKeys); err != nil {
		return nil, err
	}
	c, err = s.store.UpdateAccessKey(ctx, p.TenantID, appID, id, func(c *Credential) error {
		if !c.RevokedAt.IsZero() {
			return errNoAccessKey
		}
		if c.ID == p.CredentialID {
			return errOwnAccessKey
		}
		if in.Name != nil {
			c.Name = *in.Name
		}
		if in.Description != nil {
			c.Description = *in.Description
		}
		applyPolicy(&c.Policy)
		e.Notices = nil
		e.announce(EventAccessKeyUpdated, func() any { return ViewAccessKey(c, now) })
		return nil
	}, e)
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, c.ID)
	return c, nil
}

// RevokeAccessKey revokes an access key: it never works again and leaves the listings.
//
// Returns EFORBIDDEN (missing_permission) unless p holds REVOKE_ACCESS_KEYS_ANY or
// REVOKE_ACCESS_KEYS_OWN; ENOTFOUND if the application is not active, or is another user's and
// p reaches it only with the _OWN permission and may not see it; EFORBIDDEN
// (not_own_application) if it is another user's that p may see (VIEW_APPLICATIONS) but reaches
// only with the _OWN permission; ENOTFOUND if the application has no such key, or it is
// revoked already.
func (s *Service) RevokeAccessKey(ctx context.Context, p *Principal, appID, id string) (c *Credential, err error) {
	e := s.event(ctx, p.TenantID, p, "access_key.revoke", "access_key", id, map[string]any{"application": appID})
	defer func() { s.failed(ctx, e, err) }()
	if _, _, err = s.accessKey(ctx, p, appID, id, revokeKeys); err != nil {
		return nil, err
	}
	now := s.now()
	c, err = s.store.UpdateAccessKey(ctx, p.TenantID, appID, id, func(c *Credential) error {
		if !c.RevokedAt.IsZero() {
			return errNoAccessKey
		}
		c.RevokedAt = now
		e.Notices = nil
		e.announce(EventAccessKeyRevoked, func() any { return ViewAccessKey(c, now) })
		return nil
	}, e)
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, c.ID)
	return c, nil
}
