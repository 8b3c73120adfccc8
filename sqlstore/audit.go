package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"keyhaven.dev/keyhaven"
)

// AppendAudit implements keyhaven.Store.
func (db *DB) AppendAudit(ctx context.Context, e *keyhaven.AuditEvent) error {
	return db.tx(ctx, func(tx *sql.Tx) error { return db.appendAudit(ctx, tx, e) })
}

// appendAudit appends e, when set, in tx.
func (db *DB) appendAudit(ctx context.Context, tx *sql.Tx, e *keyhaven.AuditEvent) error {
	if e == nil {
		return nil
	}
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return keyhaven.Internal(err)
		}
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO audit_events (id, tenant_id, at, actor_kind, actor_id, actor_user_id,
		action, target_type, target_id, outcome, remote_addr, request_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.TenantID, mustDB(e.At), e.ActorKind, e.ActorID, e.ActorUserID, e.Action, e.TargetType,
		e.TargetID, e.Outcome, e.RemoteAddr, e.RequestID, string(detail))
	if err != nil {
		return db.wrap(err, "")
	}
	return db.queueNotices(ctx, tx, e)
}

// ListAudit implements keyhaven.Store. Events come newest first; Page.After is the last id of
// the previous page.
func (db *DB) ListAudit(ctx context.Context, tenantID string, f keyhaven.AuditFilter) ([]*keyhaven.AuditEvent, error) {
	query := `SELECT id, tenant_id, at, actor_kind, actor_id, actor_user_id, action, target_type, target_id,
		outcome, remote_addr, request_id, detail FROM audit_events WHERE tenant_id = ?`
	args := []any{tenantID}
	for _, c := range []struct{ col, val string }{
		{"action", f.Action}, {"actor_id", f.ActorID}, {"outcome", f.Outcome}, {"id <", f.Page.After},
	} {
		if c.val == "" {
			continue
		}
		op := " = ?"
		if c.col == "id <" {
			op = " ?"
		}
		query += " AND " + c.col + op
		args = append(args, c.val)
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit(f.Page))
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, db.wrap(err, "")
	}
	defer rows.Close()
	var out []*keyhaven.AuditEvent
	for rows.Next() {
		var e keyhaven.AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &e.TenantID, &at, &e.ActorKind, &e.ActorID, &e.ActorUserID, &e.Action,
			&e.TargetType, &e.TargetID, &e.Outcome, &e.RemoteAddr, &e.RequestID, &detail); err != nil {
			return nil, db.wrap(err, "")
		}
		e.At = time.UnixMicro(at).UTC()
		if detail != "{}" {
			_ = json.Unmarshal([]byte(detail), &e.Detail)
		}
		out = append(out, &e)
	}
	return out, db.wrap(rows.Err(), "")
}
