package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"keyhaven.dev/keyhaven"
)

const credentialColumns = `c.id, c.tenant_id, c.kind, c.owner_id, c.name, c.description, c.application_id,
	c.hash, c.display, c.permissions, c.active, c.expires_at, c.revoked_at, c.created_at, c.last_used_at, ` + policyColumns + `,
	c.expiry_notice`

// policyColumns are a credential's policy, read by every query that reads one.
const policyColumns = `c.ip_allowlist, c.rate_limit, c.rate_period, c.credits_remaining, c.credits_refill_amount,
	c.credits_refill_interval, c.credits_refilled_at, c.meta, c.credits_exceeded_at`

func (db *DB) createCredential(ctx context.Context, tx *sql.Tx, c *keyhaven.Credential) error {
	if c.Kind == keyhaven.KindAPIKey {
		if err := db.deleteExpiredAPIKey(ctx, tx, c.TenantID, c.Name, c.CreatedAt); err != nil {
			return err
		}
	}
	var app any
	if c.ApplicationID != "" {
		app = c.ApplicationID
	}
	pa := policyArgs(&c.Policy)
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO credentials (id, tenant_id, kind, owner_id, name, description,
		application_id, hash, display, permissions, active, expires_at, revoked_at, created_at, last_used_at,
		ip_allowlist, rate_limit, rate_period, credits_remaining, credits_refill_amount, credits_refill_interval,
		credits_refilled_at, meta, credits_exceeded_at, expiry_notice)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		append(append([]any{c.ID, c.TenantID, string(c.Kind), c.OwnerID, c.Name, c.Description, app, c.Hash, c.Display,
			c.Permissions.String(), c.Active, toDB(c.ExpiresAt), toDB(c.RevokedAt), mustDB(c.CreatedAt), toDB(c.LastUsedAt)}, pa[:]...), c.ExpiryNotice)...)
	return db.wrap(err, "a credential with that name exists")
}

type credentialRow struct {
	c                      keyhaven.Credential
	kind, perms            string
	app                    sql.NullString
	expires, revoked, used sql.NullInt64
	created                int64
	policy                 policyRow
}

func (r *credentialRow) dest() []any {
	return append([]any{&r.c.ID, &r.c.TenantID, &r.kind, &r.c.OwnerID, &r.c.Name, &r.c.Description, &r.app,
		&r.c.Hash, &r.c.Display, &r.perms, &r.c.Active, &r.expires, &r.revoked, &r.created, &r.used}, append(r.policy.dest(), &r.c.ExpiryNotice)...)
}

func scanCredential(row scanner) (*keyhaven.Credential, error) {
	var cr credentialRow
	if err := row.Scan(cr.dest()...); err != nil {
		return nil, err
	}
	return cr.credential(), nil
}

func (r *credentialRow) credential() *keyhaven.Credential {
	c := r.c
	c.Kind = keyhaven.CredentialKind(r.kind)
	c.ApplicationID = r.app.String
	c.Permissions = keyhaven.ParseStoredPermissions(r.perms)
	c.ExpiresAt, c.RevokedAt, c.LastUsedAt = fromDB(r.expires), fromDB(r.revoked), fromDB(r.used)
	c.CreatedAt = time.UnixMicro(r.created).UTC()
	c.Policy = r.policy.policy()
	return &c
}

// CreateCredential implements keyhaven.Store. An API key is checked against its tenant's
// limit of live keys in the transaction that inserts it: an expired key is deleted already.
func (db *DB) CreateCredential(ctx context.Context, c *keyhaven.Credential, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		if c.Kind == keyhaven.KindAPIKey {
			if err := db.checkAPIKeyLimit(ctx, tx, c.TenantID, c.CreatedAt); err != nil {
				return err
			}
		}
		return db.createCredential(ctx, tx, c)
	})
}

