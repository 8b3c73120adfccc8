package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"keyhaven.dev/keyhaven"
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
func (db *DB) CreateApplication(ctx context.Context, a *keyhaven.Application, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
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
func (db *DB) UpdateApplication(ctx context.Context, tenantID, id string, change func(*keyhaven.Application) error, e *keyhaven.AuditEvent) (*keyhaven.Application, error) {
	var wasRevoked bool
	return update(ctx, db, e, func(tx *sql.Tx) (*keyhaven.Application, error) {
		a, err := scanApplication(tx.QueryRowContext(ctx, db.q(`SELECT `+applicationColumns+` FROM applications
			WHERE tenant_id = ? AND id = ?`+db.dialect.ForUpdate), tenantID, id))
		if err != nil {
			return nil, db.notFound(err, "application")
		}
		wasRevoked = !a.RevokedAt.IsZero()
		return a, nil
	}, change, func(tx *sql.Tx, a *keyhaven.Application) error {
		if err := db.execOne(ctx, tx, "application", "an active application with that name exists", `UPDATE applications
			SET name = ?, description = ?, updated_at = ?, revoked_at = ? WHERE tenant_id = ? AND id = ?`,
			a.Name, a.Description, mustDB(a.UpdatedAt), toDB(a.RevokedAt), tenantID, id); err != nil {
			return err
		}
		if wasRevoked || a.RevokedAt.IsZero() {
			return nil
		}
		_, err := tx.ExecContext(ctx, db.q(`UPDATE credentials SET revoked_at = ?
			WHERE tenant_id = ? AND application_id = ? AND revoked_at IS NULL`), mustDB(a.RevokedAt), tenantID, id)
		return db.wrap(err, "")
	})
}

// CreateAccessKey implements keyhaven.Store. The application's row is read (and on
// PostgreSQL locked) in the transaction that counts and inserts.
func (db *DB) CreateAccessKey(ctx context.Context, c *keyhaven.Credential, now time.Time, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
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
func (db *DB) UpdateAccessKey(ctx context.Context, tenantID, appID, id string, change func(*keyhaven.Credential) error, e *keyhaven.AuditEvent) (*keyhaven.Credential, error) {
	return update(ctx, db, e, func(tx *sql.Tx) (*keyhaven.Credential, error) {
		c, err := scanCredential(tx.QueryRowContext(ctx, db.q(`SELECT `+credentialColumns+` FROM credentials c
			WHERE c.tenant_id = ? AND c.application_id = ? AND c.id = ? AND c.kind = 'access_key'`+db.dialect.ForUpdate), tenantID, appID, id))
		return c, db.notFound(err, "access key")
	}, change, func(tx *sql.Tx, c *keyhaven.Credential) error {
		pa := policyArgs(&c.Policy)
		return db.execOne(ctx, tx, "access key", "another key of this application has that name", `UPDATE credentials
			SET name = ?, description = ?, revoked_at = ?, `+setPolicy+` WHERE tenant_id = ? AND id = ?`,
			slices.Concat([]any{c.Name, c.Description, toDB(c.RevokedAt)}, pa[:], []any{tenantID, id})...)
	})
}
