package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

const webhookColumns = `id, tenant_id, url, events, description, enabled, secret, created_by, created_at, updated_at`

func scanWebhook(row scanner) (*keyhaven.Webhook, error) {
	var w keyhaven.Webhook
	var events string
	var created, updated int64
	if err := row.Scan(&w.ID, &w.TenantID, &w.URL, &events, &w.Description, &w.Enabled, &w.Secret, &w.CreatedBy, &created, &updated); err != nil {
		return nil, err
	}
	w.Events = parseEvents(events)
	w.CreatedAt, w.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return &w, nil
}

// Event types are stored comma-separated.
func formatEvents(ts []keyhaven.EventType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}

func parseEvents(s string) []keyhaven.EventType {
	var out []keyhaven.EventType
	for part := range strings.SplitSeq(s, ",") {
		if part != "" {
			out = append(out, keyhaven.EventType(part))
		}
	}
	return out
}

// CreateWebhook implements keyhaven.Store. The tenant's row is read (and on PostgreSQL
// locked) in the transaction that counts and inserts, so that the limit holds across nodes.
func (db *DB) CreateWebhook(ctx context.Context, w *keyhaven.Webhook, max int, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		var one, n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM tenants WHERE id = ?`+db.dialect.ForUpdate), w.TenantID).Scan(&one); err != nil {
			return db.notFound(err, "tenant")
		}
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM webhooks WHERE tenant_id = ?`), w.TenantID).Scan(&n); err != nil {
			return db.wrap(err, "")
		}
		if n >= max {
			return keyhaven.Reasonf(keyhaven.ECONFLICT, "limit_reached", "the limit of %d webhooks is reached", max)
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			w.ID, w.TenantID, w.URL, formatEvents(w.Events), w.Description, w.Enabled, w.Secret, w.CreatedBy,
			mustDB(w.CreatedAt), mustDB(w.UpdatedAt))
		return db.wrap(err, "a webhook with that id exists")
	})
}