// ResolveCredential implements keyhaven.Store. One indexed read joins the credential to its
// tenant and owner, reading only what judging it needs (this is the verification path's
// query when the cache misses).
func (db *DB) ResolveCredential(ctx context.Context, hash string) (*keyhaven.Resolution, error) {
	stmt, err := db.resolveStmt(ctx)
	if err != nil {
		return nil, db.wrap(err, "")
	}
	var c keyhaven.Credential
	var t keyhaven.Tenant
	var owner keyhaven.User
	var kind, perms, ownerPerms string
	var app sql.NullString
	var expires, revoked, used, ownerDeleted, retired sql.NullInt64
	var pr policyRow
	err = stmt.QueryRowContext(ctx, hash, hash).Scan(append([]any{&c.ID, &c.TenantID, &kind, &c.OwnerID, &c.Name, &app, &perms, &c.Active,
		&expires, &revoked, &used, &t.Name, &owner.Email, &ownerPerms, &ownerDeleted, &retired, &c.Hash}, pr.dest()...)...)
	if err != nil {
		return nil, db.notFound(err, "credential")
	}
	c.Kind, c.ApplicationID = keyhaven.CredentialKind(kind), app.String
	c.Permissions = keyhaven.ParseStoredPermissions(perms)
	c.ExpiresAt, c.RevokedAt, c.LastUsedAt = fromDB(expires), fromDB(revoked), fromDB(used)
	c.Policy = pr.policy()
	t.ID = c.TenantID
	owner.ID, owner.TenantID = c.OwnerID, c.TenantID
	owner.Permissions, owner.DeletedAt = keyhaven.ParseStoredPermissions(ownerPerms), fromDB(ownerDeleted)
	return &keyhaven.Resolution{Credential: &c, Tenant: &t, Owner: &owner, SecretExpiresAt: fromDB(retired)}, nil
}

// DeleteCredential implements keyhaven.Store.
func (db *DB) DeleteCredential(ctx context.Context, tenantID, id string, e *keyhaven.AuditEvent) error {
	return db.change(ctx, e, func(tx *sql.Tx) error {
		return db.execOne(ctx, tx, "credential", "", `DELETE FROM credentials WHERE tenant_id = ? AND id = ?`, tenantID, id)
	})
}

// DeleteExpiredCredentials implements keyhaven.Store. Access keys are kept when they expire:
// their listings show them as EXPIRED.
func (db *DB) DeleteExpiredCredentials(ctx context.Context, now time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM credentials
		WHERE expires_at IS NOT NULL AND expires_at <= ? AND kind IN ('session', 'api_key')`, mustDB(now))
	return int(n), err
}

// CountOwnedCredentials implements keyhaven.Store.
func (db *DB) CountOwnedCredentials(ctx context.Context, tenantID, userID string, now time.Time) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM credentials
		WHERE tenant_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
		AND (owner_id = ? OR application_id IN (SELECT id FROM applications WHERE created_by = ? AND revoked_at IS NULL))`),
		tenantID, mustDB(now), userID, userID).Scan(&n)
	return n, db.wrap(err, "")
}

// RecordCredentialUse sets each credential's last use unless it holds a later one, in one
// transaction.
func (db *DB) RecordCredentialUse(ctx context.Context, uses map[string]time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, db.q(`UPDATE credentials SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`))
		if err != nil {
			return db.wrap(err, "")
		}
		defer stmt.Close()
		for id, at := range uses {
			if _, err := stmt.ExecContext(ctx, mustDB(at), id, mustDB(at)); err != nil {
				return db.wrap(err, "")
			}
		}
		return nil
	})
}

// resolveQuery finds a secret among the credentials' current secrets and, failing that,
// among the secrets rotations retired, in one statement.
const resolveQuery = `SELECT c.id, c.tenant_id, c.kind, c.owner_id, c.name, c.application_id, c.permissions, c.active,
	c.expires_at, c.revoked_at, c.last_used_at, t.name, u.email, u.permissions, u.deleted_at, NULL, c.hash, ` + policyColumns + `
	FROM credentials c JOIN tenants t ON t.id = c.tenant_id JOIN users u ON u.id = c.owner_id
	WHERE c.hash = ?
	UNION ALL
	SELECT c.id, c.tenant_id, c.kind, c.owner_id, c.name, c.application_id, c.permissions, c.active,
	c.expires_at, c.revoked_at, c.last_used_at, t.name, u.email, u.permissions, u.deleted_at, r.expires_at, c.hash, ` + policyColumns + `
	FROM retired_secrets r JOIN credentials c ON c.id = r.credential_id JOIN tenants t ON t.id = c.tenant_id
	JOIN users u ON u.id = c.owner_id
	WHERE r.hash = ?`

// resolveStmt returns the prepared statement of the verification path's one query, prepared
// once (database/sql prepares it again on each connection as needed).
func (db *DB) resolveStmt(ctx context.Context) (*sql.Stmt, error) {
	if s := db.resolve.Load(); s != nil {
		return s, nil
	}
	db.prepMu.Lock()
	defer db.prepMu.Unlock()
	if s := db.resolve.Load(); s != nil {
		return s, nil
	}
	s, err := db.r.PrepareContext(context.WithoutCancel(ctx), db.q(resolveQuery))
	if err != nil {
		return nil, err
	}
	db.resolve.Store(s)
	return s, nil
}
