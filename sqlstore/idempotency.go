package sqlstore

import (
	"context"
	"time"

	"keyhaven.dev/keyhaven"
)

// PutIdempotencyKey implements keyhaven.Store.
func (db *DB) PutIdempotencyKey(ctx context.Context, r *keyhaven.IdempotencyRecord) (*keyhaven.IdempotencyRecord, bool, error) {
	n, err := db.exec(ctx, "", `INSERT INTO idempotency_keys (tenant_id, credential_id, key, permissions, request_hash, status, response, created_at)
		VALUES (?, ?, ?, ?, ?, 0, '', ?) ON CONFLICT (tenant_id, credential_id, key) DO NOTHING`,
		r.TenantID, r.CredentialID, r.Key, r.Permissions.String(), r.RequestHash, mustDB(r.CreatedAt))
	if err != nil {
		return nil, false, err
	}
	if n == 1 {
		return r, true, nil
	}
	var got keyhaven.IdempotencyRecord
	var created int64
	var perms string
	err = db.w.QueryRowContext(ctx, db.q(`SELECT tenant_id, credential_id, key, permissions, request_hash, status, response, created_at
		FROM idempotency_keys WHERE tenant_id = ? AND credential_id = ? AND key = ?`), r.TenantID, r.CredentialID, r.Key).
		Scan(&got.TenantID, &got.CredentialID, &got.Key, &perms, &got.RequestHash, &got.Status, &got.Response, &created)
	if err != nil {
		return nil, false, db.notFound(err, "idempotency key")
	}
	got.Permissions = keyhaven.ParseStoredPermissions(perms)
	got.CreatedAt = time.UnixMicro(created).UTC()
	return &got, false, nil
}

// CompleteIdempotencyKey implements keyhaven.Store.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, r *keyhaven.IdempotencyRecord) error {
	_, err := db.exec(ctx, "", `UPDATE idempotency_keys SET status = ?, response = ? WHERE tenant_id = ? AND credential_id = ? AND key = ?`,
		r.Status, r.Response, r.TenantID, r.CredentialID, r.Key)
	return err
}

// DeleteIdempotencyKey implements keyhaven.Store.
func (db *DB) DeleteIdempotencyKey(ctx context.Context, tenantID, credentialID, key string) error {
	_, err := db.exec(ctx, "", `DELETE FROM idempotency_keys WHERE tenant_id = ? AND credential_id = ? AND key = ?`, tenantID, credentialID, key)
	return err
}

// DeleteIdempotencyKeys implements keyhaven.Store.
func (db *DB) DeleteIdempotencyKeys(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM idempotency_keys WHERE created_at < ?`, mustDB(cutoff))
	return int(n), err
}