// Webhook implements keyhaven.Store.
func (db *DB) Webhook(ctx context.Context, tenantID, id string) (*keyhaven.Webhook, error) {
	w, err := scanWebhook(db.r.QueryRowContext(ctx, db.q(`SELECT `+webhookColumns+` FROM webhooks WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if err != nil {
		return nil, db.notFound(err, "webhook")
	}
	return w, nil
}

// ListWebhooks implements keyhaven.Store.
func (db *DB) ListWebhooks(ctx context.Context, tenantID string, page keyhaven.Page) ([]*keyhaven.Webhook, error) {
	return list(ctx, db, scanWebhook, `SELECT `+webhookColumns+` FROM webhooks WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
		tenantID, page.After, limit(page))
}

// UpdateWebhook implements keyhaven.Store.
func (db *DB) UpdateWebhook(ctx context.Context, tenantID, id string, change func(*keyhaven.Webhook) error, e *keyhaven.AuditEvent) (*keyhaven.Webhook, error) {
	return update(ctx, db, e, func(tx *sql.Tx) (*keyhaven.Webhook, error) {
		w, err := scanWebhook(tx.QueryRowContext(ctx, db.q(`SELECT `+webhookColumns+` FROM webhooks
			WHERE tenant_id = ? AND id = ?`+db.dialect.ForUpdate), tenantID, id))
		return w, db.notFound(err, "webhook")
	}, change, func(tx *sql.Tx, w *keyhaven.Webhook) error {
		return db.execOne(ctx, tx, "webhook", "", `UPDATE webhooks SET url = ?, events = ?, description = ?, enabled = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, w.URL, formatEvents(w.Events), w.Description, w.Enabled, mustDB(w.UpdatedAt), tenantID, id)
	})
}

// DeleteWebhook implements keyhaven.Store: the webhook goes with its queue and history.
func (db *DB) DeleteWebhook(ctx context.Context, tenantID, id string, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		if err := db.lock(ctx, tx, "webhooks", "webhook", tenantID, id); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM webhook_queue WHERE webhook_id = ?`, `DELETE FROM webhook_attempts WHERE webhook_id = ?`,
			`DELETE FROM webhooks WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, db.q(q), id); err != nil {
				return db.wrap(err, "")
			}
		}
		return nil
	})
}

// queueNotices writes the notices of e, the record of a change, to the outbox
// in tx: each as one message, queued for every enabled webhook of the tenant subscribed to its
// type (or for its one webhook), at the end of that webhook's order. A notice nobody is sent
// writes nothing. Taking a webhook's next number holds its row until tx ends, so that the
// webhook's messages are numbered in the order their transactions commit.
func (db *DB) queueNotices(ctx context.Context, tx *sql.Tx, e *keyhaven.AuditEvent) error {
	if len(e.Notices) == 0 {
		return nil
	}
	hooks, err := listOn(ctx, db, tx, func(row scanner) (*keyhaven.Webhook, error) {
		var w keyhaven.Webhook
		var events string
		err := row.Scan(&w.ID, &events)
		w.Events = parseEvents(events)
		return &w, err
	}, `SELECT id, events FROM webhooks WHERE tenant_id = ? AND enabled = ? ORDER BY id`, e.TenantID, true)
	if err != nil {
		return err
	}
	// Each webhook's numbers are taken at once, webhooks in the order of their ids, so that two
	// transactions never hold one webhook each while waiting for the other's.
	to := make([][]string, len(e.Notices))
	counts := map[string]int64{}
	for i, n := range e.Notices {
		for _, w := range hooks {
			if n.Webhook == w.ID || n.Webhook == "" && w.Subscribes(n.Type) {
				to[i] = append(to[i], w.ID)
				counts[w.ID]++
			}
		}
	}
	if len(counts) == 0 {
		return nil
	}
	next := map[string]int64{}
	for _, w := range hooks {
		if k := counts[w.ID]; k > 0 {
			var last int64
			err := tx.QueryRowContext(ctx, db.q(`UPDATE webhooks SET seq = seq + ? WHERE id = ? RETURNING seq`), k, w.ID).Scan(&last)
			if err == sql.ErrNoRows {
				continue // deleted meanwhile: it is sent nothing
			}
			if err != nil {
				return db.wrap(err, "")
			}
			next[w.ID] = last - k + 1
		}
	}
	for i := range e.Notices {
		n := &e.Notices[i]
		to[i] = slices.DeleteFunc(to[i], func(id string) bool { _, ok := next[id]; return !ok })
		if len(to[i]) == 0 {
			continue
		}
		if n.ID == "" {
			n.ID = keyhaven.NewID("msg")
		}
		payload, err := n.Payload(e.At)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhook_messages (id, tenant_id, type, payload, created_at) VALUES (?, ?, ?, ?, ?)`),
			n.ID, e.TenantID, string(n.Type), string(payload), mustDB(e.At)); err != nil {
			return db.wrap(err, "")
		}
		for _, id := range to[i] {
			if err := db.insertQueued(ctx, tx, id, n.ID, next[id], e.At); err != nil {
				return err
			}
			next[id]++
		}
	}
	db.queued.Store(tx, true)
	return nil
}

// enqueue queues message for webhook, due at, at the end of the webhook's order.
func (db *DB) enqueue(ctx context.Context, tx *sql.Tx, webhook, message string, at time.Time) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, db.q(`UPDATE webhooks SET seq = seq + 1 WHERE id = ? RETURNING seq`), webhook).Scan(&seq); err != nil {
		return db.notFound(err, "webhook")
	}
	return db.insertQueued(ctx, tx, webhook, message, seq, at)
}

