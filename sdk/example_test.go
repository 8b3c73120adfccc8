package sdk_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"keyhaven.dev/keyhaven/sdk"
)

// A service of tenant acme whose /orders need READ: API keys and access keys are verified
// with keyhaven, access tokens offline with acme's JWK Set.
func Example() {
	mw := sdk.NewMiddleware("https://keys.example.com", sdk.WithTenant("acme"))
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := sdk.VerdictFrom(r.Context())
		fmt.Fprintf(w, "orders of %s (plan %s)\n", v.Owner, v.Meta)
	})
	http.Handle("GET /orders", mw.Require("READ")(orders))
	log.Fatal(http.ListenAndServe(":8080", nil))
}

// Verifying one key, for a service that is not behind the middleware.
func ExampleClient_Verify() {
	c := sdk.NewClient("https://keys.example.com")
	v, err := c.Verify(context.Background(), "kha_...", sdk.VerifyOptions{Permissions: []string{"READ"}, IP: "203.0.113.7"})
	switch {
	case err != nil:
		log.Print("keyhaven cannot be asked now: ", err)
	case !v.Valid:
		log.Print("refused: ", v.Code)
	default:
		log.Print("key ", v.ID, " of ", v.Tenant)
	}
}
