package graphql

import (
	"testing"

	"keyhaven.dev/keyhaven"
)

// TestCodeOf maps every domain error code to its extensions.code.
func TestCodeOf(t *testing.T) {
	for code, want := range map[string]string{
		keyhaven.EINVALID:      "BAD_USER_INPUT",
		keyhaven.EUNAUTHORIZED: "UNAUTHENTICATED",
		keyhaven.EFORBIDDEN:    "FORBIDDEN",
		keyhaven.ENOTFOUND:     "NOT_FOUND",
		keyhaven.ECONFLICT:     "CONFLICT",
		keyhaven.ERATELIMITED:  "RATE_LIMITED",
		keyhaven.EUNAVAILABLE:  "UNAVAILABLE",
		keyhaven.EINTERNAL:     "INTERNAL_SERVER_ERROR",
	} {
		if got := codeOf(code); got != want {
			t.Errorf("codeOf(%q) = %q, want %q", code, got, want)
		}
	}
}
