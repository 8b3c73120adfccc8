package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"keyhaven.dev/keyhaven"
)

// CreateTenant implements keyhaven.Store.
func (db *DB) CreateTenant(ctx context.Context, t *keyhaven.Tenant, admin *keyhaven.User, key *keyhaven.Credential, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO tenants (id, name, created_at, max_applications, max_access_keys, max_api_keys, access_token_lifetime)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), t.ID, t.Name, mustDB(t.CreatedAt), t.Limits.Applications, t.Limits.AccessKeysPerApplication,
			t.Limits.APIKeys, t.Limits.TokenLifetime); err != nil {
			return db.wrap(err, "a tenant with that name exists")
		}
		if err := db.createUser(ctx, tx, admin); err != nil {
			return err
		}
		return db.createCredential(ctx, tx, key)
	})
}

// TenantByName implements keyhaven.Store.
func (db *DB) TenantByName(ctx context.Context, name string) (*keyhaven.Tenant, error) {
	var t keyhaven.Tenant
	var created int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, name, created_at, max_applications, max_access_keys, max_api_keys, access_token_lifetime
		FROM tenants WHERE name = ?`), name).
		Scan(&t.ID, &t.Name, &created, &t.Limits.Applications, &t.Limits.AccessKeysPerApplication, &t.Limits.APIKeys, &t.Limits.TokenLifetime)
	if err != nil {
		return nil, db.notFound(err, "tenant")
	}
	t.CreatedAt = fromDB(sql.NullInt64{Int64: created, Valid: true})
	return &t, nil
}

// CountTenants implements keyhaven.Store.
func (db *DB) CountTenants(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants`).Scan(&n); err != nil {
		return 0, db.wrap(err, "")
	}
	return n, nil
}

// SetTenantLimits implements keyhaven.Store.
func (db *DB) SetTenantLimits(ctx context.Context, tenantID string, l keyhaven.Limits, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		return db.execOne(ctx, tx, "tenant", "", `UPDATE tenants SET max_applications = ?, max_access_keys = ?, max_api_keys = ?, access_token_lifetime = ? WHERE id = ?`,
			l.Applications, l.AccessKeysPerApplication, l.APIKeys, l.TokenLifetime, tenantID)
	})
}

// checkAPIKeyLimit returns ECONFLICT (reason "limit_reached") when the tenant already holds its
// limit of API keys. It reads the tenant's row (and on PostgreSQL locks it) in tx, the
// transaction that then inserts, so racing creations queue behind each other and the limit
// holds across nodes. Every API key counts until it is deleted; sessions are not API keys.
func (db *DB) checkAPIKeyLimit(ctx context.Context, tx *sql.Tx, tenantID string, now time.Time) error {
	var max, n int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT max_api_keys FROM tenants WHERE id = ?`+db.dialect.ForUpdate), tenantID).Scan(&max); err != nil {
		return db.notFound(err, "tenant")
	}
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM credentials WHERE tenant_id = ? AND `+liveAPIKey), tenantID, mustDB(now)).Scan(&n); err != nil {
		return db.wrap(err, "")
	}
	if n >= max {
		return keyhaven.Reasonf(keyhaven.ECONFLICT, "limit_reached", "the limit of %d API keys is reached", max)
	}
	return nil
}
