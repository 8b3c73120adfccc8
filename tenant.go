package keyhaven

import (
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
