package sqlite_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/sqlite"
)

// TestFilesPrivate opens a new database under a umask that takes nothing away and writes to
// it: the database, its WAL and its shared-memory file are readable by their owner only.
func TestFilesPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := context.Background()
	path := testdb.SQLitePath(t)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	if err := db.CreateTenant(ctx, &keyhaven.Tenant{ID: "tnt_1", Name: "acme", CreatedAt: now},
		&keyhaven.User{ID: "usr_1", TenantID: "tnt_1", Email: "a@acme.test", CreatedAt: now, UpdatedAt: now},
		&keyhaven.Credential{ID: "akey_1", TenantID: "tnt_1", OwnerID: "usr_1", Kind: keyhaven.KindAPIKey, Name: "bootstrap", Hash: "h", CreatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", p, got)
		}
	}
}
