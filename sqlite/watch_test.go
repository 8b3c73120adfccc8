package sqlite_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"keyhaven"
	"keyhaven/sqlite"
)

// TestCommitWatcher: another process's commit is seen; the database's own commits are not.
func TestCommitWatcher(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyhaven.db")
	server, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := sqlite.Open(ctx, path) // its own connections, as another process has
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	w := sqlite.NewCommitWatcher(ctx, server)
	svc := func(db keyhaven.Store) *keyhaven.Service {
		return keyhaven.NewService(db, slog.New(slog.DiscardHandler))
	}
	now := time.Now()
	if w.Changed(ctx) {
		t.Fatal("a change with no commit")
	}
	if _, err := svc(server).CreateTenant(ctx, "own", "a@own.test"); err != nil {
		t.Fatal(err)
	}
	if w.Changed(ctx) {
		t.Fatal("the database's own commit counted as another process's")
	}
	if err := cli.ReleaseBatchLeases(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.PutSealingKeyCheck(ctx, "x", now); err != nil {
		t.Fatal(err)
	}
	if !w.Changed(ctx) {
		t.Fatal("another connection's commit not seen")
	}
	if w.Changed(ctx) {
		t.Fatal("one commit seen twice")
	}
}
