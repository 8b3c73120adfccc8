package keyhaven

import (
	"context"
	"regexp"
	"strings"
	"time"

	"keyhaven.dev/keyhaven/secret"
)

var apiKeyNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// APIKeyInput creates an API key.
type APIKeyInput struct {
	Name        string
	Permissions []string
	Active      *bool      // default true
	Expires     *time.Time // nil: never
	Policy      PolicyInput
}

// APIKeyUpdate changes an API key; nil fields stay as they are.
type APIKeyUpdate struct {
	Name        *string
	Permissions *[]string
	Active      *bool
	Expires     Optional[*time.Time] // a nil Value: never
	Policy      PolicyUpdate
}

// MaskedKey is an API key's secret as listings show it: the display prefix and a mask.
func MaskedKey(c *Credential) string { return c.Display + strings.Repeat("*", 8) }

func validateAPIKeyName(field, name string) error {
	if !apiKeyNameRE.MatchString(name) {
		return Invalid(FieldError{Field: field, Message: "must be 1 to 64 letters, digits and underscores"})
	}
	return nil
}

func (s *Service) apiKeyPermissions(p *Principal, field string, names []string) (PermissionSet, error) {
	if len(names) == 0 {
		return 0, Invalid(FieldError{Field: field, Message: "must name at least one permission"})
	}
	perms, err := ParsePermissions(field, names)
	if err != nil {
		return 0, err
	}
	return perms, p.CheckGrant(perms)
}

