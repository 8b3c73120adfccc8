package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"keyhaven/secret"
)

// loadSealer returns the sealer for the configured secret key. Without one, a single SQLite
// node keeps a generated key in a file beside its database (mode 0600); a PostgreSQL cluster
// must be given one, since all its nodes need the same.
func loadSealer(key, dsn string) (*secret.Sealer, error) {
	if key == "" {
		path, ok := strings.CutPrefix(dsn, "sqlite:")
		if !ok {
			return nil, errors.New("--secret-key (KEYHAVEN_SECRET_KEY) is required on PostgreSQL: every node needs the same key (make one with: openssl rand -base64 32)")
		}
		path += ".key"
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			key = strings.TrimSpace(string(b))
		case errors.Is(err, os.ErrNotExist):
			key = secret.NewKey()
			if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("write the secret key file: %w", err)
			}
		default:
			return nil, fmt.Errorf("read the secret key file: %w", err)
		}
	}
	raw, err := secret.ParseKey(key)
	if err != nil {
		return nil, err
	}
	return secret.NewSealer(raw)
}
