package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

// sessionPrefix starts every session token: only a session is ended on the server at logout.
const sessionPrefix = "khs_"

func newLoginCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "login [--url URL] [--tenant TENANT]", Args: noArgs,
		Short: "Sign in, and save the session for the other commands",
		Long: "Sign in with email and password (the password asked for without echo on a terminal, else read as a line\n" +
			"of standard input), or with --with-token give an API key or access key on standard input. The credential is\n" +
			"checked against the server, then saved with the URL and tenant in the user's configuration directory\n" +
			"(keyhaven/config.json, readable by you only) for the management commands. --url, --token and --tenant\n" +
			"(KEYHAVEN_URL, KEYHAVEN_TOKEN, KEYHAVEN_TENANT) override what is saved.",
		Example: "  keyhaven login --url https://keyhaven.example.com --tenant acme\n" +
			"  printf '%s\\n' \"$PASSWORD\" | keyhaven login --tenant acme --email ops@acme.example\n" +
			"  keyhaven login --tenant acme --with-token < acme-key.txt",
	}
	fs := cmd.Flags()
	url := fs.String("url", "", "keyhaven's URL (default: the one logged in to before, else "+defaultURL+")")
	tenant := fs.String("tenant", "", "the tenant's name (default: the one logged in to before, else "+defaultTenant+")")
	email := fs.String("email", "", "the user's email (asked for when not given)")
	withToken := fs.Bool("with-token", false, "read an API key, access key or session token from standard input instead of signing in")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		saved, err := loadConfig()
		if err != nil {
			return err
		}
		base := strings.TrimRight(first(*url, saved.URL, defaultURL), "/")
		if err := client.CheckURL(base); err != nil {
			return fmt.Errorf("--url: %w", err)
		}
		c := client.New(base, first(*tenant, saved.Tenant, defaultTenant), "")
		c.UserAgent = "keyhaven-cli/" + version
		lines := p.lines()
		if *withToken {
			if *email != "" {
				return errors.New("give --email or --with-token, not both")
			}
			b, err := io.ReadAll(io.LimitReader(p.stdin, 4096))
			if err != nil {
				return fmt.Errorf("read the token: %w", err)
			}
			if c.Token = strings.TrimSpace(string(b)); c.Token == "" || strings.ContainsAny(c.Token, " \t\r\n") {
				return errors.New("--with-token reads one token from standard input, and found none")
			}
		} else {
			who := *email
			if who == "" {
				if isTerminal(p.stdin) {
					fmt.Fprint(p.stderr, "Email: ")
				}
				if who, err = lines.line("email"); err != nil {
					return err
				}
			}
			password, err := p.secretLine(lines, "Password: ", "password")
			if err != nil {
				return err
			}
			s, err := c.Login(ctx, strings.TrimSpace(who), password)
			if err != nil {
				return err
			}
			c.Token = s.Token
		}
		me, _, err := c.Me(ctx)
		if err != nil {
			if client.StatusOf(err) == http.StatusUnauthorized {
				return fmt.Errorf("the credential was refused, nothing is saved: %w", err)
			}
			return err
		}
		// A session saved before and replaced now is ended, so that it is not left to live out
		// its time unused.
		if strings.HasPrefix(saved.Token, sessionPrefix) && saved.Token != c.Token && strings.TrimRight(saved.URL, "/") == base {
			old := client.New(base, saved.Tenant, saved.Token)
			_ = old.Logout(ctx)
		}
		path, err := saveConfig(config{URL: base, Tenant: c.Tenant, Token: c.Token})
		if err != nil {
			return err
		}
		fmt.Fprintf(p.stderr, "Logged in to %s, tenant %s, as %s with %s. Saved in %s.\n", base, me.Tenant, me.User.Email, credentialSaid(me), path)
		return nil
	}
	return cmd
}

// credentialSaid names the kind of credential a principal called with.
func credentialSaid(me *client.Me) string {
	switch me.Kind {
	case "session":
		if me.ExpiresAt != nil {
			return "a session until " + me.ExpiresAt.Local().Format("2006-01-02 15:04 MST")
		}
		return "a session"
	case "api_key":
		return fmt.Sprintf("API key %q", me.CredentialName)
	case "access_key":
		return fmt.Sprintf("access key %q", me.CredentialName)
	}
	return "a " + me.Kind
}

func newLogoutCmd(p *program) *cobra.Command {
	return &cobra.Command{
		Use: "logout", Args: noArgs,
		Short: "Forget the saved credential, and end it on the server when it is a session",
		RunE: func(cmd *cobra.Command, _ []string) error {
			saved, err := loadConfig()
			if err != nil {
				return err
			}
			if saved.Token == "" {
				fmt.Fprintln(p.stderr, "Not logged in.")
				return nil
			}
			if strings.HasPrefix(saved.Token, sessionPrefix) {
				c := client.New(saved.URL, saved.Tenant, saved.Token)
				c.UserAgent = "keyhaven-cli/" + version
				if err := c.Logout(cmd.Context()); err != nil && client.StatusOf(err) != http.StatusUnauthorized {
					fmt.Fprintf(p.stderr, "keyhaven: warning: the session could not be ended on the server (%v); it ends at its expiry\n", err)
				}
			}
			saved.Token = ""
			if _, err := saveConfig(saved); err != nil {
				return err
			}
			fmt.Fprintf(p.stderr, "Logged out of %s.\n", saved.URL)
			return nil
		},
	}
}
