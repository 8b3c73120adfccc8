package keyhaven_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/secret"
)

// BenchmarkAuthenticate measures resolving a bearer secret to a principal: format and
// checksum check, hashing, one indexed read joining tenant and owner, and the judgement. Its
// parts are measured beside it, so the database's share is visible.
func BenchmarkAuthenticate(b *testing.B) {
	key := secret.Generate(secret.APIKey)
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := secret.Parse(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse+hash", func(b *testing.B) {
		for b.Loop() {
			secret.Parse(key)
			_ = secret.Hash(key)
		}
	})
	for _, name := range []string{"sqlite", "postgres"} {
		open := testdb.Engines()[name]
		b.Run(name, func(b *testing.B) {
			svc := keyhaven.NewService(open(b), slog.New(slog.NewTextHandler(io.Discard, nil)))
			created, err := svc.CreateTenant(context.Background(), "bench", "admin@bench.test")
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					if _, err := svc.Authenticate(ctx, keyhaven.Use{Secret: created.APIKey}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := svc.Authenticate(ctx, keyhaven.Use{Secret: created.APIKey}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("malformed", func(b *testing.B) {
				bad := mistype(created.APIKey)
				for b.Loop() {
					if _, err := svc.Authenticate(ctx, keyhaven.Use{Secret: bad}); err == nil {
						b.Fatal("malformed secret accepted")
					}
				}
			})
		})
	}
}
