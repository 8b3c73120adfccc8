package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

const batchColumns = `id, tenant_id, contract_id, created_by, requested, processed, created, failed, state, reason, input,
	owner, lease_until, created_at, started_at, finished_at, purged_at`

func scanBatchTask(row scanner) (*keyhaven.BatchTask, error) {
	var t keyhaven.BatchTask
	var created int64
	var lease, started, finished, purged sql.NullInt64
	if err := row.Scan(&t.ID, &t.TenantID, &t.ContractID, &t.CreatedBy, &t.Requested, &t.Processed, &t.Created, &t.Failed,
		&t.State, &t.Reason, &t.Input, &t.Owner, &lease, &created, &started, &finished, &purged); err != nil {
		return nil, err
	}
	t.CreatedAt = time.UnixMicro(created).UTC()
	t.LeaseUntil, t.StartedAt, t.FinishedAt, t.PurgedAt = fromDB(lease), fromDB(started), fromDB(finished), fromDB(purged)
	return &t, nil
}

// CreateBatchTask implements keyhaven.Store.
func (db *DB) CreateBatchTask(ctx context.Context, t *keyhaven.BatchTask, e *keyhaven.AuditEvent) error {
	return db.insert(ctx, e, "a task with that id exists", `INSERT INTO batch_tasks (`+batchColumns+`)
		VALUES (?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, '', NULL, ?, NULL, ?, NULL)`,
		t.ID, t.TenantID, t.ContractID, t.CreatedBy, t.Requested, t.State, t.Reason, t.Input, mustDB(t.CreatedAt), toDB(t.FinishedAt))
}

