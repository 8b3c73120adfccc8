package keyhaven

import (
	"context"
	"fmt"
	"keyhaven.dev/keyhaven/secret"
	"regexp"
	"time"
)

// Tenant is an isolated customer of keyhaven. Nothing of one tenant is visible to another.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
	Limits    Limits
}

// DefaultTenant is the tenant created on the first start of an empty database.
const DefaultTenant = "default"

var tenantNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// ValidTenantName reports whether name is a valid tenant name.
func ValidTenantName(name string) bool { return tenantNameRE.MatchString(name) }

// TenantCreated is what creating a tenant returns, once: the admin's generated password and
// the bootstrap API key are not stored anywhere in clear.
type TenantCreated struct {
	Tenant        *Tenant `json:"-"`
	Name          string  `json:"tenant"`
	AdminEmail    string  `json:"adminEmail"`
	AdminPassword string  `json:"adminPassword"`
	APIKey        string  `json:"apiKey"`
}

// CreateTenant creates a tenant with its first admin user (every permission, a generated
// password) and a "bootstrap" API key holding every permission, and returns the secrets once.
//
// Returns EINVALID if the name or email is malformed, ECONFLICT if a tenant has the name, and
// EUNAVAILABLE if the database cannot be reached.
func (s *Service) CreateTenant(ctx context.Context, name, adminEmail string) (*TenantCreated, error) {
	if !ValidTenantName(name) {
		return nil, Invalid(FieldError{Field: "name", Message: "must match ^[a-z0-9][a-z0-9-]{1,62}$"})
	}
	email, err := NormalizeEmail("adminEmail", adminEmail)
	if err != nil {
		return nil, err
	}
	now := s.now()
	t := &Tenant{ID: NewID("tnt"), Name: name, CreatedAt: now, Limits: DefaultLimits}
	password := secret.RandomString(GeneratedPasswordLen)
	admin := &User{
		ID: NewID("usr"), TenantID: t.ID, Email: email,
		PasswordHash: secret.HashPassword(password, s.PasswordParams),
		Permissions:  AllPermissions, CreatedAt: now, UpdatedAt: now,
	}
	key := secret.Generate(secret.APIKey)
	cred := &Credential{
		ID: NewID("key"), TenantID: t.ID, Kind: KindAPIKey, OwnerID: admin.ID, Name: "bootstrap",
		Hash: secret.Hash(key), Display: secret.Display(key), Permissions: AllPermissions,
		Active: true, CreatedAt: now,
	}
	e := s.event(ctx, t.ID, nil, "tenant.create", "tenant", t.ID, map[string]any{"name": name, "adminUserId": admin.ID, "apiKeyId": cred.ID})
	if err := s.store.CreateTenant(ctx, t, admin, cred, e); err != nil {
		return nil, err
	}
	return &TenantCreated{Tenant: t, Name: name, AdminEmail: email, AdminPassword: password, APIKey: key}, nil
}

// MaxLimit is the largest value of any tenant limit.
const MaxLimit = 100000

// SetTenantLimits changes a tenant's limits; an operator's command, not an API call.
//
// Returns EINVALID if a limit is out of range, ENOTFOUND if no tenant has the name, and
// EUNAVAILABLE if the database cannot be reached.
func (s *Service) SetTenantLimits(ctx context.Context, name string, l Limits) error {
	var bad []FieldError
	for _, f := range []struct {
		field string
		n     int
	}{{"maxApplications", l.Applications}, {"maxAccessKeysPerApplication", l.AccessKeysPerApplication}, {"maxApiKeys", l.APIKeys}} {
		if f.n < 0 || f.n > MaxLimit {
			bad = append(bad, FieldError{Field: f.field, Message: fmt.Sprintf("must be between 0 and %d", MaxLimit)})
		}
	}
	if max := int(MaxTokenLifetime / time.Second); l.TokenLifetime < 0 || l.TokenLifetime > max {
		bad = append(bad, FieldError{Field: "accessTokenLifetime", Message: fmt.Sprintf("must be between 1 and %d seconds (0: the default)", max)})
	}
	if len(bad) > 0 {
		return Invalid(bad...)
	}
	t, err := s.store.TenantByName(ctx, name)
	if err != nil {
		return err
	}
	e := s.event(ctx, t.ID, nil, "tenant.update", "tenant", t.ID, map[string]any{"limits": l})
	err = s.store.SetTenantLimits(ctx, t.ID, l, e)
	s.failed(ctx, e, err)
	return err
}

// TenantLimits returns the limits of p's tenant.
//
// Returns ENOTFOUND if the tenant was deleted, and EUNAVAILABLE if the database cannot be
// reached.
func (s *Service) TenantLimits(ctx context.Context, p *Principal) (Limits, error) {
	t, err := s.store.TenantByName(ctx, p.TenantName)
	if err != nil {
		return Limits{}, err
	}
	return t.Limits, nil
}

// Bootstrap creates the default tenant when the database has no tenant at all and returns
// its credentials; it returns nil when there was already a tenant (or another node created
// one at the same moment).
//
// Returns EINVALID if the email is malformed, and EUNAVAILABLE if the database cannot be
// reached.
func (s *Service) Bootstrap(ctx context.Context, adminEmail string) (*TenantCreated, error) {
	n, err := s.store.CountTenants(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	created, err := s.CreateTenant(ctx, DefaultTenant, adminEmail)
	if ErrorCode(err) == ECONFLICT {
		return nil, nil
	}
	return created, err
}

// DefaultLimit is the default number of active applications per tenant and of active access
// keys per application.
const DefaultLimit = 10

// DefaultAPIKeyLimit is the default number of API keys per tenant.
const DefaultAPIKeyLimit = 1000

// Limits are a tenant's limits. Revoked applications and revoked or expired access keys do not
// count. Every API key counts, inactive and expired ones too, until it is deleted; sessions
// are not API keys. The API key limit also bounds what one listing of API keys can return.
type Limits struct {
	Applications             int `json:"maxApplications"`
	AccessKeysPerApplication int `json:"maxAccessKeysPerApplication"`
	APIKeys                  int `json:"maxApiKeys"`
	// TokenLifetime is how long the tenant's access tokens live, in seconds (at most
	// MaxTokenLifetime; 0 is DefaultTokenLifetime).
	TokenLifetime int `json:"accessTokenLifetime"`
}

// DefaultLimits are a new tenant's limits.
var DefaultLimits = Limits{Applications: DefaultLimit, AccessKeysPerApplication: DefaultLimit, APIKeys: DefaultAPIKeyLimit,
	TokenLifetime: DefaultTokenLifetime}
