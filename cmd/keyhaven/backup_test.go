package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/internal/eventually"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/sqlite"
)

// runCmd runs a keyhaven command to its end (within a minute) and returns its output.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KEYHAVEN_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("keyhaven %s still ran after a minute:\n%s", strings.Join(args, " "), out)
	}
	return string(out), err
}

// mustFail runs a keyhaven command that must exit non-zero saying want.
func mustFail(t *testing.T, want string, args ...string) {
	t.Helper()
	out, err := runCmd(t, args...)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("keyhaven %s: err %v, output:\n%s\nwant a failure saying %q", strings.Join(args, " "), err, out, want)
	}
}

// batchDone submits a batch of n accesses on a new contract and waits for it to finish; it
// returns the task's URL and its passwords by username, which are sealed at rest.
func batchDone(t *testing.T, base, key, contract string, n int) (string, map[string]string) {
	t.Helper()
	mustRequest(t, "POST", base+"/api/default/product-offerings", key, fmt.Sprintf(`{"id":"offer-%s","name":"Offer"}`, contract), 201)
	mustRequest(t, "POST", base+"/api/default/contracts", key, fmt.Sprintf(
		`{"id":%q,"productOfferingId":"offer-%s","startDate":"2020-01-01T00:00:00Z","endDate":"2099-01-01T00:00:00Z"}`, contract, contract), 201)
	body := mustRequest(t, "POST", base+"/api/default/access/batch", key, fmt.Sprintf(`{"contractId":%q,"numberOfAccesses":%d}`, contract, n), 202)
	taskURL := base + "/api/default/access/batch/" + jsonField(t, body, "id")
	var task batchTask
	eventually.Within(t, 60*time.Second, func() error {
		task = batchTask{}
		getJSON(t, taskURL, key, &task)
		if task.State != "DONE" {
			return fmt.Errorf("batch not done: %+v", task)
		}
		return nil
	})
	pw := map[string]string{}
	for _, a := range task.Accesses {
		pw[a.Username] = a.Password
	}
	if len(pw) != n {
		t.Fatalf("batch done with %d accesses, want %d", len(pw), n)
	}
	return strings.TrimPrefix(taskURL, base), pw
}

// batchPasswords reads a finished task's passwords by username.
func batchPasswords(t *testing.T, base, key, taskPath string) map[string]string {
	t.Helper()
	var task batchTask
	getJSON(t, base+taskPath, key, &task)
	pw := map[string]string{}
	for _, a := range task.Accesses {
		pw[a.Username] = a.Password
	}
	return pw
}

// TestBackupWhileServing copies a database while a server writes to it, restores the copy
// beside its key and serves it: every write acknowledged before the backup began is there,
// and the batch passwords sealed at rest open.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "live.db")
	p := start(t, "--db", "sqlite:"+dbPath)
	base := p.addr()
	key := field(p.output(), "bootstrap key")
	taskPath, passwords := batchDone(t, base, key, "contract-001", 20)

	// A writer adds product offerings until the backup is over.
	var acked atomic.Int64 // offerings created so far
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			status, body := request(t, "POST", base+"/api/default/product-offerings", key, fmt.Sprintf(`{"id":"written-%d","name":"W"}`, i))
			if status != 201 {
				t.Errorf("write during the backup: %d %s", status, body)
				return
			}
			acked.Store(int64(i + 1))
		}
	})
	eventually.Within(t, time.Minute, func() error { // the writer is under way
		if n := acked.Load(); n < 5 {
			return fmt.Errorf("the writer made %d writes, want 5 before the backup", n)
		}
		return nil
	})
	before := acked.Load()
	out := filepath.Join(t.TempDir(), "copy.db")
	msg, err := runCmd(t, "backup", "--db", "sqlite:"+dbPath, out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, msg)
	}
	if acked.Load() <= before {
		t.Fatalf("the writer made no write during the backup (%d before, %d after)", before, acked.Load())
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the copy: %v %v, want mode 0600", fi, err)
	}
	liveKey, _ := os.ReadFile(dbPath + ".key")
	copyKey, err := os.ReadFile(out + ".key")
	if err != nil || string(copyKey) != string(liveKey) {
		t.Fatalf("OUT.key = %q (%v), want the live database's key", copyKey, err)
	}
	if fi, _ := os.Stat(out + ".key"); fi.Mode().Perm() != 0o600 {
		t.Fatalf("OUT.key mode %v, want 0600", fi.Mode().Perm())
	}
	// A backup never replaces a file.
	mustFail(t, "exists", "backup", "--db", "sqlite:"+dbPath, out)
	other := filepath.Join(t.TempDir(), "other.db")
	if err := os.WriteFile(other+".key", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustFail(t, "exists", "backup", "--db", "sqlite:"+dbPath, other)
	// A key that cannot open the copy's sealed data is not saved as its key.
	wrong := filepath.Join(t.TempDir(), "wrong.db")
	mustFail(t, "no backup written", "backup", "--db", "sqlite:"+dbPath, "--secret-key", secret.NewKey(), wrong)
	for _, f := range []string{other, wrong, wrong + ".key"} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("a refused backup wrote %s", f)
		}
	}
	p.stop()

	// The copy is a sound database.
	snap, err := sqlite.OpenReadOnly(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := snap.SQL().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the copy: %q %v", check, err)
	}
	snap.Close()

	// Restore: the copy and its key, under the names a server looks for.
	restored := filepath.Join(t.TempDir(), "keyhaven.db")
	for from, to := range map[string]string{out: restored, out + ".key": restored + ".key"} {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, "--db", "sqlite:"+restored)
	base = r.addr()
	if got := batchPasswords(t, base, key, taskPath); !mapsEqual(got, passwords) {
		t.Fatalf("restored batch passwords %v, want %v", got, passwords)
	}
	for i := range before {
		mustRequest(t, "GET", fmt.Sprintf("%s/api/default/product-offerings/written-%d", base, i), key, "", 200)
	}
	user, pw := "", ""
	for user, pw = range passwords {
		break
	}
	status, body := request(t, "POST", base+"/api/default/access/verify", key, fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw))
	if status != 200 || !containsValid(body) {
		t.Fatalf("a restored batch password does not verify: %d %s", status, body)
	}
	r.stop()
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBackupRefuses(t *testing.T) {
	dir := t.TempDir()
	mustFail(t, "pg_dump", "backup", "--db", "postgres://keyhaven@db.internal/keyhaven", filepath.Join(dir, "out.db"))
	mustFail(t, "no such file", "backup", "--db", "sqlite:"+filepath.Join(dir, "missing.db"), filepath.Join(dir, "out.db"))
	mustFail(t, "exactly one OUT", "backup", "--db", "sqlite:"+filepath.Join(dir, "missing.db"))
	if _, err := os.Stat(filepath.Join(dir, "out.db")); err == nil {
		t.Fatal("a refused backup wrote OUT")
	}
}

