// Package graphql serves keyhaven's GraphQL API for API key management at
// POST /api/{tenant}/graphql. The schema (apikey.graphqls) is the source; `go generate`
// regenerates the execution code from it.
package graphql

//go:generate go tool gqlgen generate --config gqlgen.yml

import "keyhaven.dev/keyhaven"

// Resolver resolves the schema's fields through the keyhaven service.
type Resolver struct {
	Svc *keyhaven.Service
}
