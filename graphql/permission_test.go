package graphql_test

import (
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/graphql"
	"keyhaven.dev/keyhaven/graphql/model"
)

// TestPermissionEnumIsTheDomains: the GraphQL Permission enum is written by hand in
// apikey.graphqls; it must hold exactly the domain's permissions, spelled the same and in the
// same order, in the schema the endpoint serves (apikey.graphqls, embedded when generated.go
// is compiled) and in the Go model gqlgen generated from it. A permission added to the domain
// only fails here, and so does one added to the schema without regenerating the model.
func TestPermissionEnumIsTheDomains(t *testing.T) {
	want := keyhaven.PermissionNames()
	enumValues := func(s *ast.Schema) []string {
		def := s.Types["Permission"]
		if def == nil || def.Kind != ast.Enum {
			t.Fatalf("the schema has no enum Permission: %+v", def)
		}
		var out []string
		for _, v := range def.EnumValues {
			out = append(out, v.Name)
		}
		return out
	}
	var generated []string
	for _, p := range model.AllPermission {
		generated = append(generated, string(p))
	}
	for name, got := range map[string][]string{
		"the served schema": enumValues(graphql.NewExecutableSchema(graphql.Config{}).Schema()),
		"the Go model":      generated,
	} {
		if !slices.Equal(got, want) {
			t.Errorf("Permission in %s:\n got %v\nwant %v (keyhaven.Permissions)\nmissing %v, unknown to the domain %v",
				name, got, want, without(want, got), without(got, want))
		}
	}
}

// without returns the names of a that b lacks.
func without(a, b []string) []string {
	var out []string
	for _, n := range a {
		if !slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}
