package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"keyhaven.dev/keyhaven"
)

// APIKeyByName implements keyhaven.Store.
func (db *DB) APIKeyByName(ctx context.Context, tenantID, name string, now time.Time) (*keyhaven.Credential, error) {
	c, err := scanCredential(db.r.QueryRowContext(ctx, db.q(`SELECT `+credentialColumns+` FROM credentials c
		WHERE c.tenant_id = ? AND c.name = ? AND `+liveAPIKey), tenantID, name, mustDB(now)))
	if err != nil {
		return nil, db.notFound(err, "API key")
	}
	return c, nil
}

// ListAPIKeys implements keyhaven.Store.
func (db *DB) ListAPIKeys(ctx context.Context, tenantID string, now time.Time) ([]*keyhaven.Credential, error) {
	return list(ctx, db, scanCredential, `SELECT `+credentialColumns+` FROM credentials c
		WHERE c.tenant_id = ? AND `+liveAPIKey+` ORDER BY c.name`, tenantID, mustDB(now))
}

// ListAPIKeysPage implements keyhaven.Store.
func (db *DB) ListAPIKeysPage(ctx context.Context, tenantID string, now time.Time, page keyhaven.Page) ([]*keyhaven.Credential, error) {
	return list(ctx, db, scanCredential, `SELECT `+credentialColumns+` FROM credentials c
		WHERE c.tenant_id = ? AND `+liveAPIKey+` AND c.id > ? ORDER BY c.id LIMIT ?`, tenantID, mustDB(now), page.After, limit(page))
}

// UpdateAPIKey implements keyhaven.Store. The key is read live at now and held, so that a key
// that expires or changes meanwhile is judged as it is; an expired key holding the new name
// is deleted to free it.
func (db *DB) UpdateAPIKey(ctx context.Context, tenantID, name string, now time.Time, change func(*keyhaven.Credential) error, e *keyhaven.AuditEvent) (*keyhaven.Credential, error) {
	return update(ctx, db, e, func(tx *sql.Tx) (*keyhaven.Credential, error) {
		c, err := scanCredential(tx.QueryRowContext(ctx, db.q(`SELECT `+credentialColumns+` FROM credentials c
			WHERE c.tenant_id = ? AND c.name = ? AND `+liveAPIKey+db.dialect.ForUpdate), tenantID, name, mustDB(now)))
		return c, db.notFound(err, "API key")
	}, change, func(tx *sql.Tx, c *keyhaven.Credential) error {
		if c.Name != name {
			if err := db.deleteExpiredAPIKey(ctx, tx, tenantID, c.Name, now); err != nil {
				return err
			}
		}
		pa := policyArgs(&c.Policy)
		return db.execOne(ctx, tx, "API key", "an API key with that name exists", `UPDATE credentials
			SET name = ?, permissions = ?, active = ?, expires_at = ?, expiry_notice = ?, `+setPolicy+` WHERE tenant_id = ? AND id = ?`,
			slices.Concat([]any{c.Name, c.Permissions.String(), c.Active, toDB(c.ExpiresAt), c.ExpiryNotice}, pa[:], []any{tenantID, c.ID})...)
	})
}

// deleteExpiredAPIKey deletes the tenant's API key named name if it expired at now, so that
// its name is free: an expired key is gone at once, whether or not garbage collection ran.
func (db *DB) deleteExpiredAPIKey(ctx context.Context, tx *sql.Tx, tenantID, name string, now time.Time) error {
	_, err := tx.ExecContext(ctx, db.q(`DELETE FROM credentials
		WHERE tenant_id = ? AND kind = 'api_key' AND name = ? AND expires_at IS NOT NULL AND expires_at <= ?`),
		tenantID, name, mustDB(now))
	return db.wrap(err, "")
}

// liveAPIKey selects API keys not expired at a given instant.
const liveAPIKey = `kind = 'api_key' AND (expires_at IS NULL OR expires_at > ?)`
