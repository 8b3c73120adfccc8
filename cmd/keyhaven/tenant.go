package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven"
)

func newTenantCmd(p *program) *cobra.Command {
	return group(p, "tenant", "Create tenants, change their limits and rotate their signing keys",
		newTenantCreateCmd(p), newTenantLimitsCmd(p), newTenantRotateSigningKeyCmd(p))
}

func newTenantCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create NAME --admin-email EMAIL", Short: "Create a tenant, its admin and a bootstrap key",
		Long: "Create a tenant, its first admin user (every permission) and an API key named bootstrap holding every\n" +
			"permission, and print the admin's password and the key once. Works while a server runs on the database.",
	}
	fs := cmd.Flags()
	db := dbFlag(fs)
	email := fs.String("admin-email", "", "email of the tenant's first admin user")
	output := outputFlag(fs)
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		if len(pos) != 1 {
			return errors.New("tenant create needs exactly one NAME")
		}
		ctx, stdout := cmd.Context(), p.stdout
		svc, store, err := openService(ctx, *db, p.stderr)
		if err != nil {
			return err
		}
		defer store.Close()
		created, err := svc.CreateTenant(ctx, pos[0], *email)
		if err != nil {
			return errors.New(keyhaven.ErrorMessage(err))
		}
		if *output == "json" {
			return json.NewEncoder(stdout).Encode(created)
		}
		printCredentials(stdout, created)
		return nil
	}
	return cmd
}

// printCredentials shows a new tenant's secrets, the only time they are ever shown.
func printCredentials(w io.Writer, c *keyhaven.TenantCreated) {
	fmt.Fprintf(w, `Tenant %q created. Its credentials are shown only now: store them safely.
  admin email:     %s
  admin password:  %s
  bootstrap key:   %s
`, c.Name, c.AdminEmail, c.AdminPassword, c.APIKey)
}

// newTenantLimitsCmd shows or changes a tenant's limits.
func newTenantLimitsCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "limits NAME [--max-applications N] [--max-access-keys N] [--max-api-keys N] [--access-token-lifetime SECONDS]",
		Short: "Show or change a tenant's limits",
	}
	fs := cmd.Flags()
	db := dbFlag(fs)
	limits := []tenantLimit{
		{"max-applications", "maxApplications", optionalIntFlag(fs, "max-applications", "active applications allowed (unchanged when omitted)"),
			func(l *keyhaven.Limits, n int) { l.Applications = n }},
		{"max-access-keys", "maxAccessKeysPerApplication", optionalIntFlag(fs, "max-access-keys", "active access keys allowed per application (unchanged when omitted)"),
			func(l *keyhaven.Limits, n int) { l.AccessKeysPerApplication = n }},
		{"max-api-keys", "maxApiKeys", optionalIntFlag(fs, "max-api-keys", "API keys allowed, inactive and expired ones included (unchanged when omitted)"),
			func(l *keyhaven.Limits, n int) { l.APIKeys = n }},
		{"access-token-lifetime", "accessTokenLifetime", optionalIntFlag(fs, "access-token-lifetime", "seconds the tenant's access tokens live, at most 3600 (unchanged when omitted)"),
			func(l *keyhaven.Limits, n int) { l.TokenLifetime = n }},
	}
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		if len(pos) != 1 {
			return errors.New("tenant limits needs exactly one NAME")
		}
		return tenantLimits(cmd.Context(), *db, pos[0], limits, p.stdout, p.stderr)
	}
	return cmd
}

// tenantLimit is a limit's flag, the field the service names it by, and where it goes.
type tenantLimit struct {
	flag, field string
	value       **int
	set         func(*keyhaven.Limits, int)
}

func tenantLimits(ctx context.Context, db, name string, limits []tenantLimit, stdout, stderr io.Writer) error {
	svc, store, err := openService(ctx, db, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	t, err := store.TenantByName(ctx, name)
	if err != nil {
		return errors.New(keyhaven.ErrorMessage(err))
	}
	l, given := t.Limits, false
	for _, f := range limits {
		if *f.value != nil {
			f.set(&l, **f.value)
			given = true
		}
	}
	if given && l != t.Limits {
		if err := svc.SetTenantLimits(ctx, t.Name, l); err != nil {
			// The service names the fields it refuses; the operator gave flags.
			var ke *keyhaven.Error
			if errors.As(err, &ke) && len(ke.Fields) > 0 {
				var msgs []string
				for _, fe := range ke.Fields {
					field := fe.Field
					for _, f := range limits {
						if f.field == fe.Field {
							field = "--" + f.flag
						}
					}
					msgs = append(msgs, field+" "+fe.Message)
				}
				return errors.New(strings.Join(msgs, "; "))
			}
			return errors.New(keyhaven.ErrorMessage(err))
		}
	}
	return json.NewEncoder(stdout).Encode(l)
}

// newTenantRotateSigningKeyCmd makes a new key the tenant's access token signing key; the old
// one verifies the tokens it signed until they expire. It works while servers run on the
// database: they sign with the new key within keyhaven.KeySetMaxAge.
func newTenantRotateSigningKeyCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "rotate-signing-key NAME [--alg ES256|EdDSA]", Short: "Sign the tenant's access tokens with a new key",
	}
	fs := cmd.Flags()
	db := dbFlag(fs)
	secretKey := fs.String("secret-key", "", "base64 32-byte key the servers seal with (the same as serve's); kept in DBFILE.key on SQLite when empty")
	alg := choiceFlag(fs, "alg", []string{keyhaven.AlgES256, keyhaven.AlgEdDSA}, "signing algorithm of the new key: ES256 or EdDSA")
	output := outputFlag(fs)
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		if len(pos) != 1 {
			return errors.New("tenant rotate-signing-key needs exactly one NAME")
		}
		return rotateSigningKey(cmd.Context(), *db, *secretKey, pos[0], *alg, *output, p.stdout, p.stderr)
	}
	return cmd
}

func rotateSigningKey(ctx context.Context, db, secretKey, name, alg, output string, stdout, stderr io.Writer) error {
	svc, store, err := openService(ctx, db, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	if svc.Sealer, err = loadSealer(ctx, store, secretKey, db); err != nil {
		return err
	}
	k, err := svc.RotateSigningKey(ctx, name, alg)
	if err != nil {
		return errors.New(keyhaven.ErrorMessage(err))
	}
	if output == "json" {
		return json.NewEncoder(stdout).Encode(map[string]any{"tenant": name, "kid": k.ID, "alg": k.Alg, "createdAt": k.CreatedAt})
	}
	fmt.Fprintf(stdout, "Tenant %q signs access tokens with the new key %s (%s).\n", name, k.ID, k.Alg)
	return nil
}
