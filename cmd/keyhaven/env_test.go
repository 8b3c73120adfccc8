package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// sampleValues are a value of each kind of flag, other than any default, for setting a flag
// through its variable and through the command line. A new kind of flag needs one here.
var sampleValues = map[string]string{
	"string":          "sample",
	"stringSlice":     "READ,WRITE",
	"int":             "7",
	"duration":        "90s",
	"host:port":       "127.0.0.1:9",
	"dsn":             "sqlite:sample.db",
	"time":            "2030-01-31",
	"LIMIT/PERIOD":    "100/1m",
	"N":               "5",
	"AMOUNT/INTERVAL": "5/DAILY",
	"JSON":            `{"plan":"gold"}`,
}

// sample returns a value for f other than its default.
func sample(t *testing.T, f *pflag.Flag) string {
	typ := f.Value.Type()
	switch {
	case typ == "bool":
		if f.DefValue == "true" {
			return "false"
		}
		return "true"
	case strings.Contains(typ, "|"): // a choice: the last is never the default
		choices := strings.Split(typ, "|")
		return choices[len(choices)-1]
	}
	v, ok := sampleValues[typ]
	if !ok {
		t.Fatalf("flag --%s is of a kind (%s) with no sample value: add one to sampleValues", f.Name, typ)
	}
	return v
}

// walk calls fn with every command of the tree under root, by its path of names.
func walk(root *cobra.Command, fn func(path []string, cmd *cobra.Command)) {
	var visit func(path []string, cmd *cobra.Command)
	visit = func(path []string, cmd *cobra.Command) {
		fn(path, cmd)
		for _, c := range cmd.Commands() {
			visit(append(append([]string(nil), path...), c.Name()), c)
		}
	}
	visit(nil, root)
}

// find returns the command at path in a fresh tree, its flags parsed from args.
func find(t *testing.T, path []string, args ...string) *cobra.Command {
	t.Helper()
	root := newRoot(&program{getenv: noEnv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
	cmd, _, err := root.Find(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("%s %s: %v", strings.Join(path, " "), strings.Join(args, " "), err)
	}
	return cmd
}

// TestEveryFlagHasItsVariable walks the whole command tree: every flag of every command (but
// cobra's --help and --version) has its KEYHAVEN_* variable, named in the command's help, and
// a value in the variable sets the flag as the same value on the command line does, while the
// command line wins over the variable. No command hides the root's binding from its own.
func TestEveryFlagHasItsVariable(t *testing.T) {
	root := newRoot(&program{getenv: noEnv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
	flags := 0
	walk(root, func(path []string, cmd *cobra.Command) {
		if cmd.HasParent() && (cmd.PersistentPreRun != nil || cmd.PersistentPreRunE != nil) {
			// cobra runs the nearest one only: the root's, which binds the environment, would not run.
			t.Errorf("keyhaven %s has a persistent pre-run of its own", strings.Join(path, " "))
		}
		var help strings.Builder
		if err := execute(context.Background(), append(append([]string(nil), path...), "--help"), noEnv, strings.NewReader(""), io.Discard, &help); err != nil {
			t.Fatalf("keyhaven %s --help: %v", strings.Join(path, " "), err)
		}
		cmd.ParseFlags(nil) // merges the flags the command inherits
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !hasEnv(f) {
				if f.Name != "help" && f.Name != "version" {
					t.Errorf("keyhaven %s --%s has no environment variable", strings.Join(path, " "), f.Name)
				}
				return
			}
			flags++
			name, variable := strings.Join(append(append([]string{"keyhaven"}, path...), "--"+f.Name), " "), envName(f.Name)
			t.Run(strings.Join(append(append([]string(nil), path...), f.Name), "/"), func(t *testing.T) {
				if !strings.Contains(help.String(), "--"+f.Name+" ") || !strings.Contains(help.String(), "env "+variable) {
					t.Fatalf("the help of %s does not name %s:\n%s", name, variable, help.String())
				}
				value := sample(t, f)
				fromEnv := find(t, path)
				if err := bindEnv(fromEnv.Flags(), func(k string) string {
					if k == variable {
						return value
					}
					return ""
				}); err != nil {
					t.Fatalf("%s=%s: %v", variable, value, err)
				}
				got := fromEnv.Flags().Lookup(f.Name)
				want := find(t, path, "--"+f.Name+"="+value).Flags().Lookup(f.Name)
				if !got.Changed || got.Value.String() != want.Value.String() || got.Value.String() == f.DefValue {
					t.Fatalf("%s=%s set %s to %q (changed %v); the command line sets %q, the default is %q",
						variable, value, name, got.Value, got.Changed, want.Value, f.DefValue)
				}
				wins := find(t, path, "--"+f.Name+"="+value)
				if err := bindEnv(wins.Flags(), func(k string) string {
					if k == variable {
						return "not " + value
					}
					return ""
				}); err != nil || wins.Flags().Lookup(f.Name).Value.String() != want.Value.String() {
					t.Fatalf("%s in the environment overrode the command line (%v): %q", variable, err, wins.Flags().Lookup(f.Name).Value)
				}
			})
		})
	})
	if flags < 25 {
		t.Fatalf("walked %d flags: the tree walk misses commands", flags)
	}
}

// TestBadVariableNamesTheFlag: a value from a variable that a flag refuses fails the command
// before it runs, naming the variable and the flag but not the value, which may be secret.
func TestBadVariableNamesTheFlag(t *testing.T) {
	env := map[string]string{"KEYHAVEN_CACHE_SIZE": "lots-of-secret-words"}
	var out, errb strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a serve that wrongly starts stops at once
	err := run(ctx, []string{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "k.db")}, func(k string) string { return env[k] }, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "KEYHAVEN_CACHE_SIZE") || !strings.Contains(err.Error(), "--cache-size") ||
		strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want it to name KEYHAVEN_CACHE_SIZE and --cache-size without the value", err)
	}
}
