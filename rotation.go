package keyhaven

import (
	"context"
	"time"

	"keyhaven.dev/keyhaven/secret"
)

// RetiredSecretRetention is how long a secret replaced by a rotation is remembered after its
// grace period ends: until then verify says EXPIRED for it, after that NOT_FOUND.
const RetiredSecretRetention = 30 * 24 * time.Hour

// rotate gives c a new secret of kind and returns it; the old one works until the grace
// period ends. It is the change function of a rotation: check has judged c as held.
func rotate(kind secret.Kind, check func(*Credential) error, key *string) func(*Credential) error {
	return func(held *Credential) error {
		if err := check(held); err != nil {
			return err
		}
		*key = secret.Generate(kind)
		held.Hash, held.Display = secret.Hash(*key), secret.Display(*key)
		return nil
	}
}

// RotateAPIKey gives an API key a new secret, returned once; the old secret keeps working
// for grace, then is EXPIRED. The key keeps its id, name, permissions, policy, usage and
// history, and counts against no limit. It needs what updating the key needs.
//
// Returns EINVALID if grace is negative or longer than MaxGracePeriod; EFORBIDDEN
// (missing_permission) unless p holds KEY_MANAGEMENT; ENOTFOUND if the tenant has no live API
// key with that name; EFORBIDDEN (own_key) if the key is the one p calls with, EFORBIDDEN
// (key_more_privileged) if the key holds a permission p does not.
func (s *Service) RotateAPIKey(ctx context.Context, p *Principal, name string, grace time.Duration) (c *Credential, key string, err error) {
	e := s.event(ctx, p.TenantID, p, "api_key.rotate", "api_key", "", map[string]any{"name": name, "gracePeriodSeconds": int64(grace / time.Second)})
	defer func() { s.failed(ctx, e, err) }()
	if grace < 0 || grace > MaxGracePeriod {
		return nil, "", Invalid(FieldError{Field: "gracePeriodSeconds", Message: "must be between 0 and 604800"})
	}
	c, err = s.apiKey(ctx, p, name)
	if err != nil {
		return nil, "", err
	}
	e.TargetID = c.ID
	now := s.now()
	c, err = s.store.RotateCredential(ctx, p.TenantID, c.ID, now.Add(grace), rotate(secret.APIKey, func(held *Credential) error {
		if held.Kind != KindAPIKey || held.Expired(now) {
			return Errorf(ENOTFOUND, "no API key named %s", name)
		}
		if err := manageAPIKey(p, held); err != nil {
			return err
		}
		e.Notices = nil
		e.announce(EventAPIKeyRotated, func() any { return ViewAPIKey(held, now) })
		return nil
	}, &key), e)
	if err != nil {
		return nil, "", noAPIKey(err, name)
	}
	s.invalidate(ctx, c.ID)
	return c, key, nil
}

// RotateAccessKey gives an access key a new secret, returned once; the old secret keeps
// working for grace, then is EXPIRED. The key keeps its id, name, scopes, policy, usage and
// history, and counts against no limit. It needs what editing the key needs.
//
// Returns EINVALID if grace is negative or longer than MaxGracePeriod; what UpdateAccessKey
// returns for a key p may not edit; ECONFLICT (expired) if the key has expired.
func (s *Service) RotateAccessKey(ctx context.Context, p *Principal, appID, id string, grace time.Duration) (c *Credential, key string, err error) {
	e := s.event(ctx, p.TenantID, p, "access_key.rotate", "access_key", id, map[string]any{"application": appID, "gracePeriodSeconds": int64(grace / time.Second)})
	defer func() { s.failed(ctx, e, err) }()
	if grace < 0 || grace > MaxGracePeriod {
		return nil, "", Invalid(FieldError{Field: "gracePeriodSeconds", Message: "must be between 0 and 604800"})
	}
	_, c, err = s.accessKey(ctx, p, appID, id, editKeys)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	c, err = s.store.RotateCredential(ctx, p.TenantID, c.ID, now.Add(grace), rotate(secret.AccessKey, func(held *Credential) error {
		switch {
		case held.Kind != KindAccessKey || held.ApplicationID != appID || !held.RevokedAt.IsZero():
			return errNoAccessKey
		case held.ID == p.CredentialID:
			return errOwnAccessKey
		case held.Expired(now):
			return Reasonf(ECONFLICT, "expired", "the access key has expired: create a new one")
		}
		e.Notices = nil
		e.announce(EventAccessKeyRotated, func() any { return ViewAccessKey(held, now) })
		return nil
	}, &key), e)
	if err != nil {
		return nil, "", err
	}
	s.invalidate(ctx, c.ID)
	return c, key, nil
}
