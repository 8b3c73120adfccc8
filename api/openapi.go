package api

import (
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
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
