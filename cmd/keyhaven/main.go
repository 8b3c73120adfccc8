// Command keyhaven is the keyhaven credential authority: one binary that serves the API and
// console, migrates the database and administers tenants.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "keyhaven:", err)
		os.Exit(1)
	}
}

const usage = `keyhaven: a self-hosted, multi-tenant credential authority.

Usage:
  keyhaven serve [flags]                          run the API and console
  keyhaven migrate [flags]                        apply database migrations and exit
  keyhaven tenant create NAME --admin-email EMAIL [--output json]
                                                  create a tenant, its admin and a bootstrap key
  keyhaven tenant limits NAME [--max-applications N] [--max-access-keys N] [--max-api-keys N]
                [--access-token-lifetime SECONDS] show or change a tenant's limits
  keyhaven tenant rotate-signing-key NAME [--alg ES256|EdDSA] [--output json]
                                                  sign the tenant's access tokens with a new key
  keyhaven user reset-password TENANT EMAIL [--output json]
                                                  give a user a new generated password and end
                                                  its sessions
  keyhaven backup --db sqlite:PATH OUT            copy a live SQLite database to OUT and its
                                                  secret key to OUT.key
  keyhaven version                                print the version

Every flag can also be set with an environment variable: --db is KEYHAVEN_DB, --admin-email
is KEYHAVEN_ADMIN_EMAIL, and so on. Run "keyhaven COMMAND --help" for a command's flags.
`

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stderr)
	case "tenant":
		return runTenant(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "keyhaven", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// envName is the environment variable of a flag: --admin-email is KEYHAVEN_ADMIN_EMAIL.
func envName(flagName string) string {
	return "KEYHAVEN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlags returns a flag set whose usage names each flag's environment variable.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: keyhaven %s\n\nFlags:\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(stderr, "  --%s (env %s, default %q)\n      %s\n", f.Name, envName(f.Name), f.DefValue, f.Usage)
		})
	}
	return fs
}

// parseFlags parses args, allowing flags before and after positional arguments, then fills
// every flag not given on the command line from its environment variable. It returns the
// positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && !set[f.Name] && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("invalid value in %s for flag --%s: %w", envName(f.Name), f.Name, serr)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := f.Value.(validator); ok && err == nil {
			if verr := v.validate(); verr != nil {
				err = fmt.Errorf("--%s %w", f.Name, verr)
			}
		}
	})
	return positional, err
}

// helpOK turns a --help request into a clean exit.
func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
