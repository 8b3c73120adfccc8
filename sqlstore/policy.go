package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"keyhaven.dev/keyhaven"
)

// policyRow scans policyColumns.
type policyRow struct {
	allowlist               string
	rateLimit, ratePeriod   sql.NullInt64
	remaining, refillAmount sql.NullInt64
	refillInterval          sql.NullString
	refilledAt              sql.NullInt64
	meta                    sql.NullString
	exceededAt              sql.NullInt64
}

func (r *policyRow) dest() []any {
	return []any{&r.allowlist, &r.rateLimit, &r.ratePeriod, &r.remaining, &r.refillAmount, &r.refillInterval, &r.refilledAt, &r.meta, &r.exceededAt}
}

func (r *policyRow) policy() keyhaven.Policy {
	p := keyhaven.Policy{IPAllowlist: keyhaven.ParseStoredAllowlist(r.allowlist)}
	if r.rateLimit.Valid && r.ratePeriod.Valid {
		p.RateLimit = &keyhaven.RateLimit{Limit: r.rateLimit.Int64, Period: time.Duration(r.ratePeriod.Int64) * time.Second}
	}
	if r.remaining.Valid {
		p.Credits = &keyhaven.Credits{Remaining: r.remaining.Int64, RefilledAt: fromDB(r.refilledAt), ExceededAt: fromDB(r.exceededAt)}
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
func policyArgs(p *keyhaven.Policy) [9]any {
	var a [9]any
	a[0] = keyhaven.FormatAllowlist(p.IPAllowlist)
	if r := p.RateLimit; r != nil {
		a[1], a[2] = r.Limit, int64(r.Period/time.Second)
	}
	if c := p.Credits; c != nil {
		a[3], a[6], a[8] = c.Remaining, toDB(c.RefilledAt), toDB(c.ExceededAt)
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
	credits_refill_interval = ?, credits_refilled_at = ?, meta = ?, credits_exceeded_at = ?`

// refillPeriod is the start of a credential's current refill period, given the periods of
// every interval as arguments (daily, then monthly).
const refillPeriod = `CASE credits_refill_interval WHEN 'MONTHLY' THEN CAST(? AS BIGINT) ELSE CAST(? AS BIGINT) END`

// creditsNow are a credential's credits at the instant of refillPeriod's arguments.
const creditsNow = `CASE WHEN credits_refill_amount IS NOT NULL AND credits_refilled_at < ` + refillPeriod + `
	THEN credits_refill_amount ELSE credits_remaining END`

// TakeCredits implements keyhaven.Store: one conditional UPDATE, which PostgreSQL runs
// against the row as the last committed writer left it and SQLite in its one writer, so that
// concurrent takers on any number of processes never take more than there is.
//
// Takes that arrive while another batch of them commits wait and commit together in the
// next transaction (group commit): each is still its own conditional UPDATE, answered only
// once it is durable, but a busy node pays one commit for many verifications instead of one
// each. A take that finds nobody committing runs at once.
func (db *DB) TakeCredits(ctx context.Context, credentialID string, cost int64, periods keyhaven.RefillPeriods) (int64, bool, error) {
	t := &creditTake{id: credentialID, cost: cost, periods: periods, done: make(chan struct{})}
	db.credits.mu.Lock()
	db.credits.pending = append(db.credits.pending, t)
	lead := !db.credits.running
	db.credits.running = true
	db.credits.mu.Unlock()
	if lead {
		db.commitCredits(context.WithoutCancel(ctx))
	}
	select {
	case <-t.done:
		return t.remaining, t.ok, t.err
	case <-ctx.Done():
		// The take may still commit; the caller gives up on its answer, not on the write.
		return 0, false, db.wrap(ctx.Err(), "")
	}
}

// creditTakes gathers the takes of credits waiting for the next commit.
type creditTakes struct {
	mu      sync.Mutex
	pending []*creditTake
	running bool // a leader is committing batches
}

type creditTake struct {
	id        string
	cost      int64
	periods   keyhaven.RefillPeriods
	remaining int64
	ok        bool
	err       error
	done      chan struct{}
}

// maxCreditBatch bounds the takes one transaction commits.
const maxCreditBatch = 256

// commitCredits commits batches of pending takes until none is left.
func (db *DB) commitCredits(ctx context.Context) {
	for {
		db.credits.mu.Lock()
		batch := db.credits.pending
		if len(batch) > maxCreditBatch {
			batch = batch[:maxCreditBatch]
		}
		db.credits.pending = db.credits.pending[len(batch):]
		if len(batch) == 0 {
			db.credits.running = false
			db.credits.pending = nil
			db.credits.mu.Unlock()
			return
		}
		db.credits.mu.Unlock()
		// Rows are locked in one order, so that two nodes' batches never deadlock.
		ordered := slices.Clone(batch)
		slices.SortStableFunc(ordered, func(a, b *creditTake) int { return strings.Compare(a.id, b.id) })
		err := db.tx(ctx, func(tx *sql.Tx) error {
			for _, t := range ordered {
				if err := db.takeCredits(ctx, tx, t); err != nil {
					return err
				}
			}
			return nil
		})
		for _, t := range batch {
			if err != nil {
				t.remaining, t.ok, t.err = 0, false, err
			}
			close(t.done)
		}
	}
}

// takeCredits runs one take in tx.
func (db *DB) takeCredits(ctx context.Context, tx *sql.Tx, t *creditTake) error {
	day, month := mustDB(t.periods.Daily), mustDB(t.periods.Monthly)
	err := tx.QueryRowContext(ctx, db.q(`UPDATE credentials SET
		credits_remaining = `+creditsNow+` - ?,
		credits_refilled_at = CASE WHEN credits_refill_amount IS NOT NULL THEN `+refillPeriod+` ELSE credits_refilled_at END
		WHERE id = ? AND credits_remaining IS NOT NULL AND `+creditsNow+` >= ?
		RETURNING credits_remaining`),
		month, day, t.cost, month, day, t.id, month, day, t.cost).Scan(&t.remaining)
	if err == nil {
		t.ok = true
		return nil
	}
	if err != sql.ErrNoRows {
		return err
	}
	// Refused, or no credits: say what is left.
	var left sql.NullInt64
	err = tx.QueryRowContext(ctx, db.q(`SELECT `+creditsNow+` FROM credentials WHERE id = ?`), month, day, t.id).Scan(&left)
	switch {
	case err == sql.ErrNoRows || err == nil && !left.Valid:
		t.err = db.notFound(sql.ErrNoRows, "credits")
		return nil
	case err != nil:
		return err
	}
	t.remaining = left.Int64
	return nil
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
