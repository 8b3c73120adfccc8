package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/sqlite"
)

// newBackupCmd writes a consistent copy of a live SQLite database to OUT and its secret key to
// OUT.key: the copy's sealed data opens only with that key.
func newBackupCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "backup --db sqlite:PATH OUT", Short: "Copy a live SQLite database to OUT and its secret key to OUT.key",
	}
	db := dbFlag(cmd.Flags())
	secretKey := cmd.Flags().String("secret-key", "", "the server's --secret-key, when it is given one: saved as OUT.key instead of DBFILE.key")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		if len(pos) != 1 {
			return errors.New("backup needs exactly one OUT, the new file to write the copy to")
		}
		return backup(cmd.Context(), *db, *secretKey, pos[0], p.stdout)
	}
	return cmd
}

func backup(ctx context.Context, db, secretKey, out string, stdout io.Writer) error {
	path, ok := strings.CutPrefix(db, "sqlite:")
	if !ok {
		return errors.New("keyhaven backup copies SQLite databases only. Back up PostgreSQL with pg_dump " +
			"(for example pg_dump --format=custom --file keyhaven.dump \"$KEYHAVEN_DB\") and keep the --secret-key value " +
			"safe, apart from the dump: the dump's sealed data opens only with it")
	}
	if path == "" {
		return errors.New("--db sqlite: needs a file path, e.g. sqlite:keyhaven.db")
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database to back up: %w", err)
	}
	key := secretKey
	if key == "" {
		b, err := os.ReadFile(keyFile(path))
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no key file %s beside the database: if its server is given --secret-key, give backup the same", keyFile(path))
		}
		if err != nil {
			return fmt.Errorf("read the secret key file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	raw, err := secret.ParseKey(key)
	if err != nil {
		return fmt.Errorf("the secret key: %w", err)
	}
	sealer, err := secret.NewSealer(raw)
	if err != nil {
		return err
	}
	outKey := keyFile(out)
	if _, err := os.Lstat(outKey); err == nil {
		return fmt.Errorf("%s exists: a backup never replaces a file, name a new OUT", outKey)
	}
	if err := sqlite.Backup(ctx, path, out); err != nil {
		return err
	}
	if err := backupKey(ctx, out, outKey, key, sealer); err != nil {
		os.Remove(out)
		return err
	}
	fmt.Fprintf(stdout, "Backed up %s to %s and its secret key to %s. Keep them together: the copy's sealed data opens only with that key.\n", path, out, outKey)
	return nil
}

// backupKey makes sure the key opens the copy's sealed data, then writes it beside the copy.
func backupKey(ctx context.Context, out, outKey, key string, sealer *secret.Sealer) error {
	snapshot, err := sqlite.OpenReadOnly(ctx, out)
	if err != nil {
		return err
	}
	defer snapshot.Close()
	if err := keyhaven.CheckSealingKey(ctx, snapshot, sealer); err != nil {
		if keyhaven.ErrorReason(err) == "secret_key_mismatch" {
			return fmt.Errorf("no backup written: %s; give the key its server uses", keyhaven.ErrorMessage(err))
		}
		return fmt.Errorf("check the secret key against the copy: %w", err)
	}
	return writeKeyFile(outKey, key)
}
