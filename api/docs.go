package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven/internal/httpx"
)

// The API's reference for people, at /api/docs: HTML rendered on the server from the
// OpenAPI document, with its stylesheet inline, so that it needs no script, no CDN and no
// request beyond itself. It is not an operation of the API, and the document does not list it.

//go:embed docs.html
var docsHTML string

//go:embed docs.css
var docsCSS string

var docsTemplate = template.Must(template.New("docs").Parse(docsHTML))

// docsCSP lets the page load nothing: its one stylesheet is inline, allowed by its hash.
var docsCSP = func() string {
	sum := sha256.Sum256([]byte(docsCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

// serveDocs serves /api/docs, rendered once, when first asked for.
func (s *Server) serveDocs() {
	page := sync.OnceValues(func() ([]byte, error) {
		var b bytes.Buffer
		err := docsTemplate.Execute(&b, newDocsPage(s.api.OpenAPI()))
		return b.Bytes(), err
	})
	s.mux.HandleFunc("GET /api/docs", func(w http.ResponseWriter, r *http.Request) {
		b, err := page()
		if err != nil {
			httpx.Logger(r.Context()).ErrorContext(r.Context(), "API docs", "err", err)
			writeProblem(w, newProblem(http.StatusServiceUnavailable, "the API docs cannot be made"), httpx.RequestID(r.Context()))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(b)
	})
}

// docsPage is what the template shows.
type docsPage struct {
	Title, Version, Description string
	CSS                         template.CSS
	Tags                        []docsTag
	Schemas                     []docsSchema
	Schemes                     []docsScheme
}

type docsTag struct {
	Name, ID string
	Ops      []docsOp
}

type docsOp struct {
	ID, Method, Path, Summary, Description, Auth string
	Params                                       []docsParam
	Body                                         *docsBody
	Responses                                    []docsResponse
}

type docsParam struct {
	Name, In, Description, Constraints string
	Type                               docsType
	Required                           bool
}

type docsBody struct {
	MediaTypes []string
	Type       docsType
	Required   bool
	Example    string
}

type docsResponse struct {
	Status, Description, MediaType string
	Type                           docsType
	Example                        string
}

// docsType names a schema: a link to a named one, or a description of an inline one, with
// the fields of an inline object.
type docsType struct {
	Text, Ref string
	Fields    []docsField
}

type docsField struct {
	Name, Description, Constraints string
	Type                           docsType
	Required                       bool
}

type docsSchema struct {
	Name, Description string
	Type              docsType
	Example           string
}

type docsScheme struct{ Name, Description string }

// newDocsPage reads the document into the page: operations grouped by their first tag,
// tags and schemas in name order.
func newDocsPage(o *huma.OpenAPI) *docsPage {
	schemas := o.Components.Schemas.Map()
	page := &docsPage{Title: o.Info.Title, Version: o.Info.Version, Description: o.Info.Description, CSS: template.CSS(docsCSS)}
	for _, name := range sortedKeys(o.Components.SecuritySchemes) {
		page.Schemes = append(page.Schemes, docsScheme{name, o.Components.SecuritySchemes[name].Description})
	}
	tags := map[string]*docsTag{}
	for _, path := range sortedKeys(o.Paths) {
		item := o.Paths[path]
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			if tags[tag] == nil {
				tags[tag] = &docsTag{Name: tag, ID: "tag-" + strings.ReplaceAll(tag, " ", "-")}
			}
			tags[tag].Ops = append(tags[tag].Ops, newDocsOp(schemas, path, op))
		}
	}
	for _, name := range sortedKeys(tags) {
		page.Tags = append(page.Tags, *tags[name])
	}
	for _, name := range sortedKeys(schemas) {
		sc := schemas[name]
		page.Schemas = append(page.Schemas, docsSchema{Name: name, Description: sc.Description,
			Type: typeOf(schemas, sc, 0, true), Example: example(schemas, sc)})
	}
	return page
}

func newDocsOp(schemas map[string]*huma.Schema, path string, op *huma.Operation) docsOp {
	d := docsOp{ID: op.OperationID, Method: op.Method, Path: path, Summary: op.Summary, Description: op.Description, Auth: auth(op.Security)}
	for _, p := range op.Parameters {
		d.Params = append(d.Params, docsParam{Name: p.Name, In: p.In, Description: p.Description, Required: p.Required,
			Type: typeOf(schemas, p.Schema, 0, false), Constraints: constraints(p.Schema)})
	}
	if rb := op.RequestBody; rb != nil && len(rb.Content) > 0 {
		types := sortedKeys(rb.Content)
		sc := rb.Content[types[0]].Schema
		d.Body = &docsBody{MediaTypes: types, Required: rb.Required, Type: typeOf(schemas, sc, 0, true), Example: example(schemas, sc)}
	}
	statuses := sortedKeys(op.Responses)
	for _, status := range statuses {
		r := op.Responses[status]
		dr := docsResponse{Status: status, Description: r.Description}
		if len(r.Content) > 0 {
			mt := sortedKeys(r.Content)[0]
			dr.MediaType = mt
			if sc := r.Content[mt].Schema; sc != nil {
				dr.Type = typeOf(schemas, sc, 0, false)
				if status[0] == '2' {
					dr.Example = example(schemas, sc)
				}
			}
		}
		d.Responses = append(d.Responses, dr)
	}
	return d
}

// auth says in words what an operation's security asks for.
func auth(sec []map[string][]string) string {
	var ways []string
	public := false
	for _, req := range sec {
		if len(req) == 0 {
			public = true
			continue
		}
		ways = append(ways, strings.Join(sortedKeys(req), " and "))
	}
	switch {
	case len(ways) == 0:
		return "none"
	case public:
		return strings.Join(ways, " or ") + ", or none"
	}
	return strings.Join(ways, " or ")
}

// typeOf names a schema; with fields, it lists an inline object's fields (or a named one's,
// for the schema's own entry) down to a few levels.
func typeOf(schemas map[string]*huma.Schema, s *huma.Schema, depth int, fields bool) docsType {
	if s == nil {
		return docsType{Text: "any"}
	}
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		t := docsType{Text: name, Ref: "schema-" + name}
		if fields && schemas[name] != nil {
			t.Fields = fieldsOf(schemas, schemas[name], depth)
		}
		return t
	}
	var t docsType
	switch {
	case s.Type == "array":
		item := typeOf(schemas, s.Items, depth, fields)
		t = docsType{Text: "array of " + item.Text, Ref: item.Ref, Fields: item.Fields}
	case s.Type == "object" || len(s.Properties) > 0:
		t = docsType{Text: "object"}
		if len(s.Properties) > 0 {
			t.Fields = fieldsOf(schemas, s, depth)
		}
	case len(s.OneOf) > 0 || len(s.AnyOf) > 0:
		var names []string
		for _, alt := range append(slices.Clone(s.OneOf), s.AnyOf...) {
			names = append(names, typeOf(schemas, alt, depth+1, false).Text)
		}
		t = docsType{Text: "one of " + strings.Join(names, ", ")}
	case s.Type == "":
		t = docsType{Text: "any"}
	default:
		t = docsType{Text: s.Type}
		if s.Format != "" {
			t.Text += " (" + s.Format + ")"
		}
	}
	if s.Nullable {
		t.Text += " or null"
	}
	return t
}

func fieldsOf(schemas map[string]*huma.Schema, s *huma.Schema, depth int) []docsField {
	if depth > 3 {
		return nil
	}
	var out []docsField
	for _, name := range sortedKeys(s.Properties) {
		p := s.Properties[name]
		out = append(out, docsField{Name: name, Description: p.Description, Required: slices.Contains(s.Required, name),
			Type: typeOf(schemas, p, depth+1, p.Ref == ""), Constraints: constraints(p)})
	}
	return out
}

// constraints says in words what a value must be beyond its type.
func constraints(s *huma.Schema) string {
	if s == nil {
		return ""
	}
	var c []string
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		c = append(c, "one of "+strings.Join(vals, ", "))
	}
	num := func(label string, f *float64) {
		if f != nil {
			c = append(c, label+" "+strconv.FormatFloat(*f, 'f', -1, 64))
		}
	}
	count := func(label string, n *int) {
		if n != nil {
			c = append(c, label+" "+strconv.Itoa(*n))
		}
	}
	num("minimum", s.Minimum)
	num("maximum", s.Maximum)
	count("at least characters:", s.MinLength)
	count("at most characters:", s.MaxLength)
	count("at least items:", s.MinItems)
	count("at most items:", s.MaxItems)
	if s.Pattern != "" {
		c = append(c, "matches "+s.Pattern)
	}
	if s.Default != nil {
		c = append(c, fmt.Sprintf("default %v", s.Default))
	}
	if s.Items != nil && s.Items.Ref == "" {
		if ic := constraints(s.Items); ic != "" {
			c = append(c, "each: "+ic)
		}
	}
	return strings.Join(c, "; ")
}

// example returns an example of a schema's JSON, from the examples the document gives and
// otherwise from the types.
func example(schemas map[string]*huma.Schema, s *huma.Schema) string {
	b, err := json.MarshalIndent(exampleValue(schemas, s, 0), "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

func exampleValue(schemas map[string]*huma.Schema, s *huma.Schema, depth int) any {
	if s == nil || depth > 6 {
		return nil
	}
	if s.Ref != "" {
		return exampleValue(schemas, schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], depth+1)
	}
	switch {
	case len(s.Examples) > 0:
		return s.Examples[0]
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.OneOf) > 0:
		return exampleValue(schemas, s.OneOf[0], depth+1)
	case len(s.AnyOf) > 0:
		return exampleValue(schemas, s.AnyOf[0], depth+1)
	}
	switch s.Type {
	case "object":
		m := map[string]any{}
		for name, p := range s.Properties {
			m[name] = exampleValue(schemas, p, depth+1)
		}
		return m
	case "array":
		return []any{exampleValue(schemas, s.Items, depth+1)}
	case "integer":
		if s.Minimum != nil {
			return int64(*s.Minimum)
		}
		return 1
	case "number":
		return 1.5
	case "boolean":
		return true
	case "string":
		switch s.Format {
		case "date-time":
			return "2026-01-02T15:04:05Z"
		case "date":
			return "2026-01-02"
		case "uri":
			return "https://keyhaven.example/"
		}
		return "string"
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
