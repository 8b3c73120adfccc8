package sqlstore

import (
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
)

// Migration is one migration applied to the database.
type Migration struct {
	Version  int64
	Name     string // its file, such as 00007_sealing_key_check.sql
	Duration time.Duration
}

// Migrated returns the migrations the last Migrate applied, in order: none when the database
// was up to date.
func (db *DB) Migrated() []Migration { return db.migrated }

func migrationsOf(results []*goose.MigrationResult) []Migration {
	var out []Migration
	for _, r := range results {
		m := Migration{Duration: r.Duration}
		if r.Source != nil {
			m.Version, m.Name = r.Source.Version, filepath.Base(r.Source.Path)
		}
		out = append(out, m)
	}
	return out
}
