package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"keyhaven.dev/keyhaven"
)

// CreateProductOffering implements keyhaven.Store.
func (db *DB) CreateProductOffering(ctx context.Context, o *keyhaven.ProductOffering, e *keyhaven.AuditEvent) error {
	return db.insert(ctx, e, "a product offering with that id exists", `INSERT INTO product_offerings
		(tenant_id, id, name, access_validity_days, created_at) VALUES (?, ?, ?, ?, ?)`,
		o.TenantID, o.ID, o.Name, o.AccessValidityDays, mustDB(o.CreatedAt))
}

const offeringColumns = `tenant_id, id, name, access_validity_days, created_at`

func scanOffering(row scanner) (*keyhaven.ProductOffering, error) {
	var o keyhaven.ProductOffering
	var created int64
	if err := row.Scan(&o.TenantID, &o.ID, &o.Name, &o.AccessValidityDays, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = time.UnixMicro(created).UTC()
	return &o, nil
}

// ProductOffering implements keyhaven.Store.
func (db *DB) ProductOffering(ctx context.Context, tenantID, id string) (*keyhaven.ProductOffering, error) {
	o, err := scanOffering(db.r.QueryRowContext(ctx, db.q(`SELECT `+offeringColumns+` FROM product_offerings
		WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if err != nil {
		return nil, db.notFound(err, "product offering")
	}
	return o, nil
}

// ListProductOfferings implements keyhaven.Store.
func (db *DB) ListProductOfferings(ctx context.Context, tenantID string, page keyhaven.Page) ([]*keyhaven.ProductOffering, error) {
	return list(ctx, db, scanOffering, `SELECT `+offeringColumns+` FROM product_offerings
		WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`, tenantID, page.After, limit(page))
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, db *DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	return listOn(ctx, db, db.r, scan, query, args...)
}

// querier is what a list query runs on: the reading pool, or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// listOn is list on q: a transaction reads what it has written.
func listOn[T any](ctx context.Context, db *DB, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, db.wrap(err, "")
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, db.wrap(err, "")
		}
		out = append(out, v)
	}
	return out, db.wrap(rows.Err(), "")
}

const contractColumns = `tenant_id, id, product_offering_id, customer_name, start_at, end_at, status, created_at, updated_at`

func scanContract(row scanner) (*keyhaven.Contract, error) {
	var c keyhaven.Contract
	var start, end, created, updated int64
	if err := row.Scan(&c.TenantID, &c.ID, &c.ProductOfferingID, &c.CustomerName, &start, &end, &c.Status, &created, &updated); err != nil {
		return nil, err
	}
	c.StartDate, c.EndDate = time.UnixMicro(start).UTC(), time.UnixMicro(end).UTC()
	c.CreatedAt, c.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return &c, nil
}

// CreateContract implements keyhaven.Store.
func (db *DB) CreateContract(ctx context.Context, c *keyhaven.Contract, e *keyhaven.AuditEvent) error {
	return db.insert(ctx, e, "a contract with that id exists", `INSERT INTO contracts (`+contractColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.TenantID, c.ID, c.ProductOfferingID, c.CustomerName,
		mustDB(c.StartDate), mustDB(c.EndDate), c.Status, mustDB(c.CreatedAt), mustDB(c.UpdatedAt))
}

// Contract implements keyhaven.Store.
func (db *DB) Contract(ctx context.Context, tenantID, id string) (*keyhaven.Contract, error) {
	c, err := scanContract(db.r.QueryRowContext(ctx, db.q(`SELECT `+contractColumns+` FROM contracts
		WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if err != nil {
		return nil, db.notFound(err, "contract")
	}
	return c, nil
}

// ListContracts implements keyhaven.Store.
func (db *DB) ListContracts(ctx context.Context, tenantID string, f keyhaven.ContractFilter) ([]*keyhaven.Contract, error) {
	return list(ctx, db, scanContract, `SELECT `+contractColumns+` FROM contracts
		WHERE tenant_id = ? AND (? = '' OR product_offering_id = ?) AND (? = '' OR status = ?) AND id > ?
		ORDER BY id LIMIT ?`, tenantID, f.ProductOfferingID, f.ProductOfferingID, f.Status, f.Status, f.Page.After, limit(f.Page))
}

// UpdateContract implements keyhaven.Store.
func (db *DB) UpdateContract(ctx context.Context, tenantID, id string, change func(*keyhaven.Contract) error, e *keyhaven.AuditEvent) (*keyhaven.Contract, error) {
	return update(ctx, db, e, func(tx *sql.Tx) (*keyhaven.Contract, error) {
		c, err := scanContract(tx.QueryRowContext(ctx, db.q(`SELECT `+contractColumns+` FROM contracts
			WHERE tenant_id = ? AND id = ?`+db.dialect.ForUpdate), tenantID, id))
		return c, db.notFound(err, "contract")
	}, change, func(tx *sql.Tx, c *keyhaven.Contract) error {
		return db.execOne(ctx, tx, "contract", "", `UPDATE contracts SET status = ?, start_at = ?, end_at = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, c.Status, mustDB(c.StartDate), mustDB(c.EndDate), mustDB(c.UpdatedAt), tenantID, id)
	})
}
