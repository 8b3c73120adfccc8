package api

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// TestBodyLimitIsTheRoutes: what reads a body before the operation (the idempotency layer)
// reads at most the route's own limit: 64 KiB for a user, the batch limit only for batches.
func TestBodyLimitIsTheRoutes(t *testing.T) {
	s := New(keyhaven.NewService(testdb.SQLite(t), slog.Default()))
	for _, c := range []struct {
		method, path string
		want         int64
	}{
		{"POST", "/api/acme/users", maxBody},
		{"POST", "/api/acme/applications/app_x/access-keys", maxBody},
		{"PATCH", "/api/acme/access/acc_x", maxBody},
		{"POST", "/api/acme/access/batch", MaxBatchBody},
		{"POST", "/api/acme/nowhere", maxBody},
	} {
		if got := s.bodyLimit(httptest.NewRequest(c.method, c.path, nil)); got != c.want {
			t.Errorf("%s %s: limit %d, want %d", c.method, c.path, got, c.want)
		}
	}
}
