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
// local. It measures a token seen before (the SDK keeps verified tokens until they expire)
// and the signature check every first sight costs (the cache off), half the duration each,
// and prints one JSON line: {"seen":...,"signature":...} in verifications/s.
func offline(args []string) error {
	fs := flag.NewFlagSet("offline", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "keyhaven's base URL")
	tenant := fs.String("tenant", "bench", "the token's tenant")
	token := fs.String("token", "", "an access token")
	d := fs.Duration("duration", 10*time.Second, "how long to verify")
	fs.Parse(args)
	runtime.GOMAXPROCS(1)
	out := map[string]float64{}
	for _, mode := range []string{"seen", "signature"} {
		var opts []sdk.Option
		if mode == "signature" {
			opts = append(opts, sdk.WithCache(0, 0))
		}
		rps, err := verifyFor(sdk.NewJWKSVerifier(*base, *tenant, opts...), *token, *d/2)
		if err != nil {
			return err
		}
		out[mode] = rps
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// verifyFor verifies token with v for d and returns the verifications per second.
func verifyFor(v *sdk.JWKSVerifier, token string, d time.Duration) (float64, error) {
	ctx := context.Background()
	first, err := v.Verify(ctx, token)
	if err != nil {
		return 0, err
	}
	if !first.Valid {
		return 0, fmt.Errorf("the token does not verify offline: %s", first.Code)
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		for range 100 {
			if r, err := v.Verify(ctx, token); err != nil || !r.Valid {
				return 0, fmt.Errorf("verification %d failed: %v %v", n, r, err)
			}
		}
		n += 100
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
