package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"keyhaven.dev/keyhaven"
)

const signingKeyColumns = `id, tenant_id, alg, public_jwk, private_sealed, created_at, retired_at`

func scanSigningKey(row scanner) (*keyhaven.SigningKey, error) {
	var k keyhaven.SigningKey
	var created int64
	var retired sql.NullInt64
	if err := row.Scan(&k.ID, &k.TenantID, &k.Alg, &k.PublicJWK, &k.PrivateSealed, &created, &retired); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RetiredAt = time.UnixMicro(created).UTC(), fromDB(retired)
	return &k, nil
}

// SigningKeys implements keyhaven.Store. The active key comes first.
func (db *DB) SigningKeys(ctx context.Context, tenantID string, retiredAfter time.Time) ([]*keyhaven.SigningKey, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+signingKeyColumns+` FROM signing_keys
		WHERE tenant_id = ? AND (retired_at IS NULL OR retired_at > ?)
		ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, created_at DESC, id DESC`), tenantID, mustDB(retiredAfter))
	if err != nil {
		return nil, db.wrap(err, "")
	}
	defer rows.Close()
	var out []*keyhaven.SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, db.wrap(err, "")
		}
		out = append(out, k)
	}
	return out, db.wrap(rows.Err(), "")
}

// RotateSigningKey implements keyhaven.Store. The tenant's row is read FOR UPDATE (SQLite's
// write transactions are serialized already), so rotations of one tenant queue behind each
// other and each sees the active key the previous one left; the unique index on active keys
// backs it.
func (db *DB) RotateSigningKey(ctx context.Context, k *keyhaven.SigningKey, due time.Time, e *keyhaven.AuditEvent) (*keyhaven.SigningKey, bool, error) {
	var active *keyhaven.SigningKey
	rotated := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var id string
		if err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM tenants WHERE id = ?`+db.dialect.ForUpdate), k.TenantID).Scan(&id); err != nil {
			return db.notFound(err, "tenant")
		}
		cur, err := scanSigningKey(tx.QueryRowContext(ctx, db.q(`SELECT `+signingKeyColumns+` FROM signing_keys
			WHERE tenant_id = ? AND retired_at IS NULL`), k.TenantID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return db.wrap(err, "")
		case cur.CreatedAt.After(due):
			active = cur
			return nil
		default:
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE signing_keys SET retired_at = ? WHERE id = ?`), mustDB(k.CreatedAt), cur.ID); err != nil {
				return db.wrap(err, "")
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, NULL)`),
			k.ID, k.TenantID, k.Alg, k.PublicJWK, k.PrivateSealed, mustDB(k.CreatedAt)); err != nil {
			return db.wrap(err, "")
		}
		active, rotated = k, true
		return db.appendAudit(ctx, tx, e)
	})
	if err != nil {
		return nil, false, err
	}
	return active, rotated, nil
}

// TenantsWithSigningKeysDue implements keyhaven.Store.
func (db *DB) TenantsWithSigningKeysDue(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT tenant_id FROM signing_keys WHERE retired_at IS NULL AND created_at < ? ORDER BY tenant_id`), mustDB(cutoff))
	if err != nil {
		return nil, db.wrap(err, "")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, db.wrap(err, "")
		}
		out = append(out, id)
	}
	return out, db.wrap(rows.Err(), "")
}

// DeleteRetiredSigningKeys implements keyhaven.Store.
func (db *DB) DeleteRetiredSigningKeys(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?`, mustDB(cutoff))
	return int(n), err
}

// RevokeToken implements keyhaven.Store.
func (db *DB) RevokeToken(ctx context.Context, tenantID, jti string, expiresAt time.Time, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO revoked_tokens (tenant_id, jti, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id, jti) DO NOTHING`), tenantID, jti, mustDB(expiresAt))
		return db.wrap(err, "")
	})
}

// TokenRevoked implements keyhaven.Store.
func (db *DB) TokenRevoked(ctx context.Context, tenantID, jti string) (bool, error) {
	var one int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT 1 FROM revoked_tokens WHERE tenant_id = ? AND jti = ?`), tenantID, jti).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, db.wrap(err, "")
}

// DeleteRevokedTokens implements keyhaven.Store.
func (db *DB) DeleteRevokedTokens(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM revoked_tokens WHERE expires_at < ?`, mustDB(cutoff))
	return int(n), err
}

// CredentialByID implements keyhaven.Store.
func (db *DB) CredentialByID(ctx context.Context, tenantID, id string) (*keyhaven.Resolution, error) {
	var cr credentialRow
	var t keyhaven.Tenant
	var owner keyhaven.User
	var ownerPerms string
	var ownerDeleted sql.NullInt64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT `+credentialColumns+`, t.name, u.email, u.permissions, u.deleted_at
		FROM credentials c JOIN tenants t ON t.id = c.tenant_id JOIN users u ON u.id = c.owner_id
		WHERE c.tenant_id = ? AND c.id = ? AND c.kind IN ('api_key', 'access_key')`), tenantID, id).
		Scan(append(cr.dest(), &t.Name, &owner.Email, &ownerPerms, &ownerDeleted)...)
	if err != nil {
		return nil, db.notFound(err, "credential")
	}
	c := cr.credential()
	t.ID = c.TenantID
	owner.ID, owner.TenantID = c.OwnerID, c.TenantID
	owner.Permissions, owner.DeletedAt = keyhaven.ParseStoredPermissions(ownerPerms), fromDB(ownerDeleted)
	return &keyhaven.Resolution{Credential: c, Tenant: &t, Owner: &owner}, nil
}