// insertQueued queues message for webhook as its number seq, due at.
func (db *DB) insertQueued(ctx context.Context, tx *sql.Tx, webhook, message string, seq int64, at time.Time) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhook_queue (id, webhook_id, message_id, seq, attempts, next_at, owner, lease_until)
		VALUES (?, ?, ?, ?, 0, ?, '', NULL)`), keyhaven.NewID("whq"), webhook, message, seq, mustDB(at))
	return db.wrap(err, "")
}

const attemptColumns = `id, tenant_id, webhook_id, message_id, type, attempt, at, status, error, outcome`

func scanAttempt(row scanner) (*keyhaven.WebhookAttempt, error) {
	var a keyhaven.WebhookAttempt
	var at int64
	if err := row.Scan(&a.ID, &a.TenantID, &a.WebhookID, &a.MessageID, &a.Type, &a.Attempt, &at, &a.Status, &a.Error, &a.Outcome); err != nil {
		return nil, err
	}
	a.At = time.UnixMicro(at).UTC()
	return &a, nil
}

// ListWebhookAttempts implements keyhaven.Store. Attempts come newest first; Page.After is the
// last id of the previous page.
func (db *DB) ListWebhookAttempts(ctx context.Context, tenantID, webhookID string, page keyhaven.Page) ([]*keyhaven.WebhookAttempt, error) {
	query := `SELECT ` + attemptColumns + ` FROM webhook_attempts WHERE tenant_id = ? AND webhook_id = ?`
	args := []any{tenantID, webhookID}
	if page.After != "" {
		query += ` AND id < ?`
		args = append(args, page.After)
	}
	return list(ctx, db, scanAttempt, query+` ORDER BY id DESC LIMIT ?`, append(args, limit(page))...)
}

// ResendWebhookMessage implements keyhaven.Store.
func (db *DB) ResendWebhookMessage(ctx context.Context, tenantID, webhookID, attemptID string, now time.Time, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		var message string
		if err := tx.QueryRowContext(ctx, db.q(`SELECT a.message_id FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
			WHERE a.tenant_id = ? AND a.webhook_id = ? AND a.id = ?`), tenantID, webhookID, attemptID).Scan(&message); err != nil {
			return db.notFound(err, "delivery")
		}
		if err := db.enqueue(ctx, tx, webhookID, message, now); err != nil {
			return err
		}
		db.queued.Store(tx, true)
		return nil
	})
}

// ClaimWebhookDeliveries implements keyhaven.Store. The candidates are the first message of
// each enabled webhook's queue that is due and whose lease is free or has run out; each is
// taken with a compare-and-set on its lease, so that of two nodes claiming it at once exactly
// one wins.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, n int) ([]*keyhaven.WebhookDelivery, error) {
	free := `(lease_until IS NULL OR lease_until <= ?)`
	ids, err := list(ctx, db, func(row scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT q.id FROM webhook_queue q JOIN webhooks w ON w.id = q.webhook_id
		WHERE w.enabled = ? AND q.next_at <= ? AND `+strings.ReplaceAll(free, "lease_until", "q.lease_until")+`
		AND q.seq = (SELECT MIN(h.seq) FROM webhook_queue h WHERE h.webhook_id = q.webhook_id)
		ORDER BY q.next_at, q.id LIMIT ?`, true, mustDB(now), mustDB(now), n)
	if err != nil {
		return nil, err
	}
	var out []*keyhaven.WebhookDelivery
	for _, id := range ids {
		taken, err := db.exec(ctx, "", `UPDATE webhook_queue SET owner = ?, lease_until = ? WHERE id = ? AND `+free,
			owner, mustDB(leaseUntil), id, mustDB(now))
		if err != nil {
			return out, err
		}
		if taken != 1 {
			continue
		}
		var d keyhaven.WebhookDelivery
		var payload string
		err = db.w.QueryRowContext(ctx, db.q(`SELECT q.id, w.tenant_id, w.id, w.url, w.secret, m.id, m.type, m.payload, q.attempts
			FROM webhook_queue q JOIN webhooks w ON w.id = q.webhook_id JOIN webhook_messages m ON m.id = q.message_id
			WHERE q.id = ?`), id).Scan(&d.ID, &d.TenantID, &d.WebhookID, &d.URL, &d.Secret, &d.MessageID, &d.Type, &payload, &d.Attempt)
		if err == sql.ErrNoRows {
			continue // its webhook was deleted meanwhile
		}
		if err != nil {
			return out, db.wrap(err, "")
		}
		d.Payload = []byte(payload)
		d.Attempt++
		out = append(out, &d)
	}
	return out, nil
}

// FinishWebhookAttempt implements keyhaven.Store.
func (db *DB) FinishWebhookAttempt(ctx context.Context, deliveryID, owner string, a *keyhaven.WebhookAttempt, next time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM webhook_queue WHERE id = ? AND owner = ?`+db.dialect.ForUpdate),
			deliveryID, owner).Scan(&one)
		if err == sql.ErrNoRows {
			return errLeaseLost
		}
		if err != nil {
			return db.wrap(err, "")
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhook_attempts (`+attemptColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			a.ID, a.TenantID, a.WebhookID, a.MessageID, string(a.Type), a.Attempt, mustDB(a.At), a.Status, a.Error, a.Outcome); err != nil {
			return db.wrap(err, "")
		}
		if next.IsZero() {
			_, err = tx.ExecContext(ctx, db.q(`DELETE FROM webhook_queue WHERE id = ?`), deliveryID)
		} else {
			_, err = tx.ExecContext(ctx, db.q(`UPDATE webhook_queue SET attempts = attempts + 1, next_at = ?, owner = '', lease_until = NULL
				WHERE id = ?`), mustDB(next), deliveryID)
		}
		return db.wrap(err, "")
	})
}

