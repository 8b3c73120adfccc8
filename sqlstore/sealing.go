package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"keyhaven.dev/keyhaven"
)

var _ keyhaven.SealingStore = (*DB)(nil)

// SealingKeyCheck implements keyhaven.SealingStore.
func (db *DB) SealingKeyCheck(ctx context.Context) (string, error) {
	var sealed string
	err := db.r.QueryRowContext(ctx, `SELECT sealed FROM sealing_key_check WHERE id = 1`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return sealed, db.wrap(err, "")
}

// PutSealingKeyCheck implements keyhaven.SealingStore.
func (db *DB) PutSealingKeyCheck(ctx context.Context, sealed string, at time.Time) (string, error) {
	var stored string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO sealing_key_check (id, sealed, created_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO NOTHING`), sealed, mustDB(at)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT sealed FROM sealing_key_check WHERE id = 1`).Scan(&stored)
	})
	return stored, err
}

// SealedSamples implements keyhaven.SealingStore. Only accesses of batch tasks whose
// passwords are not purged yet are looked at, through the index by task.
func (db *DB) SealedSamples(ctx context.Context) ([]keyhaven.SealedValue, error) {
	var out []keyhaven.SealedValue
	for _, s := range []struct {
		kind  string
		query string
		ids   int
	}{
		{keyhaven.SealedBatchInput, `SELECT input, id FROM batch_tasks WHERE input <> '' LIMIT 1`, 1},
		{keyhaven.SealedBatchPassword, `SELECT a.batch_secret, a.id FROM batch_tasks t JOIN accesses a ON a.created_by = t.id
			WHERE t.purged_at IS NULL AND a.batch_secret IS NOT NULL AND a.batch_secret <> '' LIMIT 1`, 1},
		{keyhaven.SealedIdempotentReply, `SELECT response, tenant_id, credential_id, key FROM idempotency_keys WHERE response <> '' LIMIT 1`, 3},
		{keyhaven.SealedWebhookSecret, `SELECT secret, 'webhook_secret', id FROM webhooks LIMIT 1`, 2},
	} {
		v := keyhaven.SealedValue{Kind: s.kind, IDs: make([]string, s.ids)}
		dest := []any{&v.Sealed}
		for i := range v.IDs {
			dest = append(dest, &v.IDs[i])
		}
		err := db.r.QueryRowContext(ctx, s.query).Scan(dest...)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, db.wrap(err, "")
		}
		out = append(out, v)
	}
	return out, nil
}
