// Command keyhaven is the keyhaven credential authority: one binary that serves the API and
// console, migrates the database, administers tenants, and manages a tenant's credentials over
// the REST API from the command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := execute(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "keyhaven:", err)
		os.Exit(1)
	}
}

// run is the whole program with nothing on its standard input, callable from tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return execute(ctx, args, getenv, strings.NewReader(""), stdout, stderr)
}

// execute runs the program with args, its environment and its standard streams.
func execute(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRoot(&program{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// program is what every command reads and writes: the environment and the standard streams.
type program struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

const rootLong = `keyhaven: a self-hosted, multi-tenant credential authority.

Run the server with "keyhaven serve". Administer the database beside it with migrate, tenant,
user reset-password and backup. Manage a tenant's credentials over the REST API with
"keyhaven login", then apikey, app, accesskey, user, contract, offering, access, batch and
webhook.`

// newRoot builds the command tree.
func newRoot(p *program) *cobra.Command {
	root := &cobra.Command{
		Use:           "keyhaven",
		Short:         "A self-hosted, multi-tenant credential authority",
		Long:          rootLong,
		Version:       version,
		SilenceErrors: true, // main prints the error once
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			p.help(cmd)
			return errors.New("no command given")
		},
		// Every flag of every command is bound to its environment variable here, once
		// the command line is parsed.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return bindEnv(cmd.Flags(), p.getenv)
		},
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(p.stdin)
	root.SetOut(p.stdout)
	root.SetErr(p.stderr)
	root.SetVersionTemplate("keyhaven {{.Version}}\n")
	root.SetHelpFunc(func(cmd *cobra.Command, _ []string) { p.help(cmd) })
	root.SetUsageFunc(func(cmd *cobra.Command) error { p.help(cmd); return nil })
	root.SetFlagErrorFunc(flagError)
	root.AddGroup(
		&cobra.Group{ID: "server", Title: "Running and administering the server:"},
		&cobra.Group{ID: "remote", Title: "Managing a tenant over the REST API:"},
	)
	for _, c := range []*cobra.Command{newServeCmd(p), newMigrateCmd(p), newTenantCmd(p), newBackupCmd(p)} {
		c.GroupID = "server"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newLoginCmd(p), newLogoutCmd(p), newAPIKeyCmd(p), newApplicationCmd(p),
		newAccessKeyCmd(p), newUserCmd(p), newContractCmd(p), newOfferingCmd(p), newAccessCmd(p), newBatchCmd(p),
		newWebhookCmd(p)} {
		c.GroupID = "remote"
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd(p), newCompletionCmd(p))
	return root
}

func newVersionCmd(p *program) *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print the version", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(p.stdout, "keyhaven", version)
			return err
		},
	}
}

// group returns a command that only holds subcommands: run alone, it shows its help and fails.
func group(p *program, use, short string, subcommands ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p.help(cmd)
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			return fmt.Errorf("%s needs a subcommand: %s", cmd.Name(), orList(names))
		},
	}
	cmd.AddCommand(subcommands...)
	return cmd
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
