package sqlstore

import (
	"context"
	"time"

	"keyhaven"
)

// PutIdempotencyKey implements keyhaven.Store.
func (db *DB) PutIdempotencyKey(ctx context.Context, r *keyhaven.IdempotencyRecord) (*keyhaven.IdempotencyRecord, bool, error) {
	n, err := db.exec(ctx, "", `INSERT INTO idempotency_keys (tenant_id, user_id, key, request_hash, status, response, created_at)
		VALUES (?, ?, ?, ?, 0, '', ?) ON CONFLICT (tenant_id, user_id, key) DO NOTHING`,
		r.TenantID, r.UserID, r.Key, r.RequestHash, mustDB(r.CreatedAt))
	if err != nil {
		return nil, false, err
	}
	if n == 1 {
		return r, true, nil
	}
	var got keyhaven.IdempotencyRecord
	var created int64
	err = db.w.QueryRowContext(ctx, db.q(`SELECT tenant_id, user_id, key, request_hash, status, response, created_at
		FROM idempotency_keys WHERE tenant_id = ? AND user_id = ? AND key = ?`), r.TenantID, r.UserID, r.Key).
		Scan(&got.TenantID, &got.UserID, &got.Key, &got.RequestHash, &got.Status, &got.Response, &created)
	if err != nil {
		return nil, false, db.notFound(err, "idempotency key")
	}
	got.CreatedAt = time.UnixMicro(created).UTC()
	return &got, false, nil
}

// CompleteIdempotencyKey implements keyhaven.Store.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, r *keyhaven.IdempotencyRecord) error {
	_, err := db.exec(ctx, "", `UPDATE idempotency_keys SET status = ?, response = ? WHERE tenant_id = ? AND user_id = ? AND key = ?`,
		r.Status, r.Response, r.TenantID, r.UserID, r.Key)
	return err
}

// DeleteIdempotencyKey implements keyhaven.Store.
func (db *DB) DeleteIdempotencyKey(ctx context.Context, tenantID, userID, key string) error {
	_, err := db.exec(ctx, "", `DELETE FROM idempotency_keys WHERE tenant_id = ? AND user_id = ? AND key = ?`, tenantID, userID, key)
	return err
}

// DeleteIdempotencyKeys implements keyhaven.Store.
func (db *DB) DeleteIdempotencyKeys(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM idempotency_keys WHERE created_at < ?`, mustDB(cutoff))
	return int(n), err
}
