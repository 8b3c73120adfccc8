package sqlite

import (
	"context"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/sqlstore"
)

// CommitWatcher tells whether another process (the command line beside a running server)
// committed to a database. It asks the writer connection for PRAGMA data_version, which
// changes only when another connection commits; the writer is the only connection of a DB
// that writes, so the DB's own commits never count.
type CommitWatcher struct {
	db   *sqlstore.DB
	last int64
	ok   bool
}

// NewCommitWatcher returns a watcher of commits to db made after this call.
func NewCommitWatcher(ctx context.Context, db *sqlstore.DB) *CommitWatcher {
	w := &CommitWatcher{db: db}
	w.last, w.ok = w.version(ctx)
	return w
}

func (w *CommitWatcher) version(ctx context.Context) (int64, bool) {
	var v int64
	err := w.db.SQL().QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
	return v, err == nil
}

// Changed reports whether another connection committed since the last call. A check that
// fails, or follows one that failed, counts as a change: what it guards may be stale.
func (w *CommitWatcher) Changed(ctx context.Context) bool {
	v, ok := w.version(ctx)
	changed := !ok || !w.ok || v != w.last
	w.last, w.ok = v, ok
	return changed
}

// WatchCommits checks db for another process's commit on clock's time, interval after the
// previous check ended, until ctx ends, and calls changed after each check that finds one.
func WatchCommits(ctx context.Context, clock keyhaven.Clock, db *sqlstore.DB, interval time.Duration, changed func()) {
	w := NewCommitWatcher(ctx, db)
	t := clock.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
		}
		if w.Changed(ctx) && ctx.Err() == nil {
			changed()
		}
		t.Reset(interval)
	}
}
