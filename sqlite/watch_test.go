package sqlite_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/sqlite"
	"keyhaven.dev/keyhaven/verify"
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

// TestWatchCommitsEmptiesTheCache: a verification cache watched by WatchCommits keeps what it
// holds while another process's commit is not yet checked for, and is emptied once the clock
// passes the watcher's interval.
func TestWatchCommitsEmptiesTheCache(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyhaven.db")
	server, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	created, err := keyhaven.NewService(server, slog.New(slog.DiscardHandler)).CreateTenant(ctx, "acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	hash := secret.Hash(created.APIKey)
	cache := verify.NewCache(server, 10)
	resolves := func() bool {
		t.Helper()
		_, err := cache.ResolveCredential(ctx, hash)
		if err != nil && keyhaven.ErrorCode(err) != keyhaven.ENOTFOUND {
			t.Fatal(err)
		}
		return err == nil
	}
	if !resolves() {
		t.Fatal("the bootstrap key does not resolve")
	}

	clock := keyhaven.NewManualClock(time.Now())
	const interval = time.Second
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { sqlite.WatchCommits(runCtx, clock, server, interval, cache.Flush) })
	defer wg.Wait()
	defer stop()
	parked := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("the watcher does not wait on the clock: %v", err)
		}
	}
	parked()

	r, err := cli.ResolveCredential(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.DeleteCredential(ctx, r.Tenant.ID, r.Credential.ID, nil); err != nil {
		t.Fatal(err)
	}
	clock.Advance(interval - time.Nanosecond)
	if !resolves() {
		t.Fatal("the cache was emptied before the watcher's interval passed")
	}
	clock.Advance(time.Nanosecond)
	parked()
	if resolves() {
		t.Fatal("the key another process deleted still resolves once the clock passed the watcher's interval")
	}
}
