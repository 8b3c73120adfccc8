package sqlite_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/sqlite"
	"keyhaven.dev/keyhaven/sqlstore"
)

// TestBusyIsUnavailable holds the write lock from another connection past the busy timeout:
// a write then fails as EUNAVAILABLE (try again later), not as an internal error.
func TestBusyIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := testdb.SQLitePath(t)
	if db, err := sqlite.Open(ctx, path); err != nil {
		t.Fatal(err)
	} else {
		db.Close()
	}
	open := func(params string) *sql.DB {
		t.Helper()
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)"+params)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}
	holder, err := open("").Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(ctx, "ROLLBACK")

	w := open("&_txlock=immediate")
	store := sqlstore.New(w, w, sqlite.Dialect)
	now := time.Now()
	for name, write := range map[string]func() error{
		"statement": func() error {
			return store.DeleteCredential(ctx, "tnt_1", "key_1", nil)
		},
		"transaction": func() error {
			return store.CreateTenant(ctx, &keyhaven.Tenant{ID: "tnt_1", Name: "acme", CreatedAt: now},
				&keyhaven.User{ID: "usr_1", TenantID: "tnt_1", Email: "a@acme.test", CreatedAt: now, UpdatedAt: now},
				&keyhaven.Credential{ID: "akey_1", TenantID: "tnt_1", OwnerID: "usr_1", Kind: keyhaven.KindAPIKey, Name: "bootstrap", Hash: "h", CreatedAt: now}, nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := write()
			if got := keyhaven.ErrorCode(err); got != keyhaven.EUNAVAILABLE {
				t.Fatalf("a write while another connection holds the lock: code %q (%v), want %q", got, err, keyhaven.EUNAVAILABLE)
			}
		})
	}
}
