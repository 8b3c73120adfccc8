package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"keyhaven.dev/keyhaven/sdk"
)

// offline measures the SDK's offline verification of one access token against a running
// keyhaven's JWK Set, on one core: the JWK Set is fetched once, then every verification is
// local. It prints one JSON line: {"rps":...,"verifications":...}.
func offline(args []string) error {
	fs := flag.NewFlagSet("offline", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "keyhaven's base URL")
	tenant := fs.String("tenant", "bench", "the token's tenant")
	token := fs.String("token", "", "an access token")
	d := fs.Duration("duration", 10*time.Second, "how long to verify")
	fs.Parse(args)
	runtime.GOMAXPROCS(1)
	v := sdk.NewJWKSVerifier(*base, *tenant)
	ctx := context.Background()
	first, err := v.Verify(ctx, *token)
	if err != nil {
		return err
	}
	if !first.Valid {
		return fmt.Errorf("the token does not verify offline: %s", first.Code)
	}
	n := 0
	start := time.Now()
	for time.Since(start) < *d {
		for range 100 {
			if r, err := v.Verify(ctx, *token); err != nil || !r.Valid {
				return fmt.Errorf("verification %d failed: %v %v", n, r, err)
			}
		}
		n += 100
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"rps": float64(n) / time.Since(start).Seconds(), "verifications": n})
}
