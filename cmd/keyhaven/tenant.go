package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"keyhaven.dev/keyhaven"
)

func runTenant(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "limits" {
		return runTenantLimits(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "rotate-signing-key" {
		return runTenantRotateSigningKey(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "Usage: keyhaven tenant create NAME --admin-email EMAIL [--output json]\n       keyhaven tenant limits NAME [--max-applications N] [--max-access-keys N] [--max-api-keys N] [--access-token-lifetime SECONDS]\n       keyhaven tenant rotate-signing-key NAME [--alg ES256|EdDSA]")
		return errors.New("tenant needs a subcommand: create, limits or rotate-signing-key")
	}
	fs := newFlags("tenant create", "tenant create NAME --admin-email EMAIL [--output json]", stderr)
	db := dbFlag(fs)
	email := fs.String("admin-email", "", "email of the tenant's first admin user")
	output := outputFlag(fs)
	pos, err := parseFlags(fs, args[1:], getenv)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) != 1 {
		return errors.New("tenant create needs exactly one NAME")
	}
	svc, store, err := openService(ctx, *db, stderr)
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

// printCredentials shows a new tenant's secrets, the only time they are ever shown.
func printCredentials(w io.Writer, c *keyhaven.TenantCreated) {
	fmt.Fprintf(w, `Tenant %q created. Its credentials are shown only now: store them safely.
  admin email:     %s
  admin password:  %s
  bootstrap key:   %s
`, c.Name, c.AdminEmail, c.AdminPassword, c.APIKey)
}

// runTenantLimits shows or changes a tenant's limits.
func runTenantLimits(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("tenant limits", "tenant limits NAME [--max-applications N] [--max-access-keys N] [--max-api-keys N] [--access-token-lifetime SECONDS]", stderr)
	db := dbFlag(fs)
	limits := []struct {
		flag, field string
		value       **int
		set         func(*keyhaven.Limits, int)
	}{
		{"max-applications", "maxApplications", optionalIntFlag(fs, "max-applications", "active applications allowed (unchanged when omitted)"),
			func(l *keyhaven.Limits, n int) { l.Applications = n }},
		{"max-access-keys", "maxAccessKeysPerApplication", optionalIntFlag(fs, "max-access-keys", "active access keys allowed per application (unchanged when omitted)"),
			func(l *keyhaven.Limits, n int) { l.AccessKeysPerApplication = n }},
		{"max-api-keys", "maxApiKeys", optionalIntFlag(fs, "max-api-keys", "API keys allowed, inactive and expired ones included (unchanged when omitted)"),
			func(l *keyhaven.Limits, n int) { l.APIKeys = n }},
		{"access-token-lifetime", "accessTokenLifetime", optionalIntFlag(fs, "access-token-lifetime", "seconds the tenant's access tokens live, at most 3600 (unchanged when omitted)"),
			func(l *keyhaven.Limits, n int) { l.TokenLifetime = n }},
	}
	pos, err := parseFlags(fs, args, getenv)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) != 1 {
		return errors.New("tenant limits needs exactly one NAME")
	}
	svc, store, err := openService(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	t, err := store.TenantByName(ctx, pos[0])
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
					name := fe.Field
					for _, f := range limits {
						if f.field == fe.Field {
							name = "--" + f.flag
						}
					}
					msgs = append(msgs, name+" "+fe.Message)
				}
				return errors.New(strings.Join(msgs, "; "))
			}
			return errors.New(keyhaven.ErrorMessage(err))
		}
	}
	return json.NewEncoder(stdout).Encode(l)
}

// runTenantRotateSigningKey makes a new key the tenant's access token signing key; the old
// one verifies the tokens it signed until they expire. It works while servers run on the
// database: they sign with the new key within keyhaven.KeySetMaxAge.
func runTenantRotateSigningKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("tenant rotate-signing-key", "tenant rotate-signing-key NAME [--alg ES256|EdDSA] [--output json]", stderr)
	db := dbFlag(fs)
	secretKey := fs.String("secret-key", "", "base64 32-byte key the servers seal with (the same as serve's); kept in DBFILE.key on SQLite when empty")
	alg := choiceFlag(fs, "alg", []string{keyhaven.AlgES256, keyhaven.AlgEdDSA}, "signing algorithm of the new key: ES256 or EdDSA")
	output := outputFlag(fs)
	pos, err := parseFlags(fs, args, getenv)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) != 1 {
		return errors.New("tenant rotate-signing-key needs exactly one NAME")
	}
	svc, store, err := openService(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	if svc.Sealer, err = loadSealer(ctx, store, *secretKey, *db); err != nil {
		return err
	}
	k, err := svc.RotateSigningKey(ctx, pos[0], *alg)
	if err != nil {
		return errors.New(keyhaven.ErrorMessage(err))
	}
	if *output == "json" {
		return json.NewEncoder(stdout).Encode(map[string]any{"tenant": pos[0], "kid": k.ID, "alg": k.Alg, "createdAt": k.CreatedAt})
	}
	fmt.Fprintf(stdout, "Tenant %q signs access tokens with the new key %s (%s).\n", pos[0], k.ID, k.Alg)
	return nil
}
