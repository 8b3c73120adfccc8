package keyhaven

import (
	"context"
	"time"
)

// Page selects one page of a list ordered by id: up to Limit items with ids after After.
type Page struct {
	Limit int
	After string
}

// Store is keyhaven's storage. Every implementation passes the conformance suite in storetest.
// Methods that take a tenant id only ever see that tenant's rows: another tenant's id answers
// ENOTFOUND exactly like an unknown one.
type Store interface {
	// Ping reports whether the database can be reached.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// CreateTenant creates t with its first admin user and the admin's bootstrap API key, in
	// one transaction. Returns ECONFLICT if the name is taken.
	CreateTenant(ctx context.Context, t *Tenant, admin *User, key *Credential) error
	// TenantByName returns ENOTFOUND if there is no such tenant.
	TenantByName(ctx context.Context, name string) (*Tenant, error)
	// CountTenants returns how many tenants exist.
	CountTenants(ctx context.Context) (int, error)

	// CreateUser returns ECONFLICT if a live user of the tenant has the same email.
	CreateUser(ctx context.Context, u *User) error
	// User returns a live user, ENOTFOUND if there is none with that id in the tenant.
	User(ctx context.Context, tenantID, id string) (*User, error)
	// UserByEmail returns a live user, ENOTFOUND if there is none.
	UserByEmail(ctx context.Context, tenantID, email string) (*User, error)
	// ListUsers returns live users ordered by id.
	ListUsers(ctx context.Context, tenantID string, page Page) ([]*User, error)
	// UpdateUser stores u's permissions, password hash and UpdatedAt. Returns ENOTFOUND if
	// the user is gone.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser marks the user deleted at the given time, which stops every credential it
	// owns. Returns ENOTFOUND if there is no live user with that id.
	DeleteUser(ctx context.Context, tenantID, id string, at time.Time) error
	// CountOwnedCredentials returns how many credentials a user owns that could still work.
	CountOwnedCredentials(ctx context.Context, tenantID, userID string, now time.Time) (int, error)

	// CreateCredential stores c. Returns ECONFLICT if an API key of the tenant has the same
	// name.
	CreateCredential(ctx context.Context, c *Credential) error
	// ResolveCredential returns the credential with that hash, its tenant and owner, or
	// ENOTFOUND.
	ResolveCredential(ctx context.Context, hash string) (*Resolution, error)
	// DeleteCredential deletes a credential. Returns ENOTFOUND if there is none.
	DeleteCredential(ctx context.Context, tenantID, id string) error
	// DeleteExpiredCredentials deletes sessions and API keys that expired before now and
	// returns how many it deleted.
	DeleteExpiredCredentials(ctx context.Context, now time.Time) (int, error)

	// AppendAudit appends an event to the audit log.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns a tenant's audit events, newest first.
	ListAudit(ctx context.Context, tenantID string, f AuditFilter) ([]*AuditEvent, error)
}
