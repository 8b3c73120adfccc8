package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

const userColumns = `id, tenant_id, email, password_hash, permissions, created_at, updated_at, deleted_at`

func (db *DB) createUser(ctx context.Context, tx *sql.Tx, u *keyhaven.User) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`),
		u.ID, u.TenantID, u.Email, u.PasswordHash, u.Permissions.String(), mustDB(u.CreatedAt), mustDB(u.UpdatedAt))
	return db.wrap(err, "a user with that email exists")
}

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner) (*keyhaven.User, error) {
	var u keyhaven.User
	var perms string
	var created, updated, deleted sql.NullInt64
	if err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.PasswordHash, &perms, &created, &updated, &deleted); err != nil {
		return nil, err
	}
	u.Permissions = keyhaven.ParseStoredPermissions(perms)
	u.CreatedAt, u.UpdatedAt, u.DeletedAt = fromDB(created), fromDB(updated), fromDB(deleted)
	return &u, nil
}

// CreateUser implements keyhaven.Store.
func (db *DB) CreateUser(ctx context.Context, u *keyhaven.User, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error { return db.createUser(ctx, tx, u) })
}

// User implements keyhaven.Store.
func (db *DB) User(ctx context.Context, tenantID, id string) (*keyhaven.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users
		WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`), tenantID, id))
	if err != nil {
		return nil, db.notFound(err, "user")
	}
	return u, nil
}

// UserByEmail implements keyhaven.Store.
func (db *DB) UserByEmail(ctx context.Context, tenantID, email string) (*keyhaven.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users
		WHERE tenant_id = ? AND email = ? AND deleted_at IS NULL`), tenantID, email))
	if err != nil {
		return nil, db.notFound(err, "user")
	}
	return u, nil
}

// ListUsers implements keyhaven.Store.
func (db *DB) ListUsers(ctx context.Context, tenantID string, page keyhaven.Page) ([]*keyhaven.User, error) {
	return list(ctx, db, scanUser, `SELECT `+userColumns+` FROM users
		WHERE tenant_id = ? AND deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?`, tenantID, page.After, limit(page))
}

// UserEmails implements keyhaven.Store, with one query however many ids there are (the
// callers ask for a page's worth).
func (db *DB) UserEmails(ctx context.Context, tenantID string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, tenantID)
	for _, id := range ids {
		args = append(args, id)
	}
	type row struct{ id, email string }
	rows, err := list(ctx, db, func(s scanner) (row, error) {
		var r row
		return r, s.Scan(&r.id, &r.email)
	}, `SELECT id, email FROM users WHERE tenant_id = ? AND id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.id] = r.email
	}
	return out, nil
}

// liveUser reads a live user in tx and holds its row.
func (db *DB) liveUser(ctx context.Context, tx *sql.Tx, tenantID, id string) (*keyhaven.User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users
		WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`+db.dialect.ForUpdate), tenantID, id))
	return u, db.notFound(err, "user")
}

// UpdateUser implements keyhaven.Store.
func (db *DB) UpdateUser(ctx context.Context, tenantID, id string, change func(*keyhaven.User) error, end *keyhaven.EndSessions, e *keyhaven.AuditEvent) (*keyhaven.User, error) {
	return update(ctx, db, e, func(tx *sql.Tx) (*keyhaven.User, error) {
		return db.liveUser(ctx, tx, tenantID, id)
	}, change, func(tx *sql.Tx, u *keyhaven.User) error {
		if err := db.execOne(ctx, tx, "user", "", `UPDATE users SET permissions = ?, password_hash = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, u.Permissions.String(), u.PasswordHash, mustDB(u.UpdatedAt), tenantID, id); err != nil {
			return err
		}
		if end == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM credentials WHERE tenant_id = ? AND owner_id = ? AND kind = 'session' AND id <> ?`),
			tenantID, id, end.Keep)
		return db.wrap(err, "")
	})
}

// DeleteUser implements keyhaven.Store.
func (db *DB) DeleteUser(ctx context.Context, tenantID, id string, check func(*keyhaven.User) error, at time.Time, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		u, err := db.liveUser(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if err := check(u); err != nil {
			return err
		}
		if err := db.execOne(ctx, tx, "user", "", `UPDATE users SET deleted_at = ? WHERE tenant_id = ? AND id = ?`,
			mustDB(at), tenantID, id); err != nil {
			return err
		}
		// The keys of the user's applications, whoever owns them, and the user's own keys; then
		// the applications; then the sessions.
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE credentials SET revoked_at = ?
			WHERE tenant_id = ? AND revoked_at IS NULL AND kind = 'access_key'
			AND (owner_id = ? OR application_id IN (SELECT id FROM applications WHERE created_by = ?))`),
			mustDB(at), tenantID, id, id); err != nil {
			return db.wrap(err, "")
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE applications SET revoked_at = ?
			WHERE tenant_id = ? AND revoked_at IS NULL AND created_by = ?`), mustDB(at), tenantID, id); err != nil {
			return db.wrap(err, "")
		}
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM credentials WHERE tenant_id = ? AND owner_id = ? AND kind IN ('session', 'api_key')`), tenantID, id)
		return db.wrap(err, "")
	})
}
