package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

const accessColumns = `a.id, a.tenant_id, a.contract_id, a.product_offering_id, a.device_name, a.username, a.password_hash,
	a.status, a.valid_from, a.valid_until, a.created_at, a.updated_at, a.created_by, a.batch_seq, a.batch_secret,
	COALESCE(o.name, ''), COALESCE(c.status, '')`

const accessFrom = ` FROM accesses a
	LEFT JOIN product_offerings o ON o.tenant_id = a.tenant_id AND o.id = a.product_offering_id
	LEFT JOIN contracts c ON c.tenant_id = a.tenant_id AND c.id = a.contract_id`

const accessInsertColumns = `id, tenant_id, contract_id, product_offering_id, device_name, username, password_hash,
	status, valid_from, valid_until, created_at, updated_at, created_by, batch_seq, batch_secret`

func accessArgs(a *keyhaven.Access) []any {
	var secret any
	if a.BatchSecret != "" {
		secret = a.BatchSecret
	}
	return []any{a.ID, a.TenantID, a.ContractID, a.ProductOfferingID, a.DeviceName, a.Username, a.PasswordHash,
		a.Status, mustDB(a.ValidFrom), mustDB(a.ValidUntil), mustDB(a.CreatedAt), mustDB(a.UpdatedAt), a.CreatedBy, a.BatchSeq, secret}
}

func scanAccess(row scanner) (*keyhaven.Access, error) {
	var a keyhaven.Access
	var from, until, created, updated int64
	var secret sql.NullString
	if err := row.Scan(&a.ID, &a.TenantID, &a.ContractID, &a.ProductOfferingID, &a.DeviceName, &a.Username, &a.PasswordHash,
		&a.Status, &from, &until, &created, &updated, &a.CreatedBy, &a.BatchSeq, &secret, &a.ProductOfferingName, &a.ContractStatus); err != nil {
		return nil, err
	}
	a.ValidFrom, a.ValidUntil = time.UnixMicro(from).UTC(), time.UnixMicro(until).UTC()
	a.CreatedAt, a.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	a.BatchSecret = secret.String
	return &a, nil
}

// CreateAccess implements keyhaven.Store.
func (db *DB) CreateAccess(ctx context.Context, a *keyhaven.Access, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO accesses (`+accessInsertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), accessArgs(a)...)
		if err != nil && db.dialect.IsUniqueViolation(err) {
			return keyhaven.Reasonf(keyhaven.ECONFLICT, "username_taken", "the username %s is taken", a.Username)
		}
		return db.wrap(err, "")
	})
}

// Access implements keyhaven.Store.
func (db *DB) Access(ctx context.Context, tenantID, id string) (*keyhaven.Access, error) {
	a, err := scanAccess(db.r.QueryRowContext(ctx, db.q(`SELECT `+accessColumns+accessFrom+`
		WHERE a.tenant_id = ? AND a.id = ?`), tenantID, id))
	if err != nil {
		return nil, db.notFound(err, "access")
	}
	return a, nil
}

// AccessByUsername implements keyhaven.Store.
func (db *DB) AccessByUsername(ctx context.Context, tenantID, username string) (*keyhaven.Access, error) {
	a, err := scanAccess(db.r.QueryRowContext(ctx, db.q(`SELECT `+accessColumns+accessFrom+`
		WHERE a.tenant_id = ? AND a.username = ?`), tenantID, username))
	if err != nil {
		return nil, db.notFound(err, "access")
	}
	return a, nil
}

// ListAccesses implements keyhaven.Store.
func (db *DB) ListAccesses(ctx context.Context, tenantID string, f keyhaven.AccessFilter) ([]*keyhaven.Access, error) {
	var w where
	w.add("a.tenant_id = ?", tenantID)
	w.addIf(f.ContractID != "", "a.contract_id = ?", f.ContractID)
	w.addIf(f.Status != "", "a.status = ?", f.Status)
	w.addIf(f.CreatedBy != "", "a.created_by = ?", f.CreatedBy)
	w.addIf(f.Username != "", "a.username = ?", f.Username)
	w.addIf(f.DeviceName != "", "a.device_name = ?", f.DeviceName)
	w.addIf(!f.CreatedAfter.IsZero(), "a.created_at >= ?", toDB(f.CreatedAfter))
	w.addIf(!f.CreatedBefore.IsZero(), "a.created_at < ?", toDB(f.CreatedBefore))
	if !f.ValidAt.IsZero() {
		w.add("a.valid_from <= ? AND a.valid_until > ?", mustDB(f.ValidAt), mustDB(f.ValidAt))
	}
	w.add("a.id > ?", f.Page.After)
	return list(ctx, db, scanAccess, `SELECT `+accessColumns+accessFrom+w.String()+` ORDER BY a.id LIMIT ?`, append(w.args, limit(f.Page))...)
}

// UpdateAccess implements keyhaven.Store. The access's own row is locked first: PostgreSQL
// locks no row on the nullable side of the joins that read it.
func (db *DB) UpdateAccess(ctx context.Context, tenantID, id string, change func(*keyhaven.Access) error, e *keyhaven.AuditEvent) (*keyhaven.Access, error) {
	return update(ctx, db, e, func(tx *sql.Tx) (*keyhaven.Access, error) {
		if err := db.lock(ctx, tx, "accesses", "access", tenantID, id); err != nil {
			return nil, err
		}
		a, err := scanAccess(tx.QueryRowContext(ctx, db.q(`SELECT `+accessColumns+accessFrom+`
			WHERE a.tenant_id = ? AND a.id = ?`), tenantID, id))
		return a, db.notFound(err, "access")
	}, change, func(tx *sql.Tx, a *keyhaven.Access) error {
		return db.execOne(ctx, tx, "access", "", `UPDATE accesses SET password_hash = ?, status = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			a.PasswordHash, a.Status, mustDB(a.UpdatedAt), tenantID, id)
	})
}

// lock holds the row of table with that tenant and id until tx ends (on SQLite the write
// transaction holds the whole database already), or returns ENOTFOUND naming what.
func (db *DB) lock(ctx context.Context, tx *sql.Tx, table, what, tenantID, id string) error {
	var got string
	err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM `+table+` WHERE tenant_id = ? AND id = ?`+db.dialect.ForUpdate), tenantID, id).Scan(&got)
	return db.notFound(err, what)
}

// where builds a WHERE clause from conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) addIf(ok bool, cond string, args ...any) {
	if ok {
		w.add(cond, args...)
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