func (s *Service) checkExpires(field string, t *time.Time) (time.Time, error) {
	if t == nil {
		return time.Time{}, nil
	}
	if !t.After(s.now()) {
		return time.Time{}, Invalid(FieldError{Field: field, Message: "must be in the future"})
	}
	if err := checkTime(field, *t); err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// CreateAPIKey creates a tenant-wide API key bound to p's owner user, with permissions p
// holds. The secret is returned once. It needs KEY_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds KEY_MANAGEMENT; EINVALID if the name
// is invalid, permissions are empty or name an unknown one, or expires is not in the future or
// is past the year 9999; EFORBIDDEN (permission_escalation) if a permission is one p does not
// hold; ECONFLICT (duplicate) if a live API key of the tenant has the name, ECONFLICT
// (limit_reached) if the tenant has its limit of API keys.
func (s *Service) CreateAPIKey(ctx context.Context, p *Principal, in APIKeyInput) (c *Credential, key string, err error) {
	e := s.event(ctx, p.TenantID, p, "api_key.create", "api_key", "", map[string]any{"name": in.Name})
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(KEY_MANAGEMENT); err != nil {
		return nil, "", err
	}
	if err := validateAPIKeyName("name", in.Name); err != nil {
		return nil, "", err
	}
	perms, err := s.apiKeyPermissions(p, "permissions", in.Permissions)
	if err != nil {
		return nil, "", err
	}
	expires, err := s.checkExpires("expires", in.Expires)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	pol, err := policy("", in.Policy, now)
	if err != nil {
		return nil, "", err
	}
	key = secret.Generate(secret.APIKey)
	c = &Credential{
		ID: NewID("key"), TenantID: p.TenantID, Kind: KindAPIKey, OwnerID: p.UserID, Name: in.Name,
		Hash: secret.Hash(key), Display: secret.Display(key), Permissions: perms,
		Active: in.Active == nil || *in.Active, ExpiresAt: expires, CreatedAt: now, Policy: pol,
	}
	e.TargetID = c.ID
	e.announce(EventAPIKeyCreated, func() any { return ViewAPIKey(c, now) })
	setExpiry(e, c, now)
	if err := s.store.CreateCredential(ctx, c, e); err != nil {
		if ErrorReason(err) == "duplicate" {
			err = Reasonf(ECONFLICT, "duplicate", "an API key named %s exists", in.Name)
		}
		return nil, "", err
	}
	return c, key, nil
}

// apiKey returns the API key of p's tenant named name, if p may manage it (see
// manageAPIKey).
func (s *Service) apiKey(ctx context.Context, p *Principal, name string) (*Credential, error) {
	if err := p.Require(KEY_MANAGEMENT); err != nil {
		return nil, err
	}
	if err := validateAPIKeyName("name", name); err != nil {
		return nil, Errorf(ENOTFOUND, "no API key named %s", quoteShort(name))
	}
	c, err := s.store.APIKeyByName(ctx, p.TenantID, name, s.now())
	if err != nil {
		return nil, noAPIKey(err, name)
	}
	if err := manageAPIKey(p, c); err != nil {
		return nil, err
	}
	return c, nil
}

// noAPIKey names the key a store's ENOTFOUND is about.
func noAPIKey(err error, name string) error {
	if ErrorCode(err) == ENOTFOUND {
		return Errorf(ENOTFOUND, "no API key named %s", name)
	}
	return err
}

// manageAPIKey returns EFORBIDDEN unless p may manage c: p needs KEY_MANAGEMENT, may not act
// on the key it is calling with, and must hold every permission of the key (nobody manages a
// credential more privileged than themselves).
func manageAPIKey(p *Principal, c *Credential) error {
	if c.ID == p.CredentialID {
		return Reasonf(EFORBIDDEN, "own_key", "a key cannot change or delete itself")
	}
	if missing := c.Permissions.Missing(p.Permissions); missing != 0 {
		return Reasonf(EFORBIDDEN, "key_more_privileged", "cannot manage a key holding permissions you do not hold")
	}
	return nil
}

// checkOwnerGrants returns EFORBIDDEN unless every permission perms adds to c's is held by
// c's owner: whoever edits a key, its permissions are raised only within what its owner
// could grant, so that an editor's permissions are never laundered into another owner's key.
func (s *Service) checkOwnerGrants(ctx context.Context, c *Credential, perms PermissionSet) error {
	raised := perms &^ c.Permissions
	if raised == 0 {
		return nil
	}
	owner, err := s.store.User(ctx, c.TenantID, c.OwnerID)
	if err != nil {
		return err
	}
	if missing := raised.Missing(owner.Permissions); missing != 0 {
		return Reasonf(EFORBIDDEN, "exceeds_owner",
			"the key's owner does not hold %s: a key's permissions are raised only within its owner's", strings.Join(missing.Strings(), ", "))
	}
	return nil
}

// UpdateAPIKey changes an API key's name, permissions (within p's own), active flag or expiry.
// Who may change it is judged on the key as the store holds it for the write.
//
// Returns EFORBIDDEN (missing_permission) unless p holds KEY_MANAGEMENT; ENOTFOUND if the
// tenant has no live API key with that name (an expired one is gone); EINVALID if the new name
// is invalid, the new permissions are empty or name an unknown one, or the new expiry is not
// in the future or is past the year 9999; EFORBIDDEN (own_key) if the key is the one p calls
// with, EFORBIDDEN (key_more_privileged) if the key holds a permission p does not, EFORBIDDEN
// (permission_escalation) if a new permission is one p does not hold, EFORBIDDEN
// (exceeds_owner) if one it adds is one the key's owner does not hold; ECONFLICT (duplicate)
// if another live API key has the new name.
func (s *Service) UpdateAPIKey(ctx context.Context, p *Principal, name string, in APIKeyUpdate) (c *Credential, err error) {
	e := s.event(ctx, p.TenantID, p, "api_key.update", "api_key", "", apiKeyUpdateDetail(name, in))
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(KEY_MANAGEMENT); err != nil {
		return nil, err
	}
	if err := validateAPIKeyName("name", name); err != nil {
		return nil, Errorf(ENOTFOUND, "no API key named %s", quoteShort(name))
	}
	if in.Name != nil {
		if err := validateAPIKeyName("api_key.name", *in.Name); err != nil {
			return nil, err
		}
	}
	var perms PermissionSet
	if in.Permissions != nil {
		if perms, err = s.apiKeyPermissions(p, "api_key.permissions", *in.Permissions); err != nil {
			return nil, err
		}
	}
	var expires time.Time
	if in.Expires.Set {
		if expires, err = s.checkExpires("api_key.expires", in.Expires.Value); err != nil {
			return nil, err
		}
	}
	now := s.now()
	applyPolicy, err := in.Policy.apply("api_key.", now)
	if err != nil {
		return nil, err
	}
	c, err = s.store.UpdateAPIKey(ctx, p.TenantID, name, now, func(c *Credential) error {
		e.TargetID = c.ID
		e.Notices = nil
		if err := manageAPIKey(p, c); err != nil {
			return err
		}
		if in.Name != nil {
			c.Name = *in.Name
		}
		if in.Permissions != nil {
			if err := s.checkOwnerGrants(ctx, c, perms); err != nil {
				return err
			}
			c.Permissions = perms
		}
		if in.Active != nil {
			c.Active = *in.Active
		}
		expiryChanged := in.Expires.Set && !c.ExpiresAt.Equal(expires)
		if in.Expires.Set {
			c.ExpiresAt = expires
		}
		applyPolicy(&c.Policy)
		e.announce(EventAPIKeyUpdated, func() any { return ViewAPIKey(c, now) })
		if expiryChanged {
			setExpiry(e, c, now)
		}
		return nil
	}, e)
	switch {
	case ErrorCode(err) == ECONFLICT && ErrorReason(err) == "duplicate" && in.Name != nil:
		return nil, Reasonf(ECONFLICT, "duplicate", "an API key named %s exists", *in.Name)
	case err != nil:
		return nil, noAPIKey(err, name)
	}
	s.invalidate(ctx, c.ID)
	return c, nil
}

func apiKeyUpdateDetail(name string, in APIKeyUpdate) map[string]any {
	d := map[string]any{"name": name}
	if in.Name != nil {
		d["newName"] = *in.Name
	}
	if in.Permissions != nil {
		d["permissions"] = *in.Permissions
	}
	if in.Active != nil {
		d["active"] = *in.Active
	}
	if in.Expires.Set {
		d["expires"] = detailValue(in.Expires.Value, in.Expires.Value == nil)
	}
	policyDetail(d, &in.Policy)
	return d
}

// DeleteAPIKey deletes an API key fully; it stops working at once.
//
// Returns EFORBIDDEN (missing_permission) unless p holds KEY_MANAGEMENT; ENOTFOUND if the
// tenant has no live API key with that name; EFORBIDDEN (own_key) if the key is the one p
// calls with, EFORBIDDEN (key_more_privileged) if the key holds a permission p does not.
func (s *Service) DeleteAPIKey(ctx context.Context, p *Principal, name string) (err error) {
	e := s.event(ctx, p.TenantID, p, "api_key.delete", "api_key", "", map[string]any{"name": name})
	defer func() { s.failed(ctx, e, err) }()
	c, err := s.apiKey(ctx, p, name)
	if err != nil {
		return err
	}
	e.TargetID = c.ID
	now := s.now()
	e.announce(EventAPIKeyDeleted, func() any { return ViewAPIKey(c, now) })
	if err := s.store.DeleteCredential(ctx, p.TenantID, c.ID, e); err != nil {
		return err
	}
	s.invalidate(ctx, c.ID)
	return nil
}

// APIKey returns the live API key of p's tenant named name; it needs KEY_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds KEY_MANAGEMENT; ENOTFOUND if the
// tenant has no live API key with that name.
func (s *Service) APIKey(ctx context.Context, p *Principal, name string) (*Credential, error) {
	if err := p.Require(KEY_MANAGEMENT); err != nil {
		return nil, err
	}
	if err := validateAPIKeyName("name", name); err != nil {
		return nil, Errorf(ENOTFOUND, "no API key named %s", quoteShort(name))
	}
	c, err := s.store.APIKeyByName(ctx, p.TenantID, name, s.now())
	return c, noAPIKey(err, name)
}

// ListAPIKeys lists every live API key of p's tenant; it needs KEY_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds KEY_MANAGEMENT.
func (s *Service) ListAPIKeys(ctx context.Context, p *Principal) ([]*Credential, error) {
	if err := p.Require(KEY_MANAGEMENT); err != nil {
		return nil, err
	}
	return s.store.ListAPIKeys(ctx, p.TenantID, s.now())
}

// ListAPIKeysPage lists one page of the live API keys of p's tenant, ordered by id; it needs
// KEY_MANAGEMENT.
//
// Returns EFORBIDDEN (missing_permission) unless p holds KEY_MANAGEMENT.
func (s *Service) ListAPIKeysPage(ctx context.Context, p *Principal, page Page) ([]*Credential, error) {
	if err := p.Require(KEY_MANAGEMENT); err != nil {
		return nil, err
	}
	return s.store.ListAPIKeysPage(ctx, p.TenantID, s.now(), page)
}