// TestServeRefusesAKeyThatCannotOpenItsData: a database with sealed data never gets a new
// key, nor serves with the wrong one: serve exits at once saying why. A fresh database starts.
func TestServeRefusesAKeyThatCannotOpenItsData(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "keyhaven.db")
		db := "sqlite:" + dbPath
		p := start(t, "--db", db) // a fresh database starts, with a new key file
		base := p.addr()
		key := field(p.output(), "bootstrap key")
		taskPath, passwords := batchDone(t, base, key, "contract-001", 3)
		p.stop()
		keyPath := dbPath + ".key"
		good, err := os.ReadFile(keyPath)
		if err != nil {
			t.Fatal(err)
		}

		// The key file moved away.
		if err := os.Rename(keyPath, keyPath+".away"); err != nil {
			t.Fatal(err)
		}
		mustFail(t, "key file "+keyPath+" is missing", "serve", "--addr", "127.0.0.1:0", "--db", db)
		if _, err := os.Stat(keyPath); err == nil {
			t.Fatal("serve made a new key file for a database with sealed data")
		}
		// Another key, in the file or given.
		if err := os.WriteFile(keyPath, []byte(secret.NewKey()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustFail(t, "refusing to start: the secret key is not the one", "serve", "--addr", "127.0.0.1:0", "--db", db)
		mustFail(t, "refusing to start", "serve", "--addr", "127.0.0.1:0", "--db", db, "--secret-key", secret.NewKey())
		// A database from before the key check value: its sealed rows judge the key.
		raw, err := sql.Open("sqlite", dbPath)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`DELETE FROM sealing_key_check`); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		mustFail(t, "(it cannot open its batch", "serve", "--addr", "127.0.0.1:0", "--db", db)

		// The right key serves the sealed data.
		if err := os.WriteFile(keyPath, good, 0o600); err != nil {
			t.Fatal(err)
		}
		p = start(t, "--db", db)
		if got := batchPasswords(t, p.addr(), key, taskPath); !mapsEqual(got, passwords) {
			t.Fatalf("batch passwords %v, want %v", got, passwords)
		}
		p.stop()
	})
	t.Run("postgres", func(t *testing.T) {
		db := testdb.PostgresDSN(t)
		p := start(t, "--db", db) // the cluster key
		base := p.addr()
		key := field(p.output(), "bootstrap key")
		taskPath, passwords := batchDone(t, base, key, "contract-001", 3)
		p.stop()
		mustFail(t, "refusing to start", "serve", "--addr", "127.0.0.1:0", "--db", db, "--secret-key", secret.NewKey())
		mustFail(t, "--secret-key (KEYHAVEN_SECRET_KEY) is required", "serve", "--addr", "127.0.0.1:0", "--db", db)
		p = start(t, "--db", db)
		if got := batchPasswords(t, p.addr(), key, taskPath); !mapsEqual(got, passwords) {
			t.Fatalf("batch passwords %v, want %v", got, passwords)
		}
		p.stop()
	})
}
