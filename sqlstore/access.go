package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"keyhaven"
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
func (db *DB) CreateAccess(ctx context.Context, a *keyhaven.Access) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO accesses (`+accessInsertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), accessArgs(a)...)
	if err != nil && db.dialect.IsUniqueViolation(err) {
		return keyhaven.Reasonf(keyhaven.ECONFLICT, "username_taken", "the username %s is taken", a.Username)
	}
	return db.wrap(err, "")
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

// UpdateAccess implements keyhaven.Store.
func (db *DB) UpdateAccess(ctx context.Context, a *keyhaven.Access) error {
	n, err := db.exec(ctx, "", `UPDATE accesses SET password_hash = ?, status = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		a.PasswordHash, a.Status, mustDB(a.UpdatedAt), a.TenantID, a.ID)
	if err == nil && n == 0 {
		return keyhaven.Errorf(keyhaven.ENOTFOUND, "access not found")
	}
	return err
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
