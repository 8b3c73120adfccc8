package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"keyhaven"
)

// policyRow scans policyColumns.
type policyRow struct {
	allowlist               string
	rateLimit, ratePeriod   sql.NullInt64
	remaining, refillAmount sql.NullInt64
	refillInterval          sql.NullString
	refilledAt              sql.NullInt64
	meta                    sql.NullString
}

func (r *policyRow) dest() []any {
	return []any{&r.allowlist, &r.rateLimit, &r.ratePeriod, &r.remaining, &r.refillAmount, &r.refillInterval, &r.refilledAt, &r.meta}
}

func (r *policyRow) policy() keyhaven.Policy {
	p := keyhaven.Policy{IPAllowlist: keyhaven.ParseStoredAllowlist(r.allowlist)}
	if r.rateLimit.Valid && r.ratePeriod.Valid {
		p.RateLimit = &keyhaven.RateLimit{Limit: r.rateLimit.Int64, Period: time.Duration(r.ratePeriod.Int64) * time.Second}
	}
	if r.remaining.Valid {
		p.Credits = &keyhaven.Credits{Remaining: r.remaining.Int64, RefilledAt: fromDB(r.refilledAt)}
		if r.refillAmount.Valid && r.refillInterval.Valid {
			p.Credits.Refill = &keyhaven.Refill{Amount: r.refillAmount.Int64, Interval: keyhaven.RefillInterval(r.refillInterval.String)}
		}
	}
	if r.meta.Valid {
		p.Meta = json.RawMessage(r.meta.String)
	}
	return p
}

// policyArgs are p's values for the policy columns, in their order.
func policyArgs(p *keyhaven.Policy) [8]any {
	var a [8]any
	a[0] = keyhaven.FormatAllowlist(p.IPAllowlist)
	if r := p.RateLimit; r != nil {
		a[1], a[2] = r.Limit, int64(r.Period/time.Second)
	}
	if c := p.Credits; c != nil {
		a[3], a[6] = c.Remaining, toDB(c.RefilledAt)
		if c.Refill != nil {
			a[4], a[5] = c.Refill.Amount, string(c.Refill.Interval)
		}
	}
	if p.Meta != nil {
		a[7] = string(p.Meta)
	}
	return a
}

// setPolicy is the SET clause that writes policyArgs.
const setPolicy = `ip_allowlist = ?, rate_limit = ?, rate_period = ?, credits_remaining = ?, credits_refill_amount = ?,
	credits_refill_interval = ?, credits_refilled_at = ?, meta = ?`

// refillPeriod is the start of a credential's current refill period, given the periods of
// every interval as arguments (daily, then monthly).
const refillPeriod = `CASE credits_refill_interval WHEN 'MONTHLY' THEN CAST(? AS BIGINT) ELSE CAST(? AS BIGINT) END`

// creditsNow are a credential's credits at the instant of refillPeriod's arguments.
const creditsNow = `CASE WHEN credits_refill_amount IS NOT NULL AND credits_refilled_at < ` + refillPeriod + `
	THEN credits_refill_amount ELSE credits_remaining END`

// TakeCredits implements keyhaven.Store: one conditional UPDATE, which PostgreSQL runs
// against the row as the last committed writer left it and SQLite in its one writer, so that
// concurrent takers on any number of processes never take more than there is.
func (db *DB) TakeCredits(ctx context.Context, credentialID string, cost int64, periods keyhaven.RefillPeriods) (int64, bool, error) {
	day, month := mustDB(periods.Daily), mustDB(periods.Monthly)
	var remaining int64
	err := db.w.QueryRowContext(ctx, db.q(`UPDATE credentials SET
		credits_remaining = `+creditsNow+` - ?,
		credits_refilled_at = CASE WHEN credits_refill_amount IS NOT NULL THEN `+refillPeriod+` ELSE credits_refilled_at END
		WHERE id = ? AND credits_remaining IS NOT NULL AND `+creditsNow+` >= ?
		RETURNING credits_remaining`),
		month, day, cost, month, day, credentialID, month, day, cost).Scan(&remaining)
	if err == nil {
		return remaining, true, nil
	}
	if err != sql.ErrNoRows {
		return 0, false, db.wrap(err, "")
	}
	// Refused, or no credits: say what is left.
	var left sql.NullInt64
	err = db.r.QueryRowContext(ctx, db.q(`SELECT `+creditsNow+` FROM credentials WHERE id = ?`), month, day, credentialID).Scan(&left)
	if err != nil || !left.Valid {
		return 0, false, db.notFound(errNoRowsIfNil(err), "credits")
	}
	return left.Int64, false, nil
}

func errNoRowsIfNil(err error) error {
	if err == nil {
		return sql.ErrNoRows
	}
	return err
}

// TakeRateWindow implements keyhaven.Store (and ratelimit.Store): the window's row is made
// if it is missing, then read and locked (on PostgreSQL; SQLite's writer is alone), so that
// takers on every process line up on it.
func (db *DB) TakeRateWindow(ctx context.Context, key string, start, prevStart time.Time, take func(prev, cur int64) int64) (prev, cur int64, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO rate_windows (rate_key, window_start, used) VALUES (?, ?, 0)
			ON CONFLICT (rate_key, window_start) DO NOTHING`), key, mustDB(start)); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`SELECT used FROM rate_windows WHERE rate_key = ? AND window_start = ?`+db.dialect.ForUpdate),
			key, mustDB(start)).Scan(&cur); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, db.q(`SELECT used FROM rate_windows WHERE rate_key = ? AND window_start = ?`),
			key, mustDB(prevStart)).Scan(&prev)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if n := take(prev, cur); n > 0 {
			_, err := tx.ExecContext(ctx, db.q(`UPDATE rate_windows SET used = used + ? WHERE rate_key = ? AND window_start = ?`),
				n, key, mustDB(start))
			return err
		}
		return nil
	})
	return prev, cur, err
}

// DeleteRateWindows implements keyhaven.Store.
func (db *DB) DeleteRateWindows(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM rate_windows WHERE window_start < ?`, mustDB(cutoff))
	return int(n), err
}

// RotateCredential implements keyhaven.Store.
func (db *DB) RotateCredential(ctx context.Context, tenantID, id string, retireAt time.Time, change func(*keyhaven.Credential) error, e *keyhaven.AuditEvent) (*keyhaven.Credential, error) {
	var old string
	return update(ctx, db, e, func(tx *sql.Tx) (*keyhaven.Credential, error) {
		c, err := scanCredential(tx.QueryRowContext(ctx, db.q(`SELECT `+credentialColumns+` FROM credentials c
			WHERE c.tenant_id = ? AND c.id = ? AND c.kind IN ('api_key', 'access_key')`+db.dialect.ForUpdate), tenantID, id))
		if err == nil {
			old = c.Hash
		}
		return c, db.notFound(err, "credential")
	}, change, func(tx *sql.Tx, c *keyhaven.Credential) error {
		if err := db.execOne(ctx, tx, "credential", "", `UPDATE credentials SET hash = ?, display = ? WHERE tenant_id = ? AND id = ?`,
			c.Hash, c.Display, tenantID, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO retired_secrets (hash, credential_id, expires_at) VALUES (?, ?, ?)`),
			old, id, mustDB(retireAt))
		return db.wrap(err, "")
	})
}

// DeleteRetiredSecrets implements keyhaven.Store.
func (db *DB) DeleteRetiredSecrets(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM retired_secrets WHERE expires_at < ?`, mustDB(cutoff))
	return int(n), err
}