// BatchTask implements keyhaven.Store.
func (db *DB) BatchTask(ctx context.Context, tenantID, id string) (*keyhaven.BatchTask, error) {
	t, err := scanBatchTask(db.r.QueryRowContext(ctx, db.q(`SELECT `+batchColumns+` FROM batch_tasks
		WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if err != nil {
		return nil, db.notFound(err, "batch task")
	}
	return t, nil
}

// ListBatchTasks implements keyhaven.Store. The index (tenant_id, id) serves each page.
func (db *DB) ListBatchTasks(ctx context.Context, tenantID string, page keyhaven.Page) ([]*keyhaven.BatchTask, error) {
	query, args := `SELECT `+batchColumns+` FROM batch_tasks WHERE tenant_id = ?`, []any{tenantID}
	if page.After != "" {
		query += ` AND id < ?`
		args = append(args, page.After)
	}
	return list(ctx, db, scanBatchTask, query+` ORDER BY id DESC LIMIT ?`, append(args, limit(page))...)
}

// BatchErrors implements keyhaven.Store.
func (db *DB) BatchErrors(ctx context.Context, taskID string) ([]keyhaven.BatchError, error) {
	return list(ctx, db, func(row scanner) (keyhaven.BatchError, error) {
		var e keyhaven.BatchError
		err := row.Scan(&e.Index, &e.Code, &e.Message)
		return e, err
	}, `SELECT idx, code, message FROM batch_errors WHERE task_id = ? ORDER BY idx`, taskID)
}

// BatchAccesses implements keyhaven.Store. The index (created_by, batch_seq) serves each page.
func (db *DB) BatchAccesses(ctx context.Context, tenantID, taskID string, page keyhaven.Page) ([]*keyhaven.Access, error) {
	after := -1
	if page.After != "" {
		n, err := strconv.Atoi(page.After)
		if err != nil || n < 0 {
			return nil, keyhaven.Invalid(keyhaven.FieldError{Field: "cursor", Message: "is not a cursor of this list"})
		}
		after = n
	}
	return list(ctx, db, scanAccess, `SELECT `+accessColumns+accessFrom+`
		WHERE a.created_by = ? AND a.tenant_id = ? AND a.batch_seq > ? ORDER BY a.batch_seq LIMIT ?`, taskID, tenantID, after, limit(page))
}

const unfinished = `state IN ('ACKNOWLEDGED', 'IN_PROGRESS')`

// UnfinishedBatchTasks implements keyhaven.Store. The index on state serves it.
func (db *DB) UnfinishedBatchTasks(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM batch_tasks WHERE `+unfinished).Scan(&n)
	return n, db.wrap(err, "")
}

// nextTurn is the turn number a task takes when it is claimed or makes progress: higher than
// every other task's.
const nextTurn = `(SELECT COALESCE(MAX(n.turn), 0) + 1 FROM batch_tasks n)`

// ClaimBatchTask implements keyhaven.Store. Tenants take turns: the candidates are ordered by
// their tenant's latest turn, then by their own. A candidate is taken with a compare-and-set
// on its lease, so that of two nodes claiming it at once exactly one wins.
func (db *DB) ClaimBatchTask(ctx context.Context, owner string, now, leaseUntil time.Time) (*keyhaven.BatchTask, error) {
	claimable := `(lease_until IS NULL OR lease_until <= ? OR owner = ?)`
	ids, err := list(ctx, db, func(row scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT t.id FROM batch_tasks t WHERE `+unfinished+` AND `+claimable+`
		ORDER BY (SELECT MAX(l.turn) FROM batch_tasks l WHERE l.tenant_id = t.tenant_id), t.turn, t.created_at, t.id
		LIMIT 8`, mustDB(now), owner)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		n, err := db.exec(ctx, "", `UPDATE batch_tasks SET owner = ?, lease_until = ?, state = 'IN_PROGRESS',
			started_at = COALESCE(started_at, ?), turn = `+nextTurn+` WHERE id = ? AND `+unfinished+` AND `+claimable,
			owner, mustDB(leaseUntil), mustDB(now), id, mustDB(now), owner)
		if err != nil {
			return nil, err
		}
		if n == 1 {
			t, err := scanBatchTask(db.w.QueryRowContext(ctx, db.q(`SELECT `+batchColumns+` FROM batch_tasks WHERE id = ?`), id))
			return t, db.wrap(err, "")
		}
	}
	return nil, keyhaven.Errorf(keyhaven.ENOTFOUND, "no batch task to run")
}

// ReleaseBatchTask implements keyhaven.Store.
func (db *DB) ReleaseBatchTask(ctx context.Context, id, owner string) error {
	_, err := db.exec(ctx, "", `UPDATE batch_tasks SET owner = '', lease_until = NULL WHERE id = ? AND owner = ?`, id, owner)
	return err
}

var errLeaseLost = keyhaven.Reasonf(keyhaven.ECONFLICT, "lease_lost", "another runner holds the task")

// insertRows is how many accesses one INSERT statement carries.
const insertRows = 1000

// SaveBatchChunk implements keyhaven.Store. Its transaction runs on a connection of its own,
// over which PostgreSQL's COPY (Dialect.CopyFrom) loads the chunk's accesses.
func (db *DB) SaveBatchChunk(ctx context.Context, c *keyhaven.BatchChunk) (int, error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return 0, db.wrap(err, "")
	}
	defer conn.Close()
	created := 0
	err = db.connTx(ctx, conn, func(tx *sql.Tx) error {
		// Taking the task's row first both checks the lease and, on PostgreSQL, locks it
		// against a runner that would claim it meanwhile.
		// Progress is a turn: the task goes behind those that waited meanwhile.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE batch_tasks SET lease_until = ?, turn = `+nextTurn+`
			WHERE id = ? AND owner = ? AND state = 'IN_PROGRESS'`),
			mustDB(c.LeaseUntil), c.TaskID, c.Owner)
		if err != nil {
			return db.wrap(err, "")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errLeaseLost
		}
		inserted := make(map[string]bool, len(c.Accesses))
		if db.dialect.CopyFrom != nil {
			err = db.copyAccesses(ctx, conn, tx, c.Accesses, inserted)
		} else {
			for start := 0; start < len(c.Accesses) && err == nil; start += insertRows {
				err = db.insertAccesses(ctx, tx, c.Accesses[start:min(start+insertRows, len(c.Accesses))], inserted)
			}
		}
		if err != nil {
			return err
		}
		errs := c.Errors
		for _, a := range c.Accesses {
			if !inserted[a.ID] {
				errs = append(errs, keyhaven.BatchError{Index: a.BatchSeq, Code: "username_taken", Message: fmt.Sprintf("the username %s is taken", a.Username)})
			}
		}
		for _, e := range errs {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO batch_errors (task_id, idx, code, message) VALUES (?, ?, ?, ?)`),
				c.TaskID, e.Index, e.Code, e.Message); err != nil {
				return db.wrap(err, "")
			}
		}
		created = len(inserted)
		state, finished, input := keyhaven.BatchInProgress, any(nil), "input"
		if c.Done {
			// The sealed input may hold passwords: it goes when the work is done.
			state, finished, input = keyhaven.BatchDone, mustDB(c.Now), "''"
		}
		var total, failed int
		err = tx.QueryRowContext(ctx, db.q(`UPDATE batch_tasks SET processed = ?, created = created + ?, failed = failed + ?,
			state = ?, finished_at = ?, input = `+input+` WHERE id = ? RETURNING created, failed`),
			c.Processed, created, len(errs), state, finished, c.TaskID).Scan(&total, &failed)
		if err != nil || !c.Done || c.Finished == nil {
			return db.wrap(err, "")
		}
		return db.appendAudit(ctx, tx, c.Finished(total, failed))
	})
	return created, err
}

// connTx runs fn in a write transaction on conn, committing when it returns nil.
func (db *DB) connTx(ctx context.Context, conn *sql.Conn, fn func(*sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(err, "")
	}
	defer tx.Rollback()
	defer db.committed(tx)
	if err := fn(tx); err != nil {
		return db.wrap(err, "")
	}
	return db.wrap(tx.Commit(), "")
}

// insertAccesses inserts part in one statement, skipping the accesses whose username is taken,
// and marks those it inserted.
func (db *DB) insertAccesses(ctx context.Context, tx *sql.Tx, part []*keyhaven.Access, inserted map[string]bool) error {
	const cols = 15
	var b strings.Builder
	b.WriteString(`INSERT INTO accesses (` + accessInsertColumns + `) VALUES `)
	args := make([]any, 0, len(part)*cols)
	for i, a := range part {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, accessArgs(a)...)
	}
	b.WriteString(` ON CONFLICT (tenant_id, username) DO NOTHING RETURNING id`)
	rows, err := tx.QueryContext(ctx, db.q(b.String()), args...)
	if err != nil {
		return db.wrap(err, "")
	}
	return db.scanInserted(rows, inserted)
}

// stagedAccesses is the temporary table, one per connection, into which COPY loads a chunk's
// accesses, to be inserted from there skipping the taken usernames: COPY cannot skip a row
// that conflicts. It is emptied at every commit, and a rollback takes back what it loaded.
const stagedAccesses = "batch_staged_accesses"

// accessInsertColumnNames are accessInsertColumns one by one.
var accessInsertColumnNames = strings.Fields(strings.ReplaceAll(accessInsertColumns, ",", " "))

// copyAccesses inserts accs through COPY in tx, which runs on conn, skipping the accesses
// whose username is taken, and marks those it inserted.
func (db *DB) copyAccesses(ctx context.Context, conn *sql.Conn, tx *sql.Tx, accs []*keyhaven.Access, inserted map[string]bool) error {
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+stagedAccesses+` ON COMMIT DELETE ROWS
		AS SELECT `+accessInsertColumns+` FROM accesses WITH NO DATA`); err != nil {
		return db.wrap(err, "")
	}
	rows := make([][]any, len(accs))
	for i, a := range accs {
		rows[i] = accessArgs(a)
	}
	err := conn.Raw(func(driverConn any) error {
		_, err := db.dialect.CopyFrom(ctx, driverConn, stagedAccesses, accessInsertColumnNames, rows)
		return err
	})
	if err != nil {
		return db.wrap(err, "")
	}
	ids, err := tx.QueryContext(ctx, `INSERT INTO accesses (`+accessInsertColumns+`) SELECT `+accessInsertColumns+` FROM `+stagedAccesses+`
		ON CONFLICT (tenant_id, username) DO NOTHING RETURNING id`)
	if err != nil {
		return db.wrap(err, "")
	}
	return db.scanInserted(ids, inserted)
}

// scanInserted marks the ids rows returns as inserted, and closes rows.
func (db *DB) scanInserted(rows *sql.Rows, inserted map[string]bool) error {
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return db.wrap(err, "")
		}
		inserted[id] = true
	}
	return db.wrap(rows.Err(), "")
}

// FinishBatchTask implements keyhaven.Store.
func (db *DB) FinishBatchTask(ctx context.Context, t *keyhaven.BatchTask, owner string, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		err := db.execOne(ctx, tx, "batch task", "", `UPDATE batch_tasks SET state = ?, reason = ?, finished_at = ?, input = '', owner = '', lease_until = NULL
			WHERE id = ? AND owner = ?`, t.State, t.Reason, mustDB(t.FinishedAt), t.ID, owner)
		if keyhaven.ErrorCode(err) == keyhaven.ENOTFOUND {
			return errLeaseLost
		}
		return err
	})
}

// ReleaseBatchLeases implements keyhaven.Store.
func (db *DB) ReleaseBatchLeases(ctx context.Context) error {
	_, err := db.exec(ctx, "", `UPDATE batch_tasks SET owner = '', lease_until = NULL WHERE `+unfinished)
	return err
}

// PurgeBatchPasswords implements keyhaven.Store.
func (db *DB) PurgeBatchPasswords(ctx context.Context, cutoff, now time.Time) (int, error) {
	ids, err := list(ctx, db, func(row scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT id FROM batch_tasks WHERE finished_at < ? AND purged_at IS NULL`, mustDB(cutoff))
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		err := db.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE accesses SET batch_secret = NULL WHERE created_by = ? AND batch_secret IS NOT NULL`), id); err != nil {
				return db.wrap(err, "")
			}
			_, err := tx.ExecContext(ctx, db.q(`UPDATE batch_tasks SET purged_at = ?, input = '' WHERE id = ?`), mustDB(now), id)
			return db.wrap(err, "")
		})
		if err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
