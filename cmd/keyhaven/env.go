package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envName is the environment variable of a flag: --admin-email is KEYHAVEN_ADMIN_EMAIL.
func envName(flagName string) string {
	return "KEYHAVEN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// hasEnv reports whether a flag has an environment variable: every flag but the help and
// version switches, which only print.
func hasEnv(f *pflag.Flag) bool { return f.Name != "help" && f.Name != "version" }

// bindEnv fills every flag of fs not given on the command line from its environment variable,
// then judges the values that are judged once parsed. It is the one place where flags meet
// the environment: the root command runs it before any command.
func bindEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || !hasEnv(f) {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			// The value is not repeated: it may be a token or a password.
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("invalid value in %s for flag --%s: %w", envName(f.Name), f.Name, refusal(f, serr))
				return
			}
			f.Changed = true
		}
	})
	if err != nil {
		return err
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if v, ok := f.Value.(validator); ok && err == nil {
			if verr := v.validate(); verr != nil {
				err = fmt.Errorf("--%s %w", f.Name, verr)
			}
		}
	})
	return err
}

// flagError says which flag a bad command-line value was given to, and why it is refused. A
// switch's value is not repeated: a switch that reads a secret from standard input
// (--with-token, --password-stdin) is the one given that secret by mistake.
func flagError(_ *cobra.Command, err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		f := invalid.GetFlag()
		if isSwitch(f) {
			return fmt.Errorf("invalid value for flag --%s: %w", f.Name, refusal(f, invalid.Unwrap()))
		}
		return fmt.Errorf("invalid value %q for flag --%s: %w", invalid.GetValue(), f.Name, refusal(f, invalid.Unwrap()))
	}
	return err
}

func isSwitch(f *pflag.Flag) bool { return f.Value.Type() == "bool" }

// refusal is why a flag refused a value, without the value, which pflag's own types repeat in
// strconv's errors.
func refusal(f *pflag.Flag, err error) error {
	var num *strconv.NumError
	switch {
	case isSwitch(f):
		return errors.New("must be true or false")
	case errors.As(err, &num):
		return errors.New("not a number")
	}
	return err
}

// noArgs refuses arguments to a command that takes none, without repeating them: a stray one
// is often a secret given after a switch that reads it from standard input.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, and was given %d", cmd.CommandPath()[len("keyhaven "):], len(args))
	}
	return nil
}

// remoteAnnotation marks the flags of a call to the REST API, which the help lists apart.
const remoteAnnotation = "keyhaven-remote"

// help writes a command's help to stderr: what it does, how to call it, its subcommands and
// every flag with its environment variable and default.
func (p *program) help(cmd *cobra.Command) {
	w := p.stderr
	if cmd.Long != "" {
		fmt.Fprintln(w, strings.TrimSpace(cmd.Long))
	} else if cmd.Short != "" {
		fmt.Fprintln(w, cmd.Short+".")
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nUsage:\n  %s COMMAND [flags]\n", cmd.CommandPath())
		printCommands(w, cmd)
	} else {
		fmt.Fprintf(w, "\nUsage:\n  %s\n", cmd.UseLine())
	}
	if cmd.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", cmd.Example)
	}
	cmd.Flags().SortFlags = false // in the order the command declares them
	if fs := cmd.LocalFlags(); hasVisibleFlags(fs) {
		fs.SortFlags = false
		own, remote := pflag.NewFlagSet("own", pflag.ContinueOnError), pflag.NewFlagSet("remote", pflag.ContinueOnError)
		own.SortFlags, remote.SortFlags = false, false
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Annotations[remoteAnnotation] != nil {
				remote.AddFlag(f)
			} else {
				own.AddFlag(f)
			}
		})
		if hasVisibleFlags(own) {
			fmt.Fprintln(w, "\nFlags:")
			printFlags(w, own)
		}
		if hasVisibleFlags(remote) {
			fmt.Fprintln(w, "\nConnection and output flags:")
			printFlags(w, remote)
		}
	}
	if fs := cmd.InheritedFlags(); hasVisibleFlags(fs) {
		fs.SortFlags = false
		fmt.Fprintln(w, "\nFlags of every "+cmd.Parent().CommandPath()+" command:")
		printFlags(w, fs)
	}
	if !cmd.HasParent() {
		fmt.Fprint(w, `
Every flag can also be set with an environment variable: --db is KEYHAVEN_DB, --admin-email
is KEYHAVEN_ADMIN_EMAIL, and so on. A flag on the command line wins over its variable.
Run "keyhaven COMMAND --help" for a command's flags.
`)
	}
}

func printCommands(w io.Writer, cmd *cobra.Command) {
	byGroup := map[string][]*cobra.Command{}
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			byGroup[c.GroupID] = append(byGroup[c.GroupID], c)
		}
	}
	titles := []struct{ id, title string }{}
	for _, g := range cmd.Groups() {
		titles = append(titles, struct{ id, title string }{g.ID, g.Title})
	}
	titles = append(titles, struct{ id, title string }{"", "Commands:"})
	if len(cmd.Groups()) > 0 {
		titles[len(titles)-1].title = "Other commands:"
	}
	for _, g := range titles {
		if len(byGroup[g.id]) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", g.title)
		for _, c := range byGroup[g.id] {
			fmt.Fprintf(w, "  %-20s %s\n", c.Name(), c.Short)
		}
	}
}

func hasVisibleFlags(fs *pflag.FlagSet) bool {
	visible := false
	fs.VisitAll(func(f *pflag.Flag) { visible = visible || (!f.Hidden && hasEnv(f)) })
	return visible
}

// printFlags lists flags as "  --name TYPE  (env VARIABLE, default VALUE)" and their usage
// below. Defaults are what the command uses when neither is given, never a value from the
// environment.
func printFlags(w io.Writer, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || !hasEnv(f) {
			return
		}
		typ, usage := pflag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		line += "  (env " + envName(f.Name)
		if def := f.DefValue; def != "" && def != "[]" && !(typ == "" && def == "false") {
			line += fmt.Sprintf(", default %q", def)
		}
		fmt.Fprintf(w, "%s)\n      %s\n", line, usage)
	})
}
