package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/sqlstore"
)

// checkSecretKeyFlag rejects a malformed --secret-key, and a missing one on PostgreSQL, before
// anything is opened.
func checkSecretKeyFlag(key, dsn string) error {
	if key != "" {
		if _, err := secret.ParseKey(key); err != nil {
			return fmt.Errorf("--secret-key: %w", err)
		}
		return nil
	}
	if !strings.HasPrefix(dsn, "sqlite:") {
		return errors.New("--secret-key (KEYHAVEN_SECRET_KEY) is required on PostgreSQL: every node needs the same key (make one with: openssl rand -base64 32)")
	}
	return nil
}

// keyFile is where a SQLite database's sealing key is kept when no --secret-key is given.
func keyFile(dbPath string) string { return dbPath + ".key" }

// loadSealer returns the sealer for the configured secret key, after making sure that it opens
// what store holds sealed. Without a key, a single SQLite node keeps one in a file beside its
// database (mode 0600), generated only while the database holds nothing sealed: a new key for
// a database with sealed values would fail every read of them. A PostgreSQL cluster must be
// given one, since all its nodes need the same.
func loadSealer(ctx context.Context, store *sqlstore.DB, key, dsn string) (*secret.Sealer, error) {
	if err := checkSecretKeyFlag(key, dsn); err != nil {
		return nil, err
	}
	source := "--secret-key (KEYHAVEN_SECRET_KEY)"
	if key == "" {
		dbPath := strings.TrimPrefix(dsn, "sqlite:")
		path := keyFile(dbPath)
		source = "the key file " + path
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			key = strings.TrimSpace(string(b))
		case errors.Is(err, os.ErrNotExist):
			held, err := keyhaven.HoldsSealedData(ctx, store)
			if err != nil {
				return nil, err
			}
			if held {
				return nil, fmt.Errorf("the database %s holds sealed data (batch passwords, batch items, idempotent answers) but its key file %s is missing: "+
					"put back the key file saved with the database (keyhaven backup writes it as OUT.key) or give the key with --secret-key. "+
					"No new key is made: it could not open that data", dbPath, path)
			}
			key = secret.NewKey()
			if err := writeKeyFile(path, key); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("read the secret key file: %w", err)
		}
	}
	raw, err := secret.ParseKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	sealer, err := secret.NewSealer(raw)
	if err != nil {
		return nil, err
	}
	if err := keyhaven.AdoptSealingKey(ctx, store, sealer, time.Now()); err != nil {
		if keyhaven.ErrorReason(err) != "secret_key_mismatch" {
			return nil, fmt.Errorf("check the secret key: %w", err)
		}
		return nil, fmt.Errorf("refusing to start: %s; the key came from %s. Start with the key this database was used with: "+
			"on SQLite the DBFILE.key saved with it (keyhaven backup copies it as OUT.key), on PostgreSQL the --secret-key its nodes were given", keyhaven.ErrorMessage(err), source)
	}
	return sealer, nil
}

// writeKeyFile creates path holding key, readable by its owner only; it never replaces a file.
func writeKeyFile(path, key string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the secret key file: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write the secret key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write the secret key file: %w", err)
	}
	return f.Close()
}
