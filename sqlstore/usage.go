package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

// usageChunk is how many buckets one upsert statement adds to: 6 parameters each, well
// under both databases' limits.
const usageChunk = 500

// usageBucket is one row of usage_counts to add to.
type usageBucket struct {
	tenant      string
	granularity keyhaven.Granularity
	credential  string
	start       int64
	outcome     keyhaven.VerdictCode
}

// compare orders buckets as the primary key does, so that every flush takes its rows' locks
// in one order and two nodes flushing at once wait for each other rather than deadlock.
func (b usageBucket) compare(o usageBucket) int {
	return cmp.Or(strings.Compare(b.tenant, o.tenant), strings.Compare(string(b.granularity), string(o.granularity)),
		strings.Compare(b.credential, o.credential), cmp.Compare(b.start, o.start), strings.Compare(string(b.outcome), string(o.outcome)))
}

// usageBuckets returns what counts add to each bucket: at every granularity, under the
// credential and in the tenant's totals, in primary key order.
func usageBuckets(counts []keyhaven.UsageCount) ([]usageBucket, []int64) {
	sums := map[usageBucket]int64{}
	for _, c := range counts {
		for _, g := range keyhaven.Granularities {
			b := usageBucket{tenant: c.TenantID, granularity: g, start: mustDB(g.Start(c.Minute)), outcome: c.Outcome}
			sums[b] += c.Count
			if c.CredentialID != "" {
				b.credential = c.CredentialID
				sums[b] += c.Count
			}
		}
	}
	buckets := make([]usageBucket, 0, len(sums))
	for b := range sums {
		buckets = append(buckets, b)
	}
	slices.SortFunc(buckets, usageBucket.compare)
	adds := make([]int64, len(buckets))
	for i, b := range buckets {
		adds[i] = sums[b]
	}
	return buckets, adds
}

