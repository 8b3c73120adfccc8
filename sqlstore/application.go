package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"keyhaven"
)

const applicationColumns = `id, tenant_id, name, description, created_by, created_at, updated_at, revoked_at`

func scanApplication(row scanner) (*keyhaven.Application, error) {
	var a keyhaven.Application
	var created, updated, revoked sql.NullInt64
	if err := row.Scan(&a.ID, &a.TenantID, &a.Name, &a.Description, &a.CreatedBy, &created, &updated, &revoked); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt, a.RevokedAt = fromDB(created), fromDB(updated), fromDB(revoked)
	return &a, nil
}

// limitReached is the error of a full limit.
func limitReached(what string, n int) error {
	return keyhaven.Reasonf(keyhaven.ECONFLICT, "limit_reached", "the limit of %d active %s is reached", n, what)
}

// CreateApplication implements keyhaven.Store. The tenant's row is read (and on PostgreSQL
// locked) in the transaction that counts and inserts, so racing creations queue behind each
// other and the limit holds across nodes.
func (db *DB) CreateApplication(ctx context.Context, a *keyhaven.Application) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var max, n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT max_applications FROM tenants WHERE id = ?`+db.dialect.ForUpdate), a.TenantID).Scan(&max); err != nil {
			return db.notFound(err, "tenant")
		}
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM applications WHERE tenant_id = ? AND revoked_at IS NULL`), a.TenantID).Scan(&n); err != nil {
			return db.wrap(err, "")
		}
		if n >= max {
			return limitReached("applications", max)
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO applications (`+applicationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`),
			a.ID, a.TenantID, a.Name, a.Description, a.CreatedBy, mustDB(a.CreatedAt), mustDB(a.UpdatedAt))
		return db.wrap(err, "an active application with that name exists")
	})
}

// Application implements keyhaven.Store.
func (db *DB) Application(ctx context.Context, tenantID, id string) (*keyhaven.Application, error) {
	a, err := scanApplication(db.r.QueryRowContext(ctx, db.q(`SELECT `+applicationColumns+` FROM applications
		WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if err != nil {
		return nil, db.notFound(err, "application")
	}
	return a, nil
}

// ListApplications implements keyhaven.Store.
func (db *DB) ListApplications(ctx context.Context, tenantID, createdBy string, page keyhaven.Page) ([]*keyhaven.Application, error) {
	return list(ctx, db, scanApplication, `SELECT `+applicationColumns+` FROM applications
		WHERE tenant_id = ? AND revoked_at IS NULL AND (? = '' OR created_by = ?) AND id > ? ORDER BY id LIMIT ?`,
		tenantID, createdBy, createdBy, page.After, limit(page))
}

// UpdateApplication implements keyhaven.Store.
func (db *DB) UpdateApplication(ctx context.Context, a *keyhaven.Application) error {
	n, err := db.exec(ctx, "an active application with that name exists", `UPDATE applications
		SET name = ?, description = ?, updated_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`,
		a.Name, a.Description, mustDB(a.UpdatedAt), a.TenantID, a.ID)
	if err == nil && n == 0 {
		return keyhaven.Errorf(keyhaven.ENOTFOUND, "application not found")
	}
	return err
}

// RevokeApplication implements keyhaven.Store.
func (db *DB) RevokeApplication(ctx context.Context, tenantID, id string, at time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE applications SET revoked_at = ?
			WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`), mustDB(at), tenantID, id)
		if err != nil {
			return db.wrap(err, "")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return keyhaven.Errorf(keyhaven.ENOTFOUND, "application not found")
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE credentials SET revoked_at = ?
			WHERE tenant_id = ? AND application_id = ? AND revoked_at IS NULL`), mustDB(at), tenantID, id)
		return db.wrap(err, "")
	})
}

// CreateAccessKey implements keyhaven.Store. The application's row is read (and on
// PostgreSQL locked) in the transaction that counts and inserts.
func (db *DB) CreateAccessKey(ctx context.Context, c *keyhaven.Credential, now time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullInt64
		if err := tx.QueryRowContext(ctx, db.q(`SELECT revoked_at FROM applications WHERE tenant_id = ? AND id = ?`+db.dialect.ForUpdate),
			c.TenantID, c.ApplicationID).Scan(&revoked); err != nil || revoked.Valid {
			if err == nil {
				err = sql.ErrNoRows
			}
			return db.notFound(err, "application")
		}
		var max, n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT max_access_keys FROM tenants WHERE id = ?`), c.TenantID).Scan(&max); err != nil {
			return db.notFound(err, "tenant")
		}
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM credentials WHERE application_id = ?
			AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`), c.ApplicationID, mustDB(now)).Scan(&n); err != nil {
			return db.wrap(err, "")
		}
		if n >= max {
			return limitReached("access keys in this application", max)
		}
		return db.createCredential(ctx, tx, c)
	})
}

// AccessKey implements keyhaven.Store.
func (db *DB) AccessKey(ctx context.Context, tenantID, appID, id string) (*keyhaven.Credential, error) {
	c, err := scanCredential(db.r.QueryRowContext(ctx, db.q(`SELECT `+credentialColumns+` FROM credentials c
		WHERE c.tenant_id = ? AND c.application_id = ? AND c.id = ? AND c.kind = 'access_key'`), tenantID, appID, id))
	if err != nil {
		return nil, db.notFound(err, "access key")
	}
	return c, nil
}

// ListAccessKeys implements keyhaven.Store.
func (db *DB) ListAccessKeys(ctx context.Context, tenantID, appID string, page keyhaven.Page) ([]*keyhaven.Credential, error) {
	return list(ctx, db, scanCredential, `SELECT `+credentialColumns+` FROM credentials c
		WHERE c.tenant_id = ? AND c.application_id = ? AND c.kind = 'access_key' AND c.revoked_at IS NULL AND c.id > ?
		ORDER BY c.id LIMIT ?`, tenantID, appID, page.After, limit(page))
}

// UpdateAccessKey implements keyhaven.Store.
func (db *DB) UpdateAccessKey(ctx context.Context, c *keyhaven.Credential) error {
	n, err := db.exec(ctx, "another key of this application has that name", `UPDATE credentials SET name = ?, description = ?
		WHERE tenant_id = ? AND id = ? AND kind = 'access_key' AND revoked_at IS NULL`, c.Name, c.Description, c.TenantID, c.ID)
	if err == nil && n == 0 {
		return keyhaven.Errorf(keyhaven.ENOTFOUND, "access key not found")
	}
	return err
}

// RevokeAccessKey implements keyhaven.Store.
func (db *DB) RevokeAccessKey(ctx context.Context, tenantID, appID, id string, at time.Time) error {
	n, err := db.exec(ctx, "", `UPDATE credentials SET revoked_at = ?
		WHERE tenant_id = ? AND application_id = ? AND id = ? AND kind = 'access_key' AND revoked_at IS NULL`,
		mustDB(at), tenantID, appID, id)
	if err == nil && n == 0 {
		return keyhaven.Errorf(keyhaven.ENOTFOUND, "access key not found")
	}
	return err
}
