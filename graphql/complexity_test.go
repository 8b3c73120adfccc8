package graphql

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// TestEveryListIsSized: each field returning a list of objects says how many items it can
// return, or the size limit could not bound an answer that selects it.
func TestEveryListIsSized(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for name, def := range schema.Types {
		if strings.HasPrefix(name, "__") || def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			item := schema.Types[f.Type.Name()]
			if f.Type.Elem == nil || strings.HasPrefix(f.Name, "__") || item.Kind != ast.Object {
				continue
			}
			if _, ok := listSizes[name+"."+f.Name]; !ok {
				t.Errorf("%s.%s returns a list of %s but has no size in listSizes", name, f.Name, item.Name)
			}
		}
	}
}
