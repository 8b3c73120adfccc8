package sqlstore

import (
	"context"
	"database/sql"

	"keyhaven"
)

// CreateTenant implements keyhaven.Store.
func (db *DB) CreateTenant(ctx context.Context, t *keyhaven.Tenant, admin *keyhaven.User, key *keyhaven.Credential) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO tenants (id, name, created_at, max_applications, max_access_keys)
			VALUES (?, ?, ?, ?, ?)`), t.ID, t.Name, mustDB(t.CreatedAt), t.Limits.Applications, t.Limits.AccessKeysPerApplication); err != nil {
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
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, name, created_at, max_applications, max_access_keys
		FROM tenants WHERE name = ?`), name).
		Scan(&t.ID, &t.Name, &created, &t.Limits.Applications, &t.Limits.AccessKeysPerApplication)
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
func (db *DB) SetTenantLimits(ctx context.Context, tenantID string, l keyhaven.Limits) error {
	n, err := db.exec(ctx, "", `UPDATE tenants SET max_applications = ?, max_access_keys = ? WHERE id = ?`,
		l.Applications, l.AccessKeysPerApplication, tenantID)
	if err == nil && n == 0 {
		return keyhaven.Errorf(keyhaven.ENOTFOUND, "tenant not found")
	}
	return err
}