// AddUsage implements keyhaven.Store. Each bucket is an upsert that adds to what is stored,
// so that nodes flushing at once both count; the flush's id goes in first, in the same
// transaction, and a flush whose id is there already adds nothing.
func (db *DB) AddUsage(ctx context.Context, f *keyhaven.UsageFlush) error {
	buckets, adds := usageBuckets(f.Counts)
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO usage_flushes (id, added_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
			f.ID, mustDB(f.At))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // added already
		}
		for i := 0; i < len(buckets); i += usageChunk {
			end := min(i+usageChunk, len(buckets))
			var q strings.Builder
			q.WriteString(`INSERT INTO usage_counts (tenant_id, granularity, credential_id, period_start, outcome, uses) VALUES `)
			args := make([]any, 0, 6*(end-i))
			for j := i; j < end; j++ {
				if j > i {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?)")
				b := buckets[j]
				args = append(args, b.tenant, string(b.granularity), b.credential, b.start, string(b.outcome), adds[j])
			}
			q.WriteString(` ON CONFLICT (tenant_id, granularity, credential_id, period_start, outcome)
				DO UPDATE SET uses = usage_counts.uses + excluded.uses`)
			if _, err := tx.ExecContext(ctx, db.q(q.String()), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// UsageRows implements keyhaven.Store.
func (db *DB) UsageRows(ctx context.Context, tenantID, credentialID string, g keyhaven.Granularity, from, to time.Time) ([]keyhaven.UsageRow, error) {
	return list(ctx, db, func(row scanner) (keyhaven.UsageRow, error) {
		var r keyhaven.UsageRow
		var start int64
		err := row.Scan(&start, &r.Outcome, &r.Count)
		r.Start = time.UnixMicro(start).UTC()
		return r, err
	}, `SELECT period_start, outcome, uses FROM usage_counts
		WHERE tenant_id = ? AND granularity = ? AND credential_id = ? AND period_start >= ? AND period_start < ?
		ORDER BY period_start, outcome`, tenantID, string(g), credentialID, mustDB(from), mustDB(to))
}

// TopUsage implements keyhaven.Store. A credential's name comes from the credentials, a
// device access's from the accesses; a credential deleted since has neither.
func (db *DB) TopUsage(ctx context.Context, tenantID string, g keyhaven.Granularity, from, to time.Time, limit int) ([]keyhaven.UsageTotal, error) {
	return list(ctx, db, func(row scanner) (keyhaven.UsageTotal, error) {
		var t keyhaven.UsageTotal
		var kind, name, app, username sql.NullString
		err := row.Scan(&t.CredentialID, &t.Uses, &t.Valid, &kind, &name, &app, &username)
		t.Kind, t.Name, t.ApplicationID = keyhaven.CredentialKind(kind.String), name.String, app.String
		if username.Valid {
			t.Kind, t.Name = keyhaven.KindDevice, username.String
		}
		return t, err
	}, `SELECT u.credential_id, u.total, u.valid, c.kind, c.name, c.application_id, a.username
		FROM (SELECT credential_id, CAST(SUM(uses) AS BIGINT) AS total,
				CAST(SUM(CASE WHEN outcome = 'VALID' THEN uses ELSE 0 END) AS BIGINT) AS valid
			FROM usage_counts
			WHERE tenant_id = ? AND granularity = ? AND credential_id <> '' AND period_start >= ? AND period_start < ?
			GROUP BY credential_id ORDER BY total DESC, credential_id LIMIT ?) u
		LEFT JOIN credentials c ON c.id = u.credential_id AND c.tenant_id = ?
		LEFT JOIN accesses a ON a.id = u.credential_id AND a.tenant_id = ?
		ORDER BY u.total DESC, u.credential_id`,
		tenantID, string(g), mustDB(from), mustDB(to), limit, tenantID, tenantID)
}

// HasUsageSubject implements keyhaven.Store. DAY buckets are written with every count and
// kept longest: a credential counted in the tenant has one.
func (db *DB) HasUsageSubject(ctx context.Context, tenantID, id string) (bool, error) {
	var ok bool
	err := db.r.QueryRowContext(ctx, db.q(`SELECT
		EXISTS (SELECT 1 FROM credentials WHERE id = ? AND tenant_id = ? AND kind <> 'session')
		OR EXISTS (SELECT 1 FROM accesses WHERE id = ? AND tenant_id = ?)
		OR EXISTS (SELECT 1 FROM usage_counts WHERE tenant_id = ? AND granularity = 'DAY' AND credential_id = ?)`),
		id, tenantID, id, tenantID, tenantID, id).Scan(&ok)
	return ok, db.wrap(err, "")
}

// DeleteUsage implements keyhaven.Store.
func (db *DB) DeleteUsage(ctx context.Context, g keyhaven.Granularity, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM usage_counts WHERE granularity = ? AND period_start < ?`, string(g), mustDB(cutoff))
	return int(n), err
}

// DeleteUsageFlushes implements keyhaven.Store.
func (db *DB) DeleteUsageFlushes(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := db.exec(ctx, "", `DELETE FROM usage_flushes WHERE added_at < ?`, mustDB(cutoff))
	return int(n), err
}

// ExpiringCredentials implements keyhaven.Store.
func (db *DB) ExpiringCredentials(ctx context.Context, tenantID string, f keyhaven.ExpiringFilter) ([]*keyhaven.Credential, error) {
	var kinds []string
	args := []any{tenantID, mustDB(f.From), mustDB(f.To)}
	if f.APIKeys {
		kinds = append(kinds, `c.kind = 'api_key'`)
	}
	if f.AccessKeys {
		k := `(c.kind = 'access_key' AND a.revoked_at IS NULL`
		if f.AppCreatedBy != "" {
			k += ` AND a.created_by = ?`
			args = append(args, f.AppCreatedBy)
		}
		kinds = append(kinds, k+`)`)
	}
	if len(kinds) == 0 {
		return nil, nil
	}
	args = append(args, limit(keyhaven.Page{Limit: f.Limit}))
	return list(ctx, db, scanCredential, `SELECT `+credentialColumns+` FROM credentials c
		LEFT JOIN applications a ON a.id = c.application_id
		WHERE c.tenant_id = ? AND c.expires_at >= ? AND c.expires_at < ? AND c.revoked_at IS NULL
		AND (`+strings.Join(kinds, " OR ")+`)
		ORDER BY c.expires_at, c.id LIMIT ?`, args...)
}
