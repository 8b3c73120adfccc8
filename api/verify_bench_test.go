package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// BenchmarkVerifyHandler measures the server's own work for one warm verification (routing,
// middleware, decoding, the cache, the verdict, encoding), without the network.
func BenchmarkVerifyHandler(b *testing.B) {
	e := apitest.New(b, testdb.SQLite)
	body := `{"key":"` + e.Acme.APIKey + `"}`
	h := e.Node.Handler
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/verify", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}