// ReleaseWebhookLeases implements keyhaven.Store.
func (db *DB) ReleaseWebhookLeases(ctx context.Context) error {
	_, err := db.exec(ctx, "", `UPDATE webhook_queue SET owner = '', lease_until = NULL WHERE owner <> ''`)
	return err
}

// CountPendingWebhookDeliveries implements keyhaven.Store.
func (db *DB) CountPendingWebhookDeliveries(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_queue`).Scan(&n)
	return n, db.wrap(err, "")
}

// DeleteWebhookHistory implements keyhaven.Store: attempts made before cutoff, then messages
// written before cutoff that nothing refers to any more.
func (db *DB) DeleteWebhookHistory(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM webhook_attempts WHERE at < ?`, mustDB(cutoff))
	if err != nil {
		return 0, err
	}
	_, err = db.exec(ctx, "", `DELETE FROM webhook_messages WHERE created_at < ?
		AND NOT EXISTS (SELECT 1 FROM webhook_queue q WHERE q.message_id = webhook_messages.id)
		AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.message_id = webhook_messages.id)`, mustDB(cutoff))
	return int(n), err
}

// NoteUsageExceeded implements keyhaven.Store.
func (db *DB) NoteUsageExceeded(ctx context.Context, credentialID string, at time.Time, periods keyhaven.RefillPeriods, event func(*keyhaven.Credential) *keyhaven.AuditEvent) (bool, error) {
	noted := false
	day, month := mustDB(periods.Daily), mustDB(periods.Monthly)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE credentials SET credits_exceeded_at = ?
			WHERE id = ? AND credits_remaining IS NOT NULL
			AND (credits_exceeded_at IS NULL OR credits_refill_amount IS NOT NULL AND credits_exceeded_at < `+refillPeriod+`)`),
			mustDB(at), credentialID, month, day)
		if err != nil {
			return db.wrap(err, "")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		c, err := scanCredential(tx.QueryRowContext(ctx, db.q(`SELECT `+credentialColumns+` FROM credentials c WHERE c.id = ?`), credentialID))
		if err != nil {
			return db.wrap(err, "")
		}
		noted = true
		return db.appendAudit(ctx, tx, event(c))
	})
	return noted, err
}

// expiringBatch is how many keys one query of NoteExpiring finds.
const expiringBatch = 200

// NoteExpiring implements keyhaven.Store. Each key is marked with a conditional write in its
// own transaction, with its record and notice.
func (db *DB) NoteExpiring(ctx context.Context, stage int, now, before time.Time, event func(*keyhaven.Credential) *keyhaven.AuditEvent) (int, error) {
	total := 0
	for {
		ids, err := list(ctx, db, func(row scanner) (string, error) {
			var id string
			return id, row.Scan(&id)
		}, `SELECT id FROM credentials WHERE expires_at IS NOT NULL AND expires_at > ? AND expires_at <= ?
			AND kind IN ('api_key', 'access_key') AND revoked_at IS NULL AND expiry_notice < ?
			ORDER BY expires_at, id LIMIT ?`, mustDB(now), mustDB(before), stage, expiringBatch)
		if err != nil {
			return total, err
		}
		for _, id := range ids {
			noted := false
			err := db.tx(ctx, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, db.q(`UPDATE credentials SET expiry_notice = ?
					WHERE id = ? AND expiry_notice < ? AND expires_at > ? AND expires_at <= ? AND revoked_at IS NULL`),
					stage, id, stage, mustDB(now), mustDB(before))
				if err != nil {
					return db.wrap(err, "")
				}
				if n, _ := res.RowsAffected(); n != 1 {
					return nil // another node took it
				}
				c, err := scanCredential(tx.QueryRowContext(ctx, db.q(`SELECT `+credentialColumns+` FROM credentials c WHERE c.id = ?`), id))
				if err != nil {
					return db.wrap(err, "")
				}
				noted = true
				return db.appendAudit(ctx, tx, event(c))
			})
			if err != nil {
				return total, err
			}
			if noted {
				total++
			}
		}
		if len(ids) < expiringBatch {
			return total, nil
		}
	}
}
