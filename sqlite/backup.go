package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"

	"keyhaven.dev/keyhaven/sqlstore"
)

// Backup writes a consistent copy of the database at path to the new file out (readable by
// its owner only), while other connections, of this process or others, go on reading and
// writing it: the copy is one read transaction (VACUUM INTO), so it holds every transaction
// committed before it began and none after. It refuses to replace an existing out. The copy
// is a plain database file; Open turns it back to WAL mode.
func Backup(ctx context.Context, path, out string) (err error) {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("back up sqlite %s: %w", path, err)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: a backup never replaces a file, name a new one", out)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(out)
		}
	}()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, out); err != nil {
		return fmt.Errorf("back up sqlite %s: %w", path, err)
	}
	// VACUUM INTO does not make its output durable.
	if f, err = os.OpenFile(out, os.O_RDWR, 0); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	return f.Close()
}

// OpenReadOnly opens the existing database file at path for reading only, applying no
// migrations: to look at a copy without changing it.
func OpenReadOnly(ctx context.Context, path string) (*sqlstore.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return sqlstore.New(r, r, Dialect), nil
}
