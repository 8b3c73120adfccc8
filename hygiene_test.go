package keyhaven_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLintRefusesLargeFiles: `make lint`, which CI runs, fails on a tracked file over 1 MB and
// names it, and passes on files up to 1 MB and on large files git ignores.
func TestLintRefusesLargeFiles(t *testing.T) {
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	lint := regexp.MustCompile(`(?m)^lint:\n((?:\t.*\n)+)`).FindSubmatch(makefile)
	if lint == nil || !strings.Contains(string(lint[1]), "scripts/check-file-sizes.sh") {
		t.Fatalf("make lint does not run scripts/check-file-sizes.sh:\n%s", lint)
	}
	script, err := filepath.Abs("scripts/check-file-sizes.sh")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	check := func() (string, error) {
		cmd := exec.Command(script)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	write := func(name string, size int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("*.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write("exactly-1mb.bin", 1<<20)
	write("keyhaven.test", 2<<20)
	git("add", ".")
	if out, err := check(); err != nil {
		t.Fatalf("files up to 1 MB and an ignored binary refused: %v\n%s", err, out)
	}
	write("big file.db", 1<<20+1)
	git("add", ".")
	out, err := check()
	if err == nil || !strings.Contains(out, "big file.db") || strings.Contains(out, "exactly-1mb.bin") {
		t.Fatalf("a tracked file over 1 MB: err %v, output:\n%s\nwant a failure naming only big file.db", err, out)
	}
}
