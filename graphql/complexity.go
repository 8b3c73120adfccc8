package graphql

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/complexity"
	gql "github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"keyhaven.dev/keyhaven"
)

// listSizes gives, for each field that returns a list of objects, the most items it can
// return: a list field costs its selection that many times. A test checks that every such
// field of the schema is here.
var listSizes = map[string]func(keyhaven.Limits) int{
	"Query.listApiKeys": func(l keyhaven.Limits) int { return l.APIKeys },
}

// sizeLimit refuses, before any resolver runs, an operation whose answer could be larger than
// one listing of everything the tenant may hold, every field selected, plus max. A field costs
// 1 plus its selection, and a list field its selection once per item it can return, so that
// aliases cannot multiply a listing into an answer of any size.
type sizeLimit struct {
	max int
	// limits returns the limits of the tenant the request is for.
	limits func(context.Context) (keyhaven.Limits, error)

	es gql.ExecutableSchema
	// itemCosts are the cost of one item, every field selected, of each field of listSizes.
	itemCosts map[string]int
}

var _ interface {
	gql.HandlerExtension
	gql.OperationContextMutator
} = (*sizeLimit)(nil)

const codeTooComplex = "COMPLEXITY_LIMIT_EXCEEDED"

func (*sizeLimit) ExtensionName() string { return "SizeLimit" }

func (l *sizeLimit) Validate(es gql.ExecutableSchema) error {
	l.es = es
	l.itemCosts = map[string]int{}
	schema := es.Schema()
	for name := range listSizes {
		f := fieldOf(schema, name)
		if f == nil {
			return fmt.Errorf("listSizes names %s, which the schema lacks", name)
		}
		l.itemCosts[name] = fullCost(schema, schema.Types[f.Type.Name()], 0)
	}
	return nil
}

func (l *sizeLimit) MutateOperationContext(ctx context.Context, oc *gql.OperationContext) *gqlerror.Error {
	limits, err := l.limits(ctx)
	if err != nil {
		return &gqlerror.Error{Message: keyhaven.ErrorMessage(err), Err: err}
	}
	limit := l.max
	for name, size := range listSizes {
		limit = add(limit, add(1, mul(size(limits), l.itemCosts[name])))
	}
	cost := complexity.Calculate(ctx, sized{l.es, limits}, oc.Operation, oc.Variables)
	if cost <= limit {
		return nil
	}
	return &gqlerror.Error{
		Message: fmt.Sprintf("operation has complexity %d, which exceeds the limit of %d; a list counts once per item it can return", cost, limit),
		Extensions: map[string]any{
			"code": codeTooComplex, "complexity": cost, "limit": limit,
		},
	}
}

// sized is the schema with list fields costing their selection once per item they can return.
type sized struct {
	gql.ExecutableSchema
	limits keyhaven.Limits
}

func (s sized) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if size, ok := listSizes[typeName+"."+field]; ok {
		return add(1, mul(max(size(s.limits), 1), child)), true
	}
	return s.ExecutableSchema.Complexity(ctx, typeName, field, child, args)
}

// fieldOf returns the field named "Type.field", or nil.
func fieldOf(schema *ast.Schema, name string) *ast.FieldDefinition {
	typ, field, _ := strings.Cut(name, ".")
	if def := schema.Types[typ]; def != nil {
		return def.Fields.ForName(field)
	}
	return nil
}

// fullCost is the cost of selecting every field of def, and every field of the objects those
// fields return.
func fullCost(schema *ast.Schema, def *ast.Definition, depth int) int {
	if depth > MaxDepth {
		return 0
	}
	cost := 0
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		cost = add(cost, 1)
		if t := schema.Types[f.Type.Name()]; t.Kind == ast.Object {
			cost = add(cost, fullCost(schema, t, depth+1))
		}
	}
	return cost
}

// add and mul are saturating: a cost too large to count is simply too large.
func add(a, b int) int {
	if a > maxCost-b {
		return maxCost
	}
	return a + b
}

func mul(a, b int) int {
	if a != 0 && b > maxCost/a {
		return maxCost
	}
	return a * b
}

const maxCost = 1 << 40
