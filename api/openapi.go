package api

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/yaml"

	"keyhaven.dev/keyhaven/internal/httpx"
)

// The OpenAPI document is what generated clients are built from, so it says exactly what is
// served: the media types a body is taken as (checkMediaType enforces the document's list),
// every status an operation answers and no other, and schema names that do not collide with
// the names client generators derive from operation ids (oapi-codegen makes
// <OperationId>Response, <OperationId>Params and <OperationId>JSONRequestBody types).

// publicAuth is the security of operations that take no credential: one requirement that
// asks for nothing. Stating it, rather than leaving security out, tells readers and linters
// that the operation is public on purpose.
var publicAuth = []map[string][]string{{}}

// needsBearer reports whether an operation refuses requests without a bearer credential:
// every requirement of its security asks for one.
func needsBearer(o *huma.Operation) bool {
	if len(o.Security) == 0 {
		return false
	}
	for _, req := range o.Security {
		if _, ok := req["bearer"]; !ok {
			return false
		}
	}
	return true
}

// schemaName names schemas as huma does, with the framework's generated names for list
// pages and anonymous request bodies made readable: "ListOutputAccessBody" is "AccessPage",
// "CreateAccessInputBody" is "CreateAccessInput".
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	if rest, ok := strings.CutPrefix(name, "ListOutput"); ok {
		if item, ok := strings.CutSuffix(rest, "Body"); ok && item != "" {
			return item + "Page"
		}
	}
	if op, ok := strings.CutSuffix(name, "InputBody"); ok && op != "" {
		return op + "Input"
	}
	return name
}

// finishDocument makes the document say what the server does where the framework's
// defaults say more: no operation answers 500 (a failure keyhaven cannot serve through is
// 503), and 422 is the answer only to an Idempotency-Key reused for another request (input
// that breaks the schema is 400). It runs once every route is registered.
func (s *Server) finishDocument() {
	for path, item := range s.api.OpenAPI().Paths {
		for _, o := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if o == nil {
				continue
			}
			delete(o.Responses, "500")
			if !(o.Method == http.MethodPost && idempotentPath(path)) {
				delete(o.Responses, "422")
			}
		}
	}
}

// checkMediaType refuses, with 415, a request body whose media type the operation's
// document does not list, so that a client built from the document sends what is served
// and nothing the document does not name is taken. A body sent without Content-Type is read
// as application/json.
func (s *Server) checkMediaType(ctx huma.Context, next func(huma.Context)) {
	o := ctx.Operation()
	if o.RequestBody == nil || len(o.RequestBody.Content) == 0 {
		next(ctx)
		return
	}
	mt := "application/json"
	if ct := ctx.Header("Content-Type"); ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			mt = ""
		}
	}
	if _, ok := o.RequestBody.Content[mt]; ok {
		next(ctx)
		return
	}
	types := make([]string, 0, len(o.RequestBody.Content))
	for t := range o.RequestBody.Content {
		types = append(types, t)
	}
	slices.Sort(types)
	huma.WriteErr(s.api, ctx, http.StatusUnsupportedMediaType, "send the body as "+strings.Join(types, " or "))
}

// serveDocument serves the document at /api/openapi.json, in YAML at /api/openapi.yaml, and
// in OpenAPI 3.0 form (for tools that read no 3.1) at /api/openapi-3.0.json and .yaml; each
// is made once, when first asked for, every route being registered by then.
func (s *Server) serveDocument() {
	json31 := sync.OnceValues(func() ([]byte, error) { return json.Marshal(s.api.OpenAPI()) })
	json30 := sync.OnceValues(func() ([]byte, error) {
		b, err := s.api.OpenAPI().Downgrade()
		if err != nil {
			return nil, err
		}
		return withoutRefSiblings(b)
	})
	toYAML := func(form func() ([]byte, error)) func() ([]byte, error) {
		return sync.OnceValues(func() ([]byte, error) {
			b, err := form()
			if err != nil {
				return nil, err
			}
			var out bytes.Buffer
			err = yaml.Convert(&out, bytes.NewReader(b))
			return out.Bytes(), err
		})
	}
	for path, form := range map[string]func() ([]byte, error){
		"/api/openapi.json": json31, "/api/openapi.yaml": toYAML(json31),
		"/api/openapi-3.0.json": json30, "/api/openapi-3.0.yaml": toYAML(json30),
	} {
		contentType := "application/openapi+json"
		if strings.HasSuffix(path, ".yaml") {
			contentType = "application/openapi+yaml"
		}
		s.mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			b, err := form()
			if err != nil {
				httpx.Logger(r.Context()).ErrorContext(r.Context(), "OpenAPI document", "err", err)
				writeProblem(w, newProblem(http.StatusServiceUnavailable, "the OpenAPI document cannot be made"), httpx.RequestID(r.Context()))
				return
			}
			w.Header().Set("Content-Type", contentType)
			w.Write(b)
		})
	}
}

// withoutRefSiblings drops what stands beside a $ref in an OpenAPI 3.0 document (such as a
// field's description next to its type's reference): 3.0 ignores it, and linters flag it.
func withoutRefSiblings(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				clear(v)
				v["$ref"] = ref
				return
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), err
}
