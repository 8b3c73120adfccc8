package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"keyhaven.dev/keyhaven/internal/client"
)

// The commands that manage a tenant over the REST API share where they call, with what, and
// how they print.

const (
	defaultURL    = "http://127.0.0.1:8080"
	defaultTenant = "default"
)

// remote is a management command's connection flags and output format.
type remote struct {
	p                          *program
	url, token, tenant, output *string
}

// addRemote gives a command the flags of a call to the REST API: --url, --token, --tenant
// (each overriding what keyhaven login saved) and --output.
func addRemote(p *program, cmd *cobra.Command) *remote {
	fs := cmd.Flags()
	r := &remote{p: p}
	r.url = fs.String("url", "", "keyhaven's URL (default: the one logged in to, else "+defaultURL+")")
	r.token = fs.String("token", "", "API key, access key or session token to call with (default: the one keyhaven login saved)")
	r.tenant = fs.String("tenant", "", "tenant name (default: the one logged in to, else "+defaultTenant+")")
	r.output = outputFlag(fs)
	for _, name := range []string{"url", "token", "tenant", "output"} {
		fs.SetAnnotation(name, remoteAnnotation, []string{"true"})
	}
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return r
}

func (r *remote) json() bool { return *r.output == "json" }

// client returns a client of the API the flags and the saved login name. The saved token is
// sent only to the URL it was saved for: a --url elsewhere needs its own --token.
func (r *remote) client() (*client.Client, error) {
	var saved config
	if *r.url == "" || *r.token == "" || *r.tenant == "" {
		var err error
		if saved, err = loadConfig(); err != nil {
			return nil, err
		}
	}
	url := strings.TrimRight(first(*r.url, saved.URL, defaultURL), "/")
	if err := client.CheckURL(url); err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	token := *r.token
	if token == "" {
		switch {
		case saved.Token == "":
			return nil, errors.New("not logged in: run keyhaven login, or give a credential with --token (KEYHAVEN_TOKEN)")
		case strings.TrimRight(saved.URL, "/") != url:
			return nil, fmt.Errorf("the saved login is for %s, not %s: give a credential for it with --token, or log in to it (keyhaven login --url %s)",
				saved.URL, url, url)
		}
		token = saved.Token
	}
	tenant := first(*r.tenant, saved.Tenant, defaultTenant)
	c := client.New(url, tenant, token)
	c.UserAgent = "keyhaven-cli/" + version
	return c, nil
}

// first returns the first of values that is not empty.
func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// limitFlag gives a list command --limit: how many items to print at most, all when 0.
func limitFlag(fs *pflag.FlagSet) *int {
	return intFlag(fs, "limit", 0, 0, 1<<30, "most items to print; 0: all, every page followed")
}

// runList prints a list, following its pages through fetch: a table, or {"items": [...]}
// with --output json.
func runList[T any](r *remote, max int, cols []column, fetch func(c *client.Client, cursor string, limit int) (*client.Page[T], error)) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	all, err := client.All(max, func(cursor string, limit int) (*client.Page[T], error) { return fetch(c, cursor, limit) })
	if err != nil {
		return err
	}
	if r.json() {
		return writeListJSON(r.p.stdout, all.Raw, all.NextCursor)
	}
	if err := writeTable(r.p.stdout, all.Raw, cols); err != nil {
		return err
	}
	if all.NextCursor != "" {
		fmt.Fprintf(r.p.stderr, "(the first %d; there are more: raise --limit, or 0 for all)\n", len(all.Raw))
	}
	return nil
}

// show prints one object: its fields, or its JSON.
func (r *remote) show(raw json.RawMessage) error {
	if r.json() {
		return writeJSON(r.p.stdout, raw)
	}
	return writeObject(r.p.stdout, raw)
}

// done prints what a change did and the object as it now is.
func (r *remote) done(raw json.RawMessage, format string, args ...any) error {
	if r.json() {
		return writeJSON(r.p.stdout, raw)
	}
	fmt.Fprintf(r.p.stdout, format+"\n", args...)
	return writeObject(r.p.stdout, raw)
}

// said prints what a change that answers nothing did; in JSON, nothing.
func (r *remote) said(format string, args ...any) error {
	if r.json() {
		return nil
	}
	_, err := fmt.Fprintf(r.p.stdout, format+"\n", args...)
	return err
}

// withSecret prints a new object and the secret it holds, which is shown only this once: in
// text the secret apart from the object's other fields, clearly labelled; in JSON the
// object as the API returned it.
func (r *remote) withSecret(raw json.RawMessage, field, what string, format string, args ...any) error {
	if r.json() {
		return writeJSON(r.p.stdout, raw)
	}
	fmt.Fprintf(r.p.stdout, format+"\n", args...)
	if err := writeObject(r.p.stdout, raw, field); err != nil {
		return err
	}
	var secret map[string]json.RawMessage
	if err := json.Unmarshal(raw, &secret); err != nil {
		return err
	}
	var s string
	if json.Unmarshal(secret[field], &s) == nil && s != "" {
		writeSecret(r.p.stdout, what, field, s)
	}
	return nil
}

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// lineReader reads standard input line by line, shared by what one command reads from it.
type lineReader struct {
	r *bufio.Reader
}

func (p *program) lines() *lineReader { return &lineReader{bufio.NewReaderSize(p.stdin, 4096)} }

// line reads one line without its end; what it names says what was missing.
func (l *lineReader) line(what string) (string, error) {
	s, err := l.r.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		if err == io.EOF {
			return "", fmt.Errorf("no %s on standard input", what)
		}
		return "", fmt.Errorf("read the %s: %w", what, err)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// secretLine reads a secret: without echo after prompt on a terminal, else as a line of
// standard input.
func (p *program) secretLine(l *lineReader, prompt, what string) (string, error) {
	if f, ok := p.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(p.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(p.stderr)
		if err != nil {
			return "", fmt.Errorf("read the %s: %w", what, err)
		}
		return string(b), nil
	}
	return l.line(what)
}
