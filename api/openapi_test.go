package api_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// document is the part of the served OpenAPI document these tests read.
type document struct {
	Paths map[string]map[string]*operation
	// Components holds the schemas by name.
	Components struct {
		Schemas         map[string]any
		SecuritySchemes map[string]any `json:"securitySchemes"`
	}
}

type operation struct {
	OperationID string `json:"operationId"`
	Summary     string
	Tags        []string
	Security    *[]map[string][]string
	RequestBody *struct {
		Content map[string]any
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]any
	}
}

// operations calls f for every operation of the document, in a stable order.
func (d *document) operations(f func(method, path string, o *operation)) {
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		for _, m := range []string{"get", "post", "put", "patch", "delete"} {
			if o := d.Paths[p][m]; o != nil {
				f(strings.ToUpper(m), p, o)
			}
		}
	}
}

func served(t *testing.T, e *apitest.Env) *document {
	t.Helper()
	var doc document
	mustStatus(t, e.Do("GET", "/api/openapi.json", "", nil), http.StatusOK).Decode(t, &doc)
	if len(doc.Paths) == 0 {
		t.Fatal("the document has no paths")
	}
	return &doc
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestBodiesAreTakenAsDocumented sends every operation that takes a body a body of each
// media type the document lists, and of types it does not: a listed type is never 415, an
// unlisted one is 415 (or, on the OAuth endpoints, whose errors are OAuth's, a 4xx). Every
// exchange is also checked against the document by the test client. Operations added later
// are covered as they are documented.
func TestBodiesAreTakenAsDocumented(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) {
			e := apitest.New(t, open)
			served(t, e).operations(func(method, path string, o *operation) {
				if o.RequestBody == nil {
					return
				}
				url := strings.ReplaceAll(path, "{tenant}", "acme")
				url = pathParam.ReplaceAllString(url, "none")
				_, documents415 := o.Responses["415"]
				for _, mt := range []string{"application/json", "application/merge-patch+json", "application/x-www-form-urlencoded", "text/plain"} {
					r := e.Do(method, url, e.Acme.APIKey, "{}", "Content-Type", mt)
					_, listed := o.RequestBody.Content[mt]
					switch {
					case listed && r.Status == http.StatusUnsupportedMediaType:
						t.Errorf("%s %s as %s: 415, but the document lists %s", method, path, mt, mt)
					case !listed && documents415 && r.Status != http.StatusUnsupportedMediaType:
						t.Errorf("%s %s as %s: %d, want 415: the document lists only %v", method, path, mt, r.Status, keys(o.RequestBody.Content))
					case !listed && (r.Status < 400 || r.Status >= 500):
						t.Errorf("%s %s as %s: %d, want a 4xx: the document lists only %v", method, path, mt, r.Status, keys(o.RequestBody.Content))
					}
				}
			})
		})
	}
}

// TestDocumentServesGeneratedClients holds every operation to what generated clients and
// readers rely on: an operationId, a summary, tags, security stated (a bearer, or on purpose
// none), 4xx answers with a body; no 500 (keyhaven answers 503 when it cannot serve); and
// schema names that are not the names oapi-codegen derives from operation ids
// (<OperationId>Response, Params, JSONBody, JSONRequestBody, ...) nor end in Response or
// Request, which such names would soon collide with.
func TestDocumentServesGeneratedClients(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	doc := served(t, e)
	if doc.Components.SecuritySchemes["bearer"] == nil {
		t.Error("the document has no bearer security scheme")
	}
	reserved := map[string]string{}
	ids := map[string]string{}
	doc.operations(func(method, path string, o *operation) {
		at := method + " " + path
		switch {
		case o.OperationID == "":
			t.Errorf("%s has no operationId", at)
		case ids[o.OperationID] != "":
			t.Errorf("%s and %s share the operationId %s", at, ids[o.OperationID], o.OperationID)
		case !isCamel(o.OperationID):
			t.Errorf("%s: operationId %q is not camelCase", at, o.OperationID)
		}
		ids[o.OperationID] = at
		id := upperFirst(o.OperationID)
		for _, suffix := range []string{"Response", "Params", "JSONBody", "JSONRequestBody", "RequestBody", "Body", "FormdataBody", "FormdataRequestBody"} {
			reserved[id+suffix] = at
		}
		if o.Summary == "" {
			t.Errorf("%s has no summary", at)
		}
		if len(o.Tags) == 0 {
			t.Errorf("%s has no tags", at)
		}
		if o.Security == nil {
			t.Errorf("%s states no security", at)
		}
		var clientErrors int
		for status, r := range o.Responses {
			if status[0] == '4' {
				clientErrors++
				if len(r.Content) == 0 {
					t.Errorf("%s: %s has no body", at, status)
				}
			}
			if status == "500" || status == "default" {
				t.Errorf("%s documents %s", at, status)
			}
		}
		if clientErrors == 0 {
			t.Errorf("%s documents no 4xx answer", at)
		}
	})
	for name := range doc.Components.Schemas {
		if at, ok := reserved[name]; ok {
			t.Errorf("schema %s has the name oapi-codegen gives a type of %s", name, at)
		}
		if strings.HasSuffix(name, "Response") || strings.HasSuffix(name, "Request") {
			t.Errorf("schema %s ends in Response or Request", name)
		}
	}
}

func isCamel(s string) bool {
	for i, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r)) || (i == 0 && !unicode.IsLower(r)) {
			return false
		}
	}
	return s != ""
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
