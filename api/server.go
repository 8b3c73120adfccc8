// Package api serves keyhaven's REST API. The OpenAPI document at /api/openapi.json is
// generated from the operations registered here: it is the single source of truth for the
// REST surface.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/httpx"
	"keyhaven.dev/keyhaven/secret"
	"keyhaven.dev/keyhaven/view"
)

// Version is reported in the OpenAPI document.
var Version = "dev"

// Server is the REST API over a keyhaven.Service.
type Server struct {
	svc    *keyhaven.Service
	api    huma.API
	mux    *http.ServeMux
	limits map[string]int64 // body limits by route pattern ("POST /api/{tenant}/users")
}

// maxBody is the default request body limit.
const maxBody = 64 << 10

// New returns the REST API, with /healthz and /readyz. Requests reach it through
// httpx.Wrap, which gives them their id, logger and client address.
func New(svc *keyhaven.Service) *Server {
	s := &Server{svc: svc, mux: http.NewServeMux()}
	s.api = humago.New(s.mux, config())
	s.api.UseMiddleware(s.authenticate, s.checkMediaType)
	s.registerHealth()
	s.registerAuth()
	s.registerUsers()
	s.registerAudit()
	s.registerAPIKeys()
	s.registerApplications()
	s.registerContracts()
	s.registerAccesses()
	s.registerBatches()
	s.registerWebhooks()
	s.registerUsage()
	s.mux.HandleFunc("POST /api/verify", s.verify)
	s.documentVerify()
	s.registerOAuth()
	s.finishDocument()
	s.serveDocument()
	s.serveDocs()
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, newProblem(http.StatusNotFound, "no such endpoint"), httpx.RequestID(r.Context()))
	})
	s.limits = map[string]int64{}
	for path, item := range s.api.OpenAPI().Paths {
		for method, o := range map[string]*huma.Operation{http.MethodPost: item.Post, http.MethodPatch: item.Patch, http.MethodPut: item.Put} {
			if o != nil && o.MaxBodyBytes > 0 {
				s.limits[method+" "+path] = o.MaxBodyBytes
			}
		}
	}
	return s
}

// bodyLimit returns the body limit of the operation r is routed to (maxBody for routes not
// registered as operations), for what reads a body before the operation does.
func (s *Server) bodyLimit(r *http.Request) int64 {
	if _, pattern := s.mux.Handler(r); s.limits[pattern] > 0 {
		return s.limits[pattern]
	}
	return maxBody
}

// Handler returns the server's http.Handler: its routes, behind idempotent replays.
func (s *Server) Handler() http.Handler { return s.idempotent(s.mux) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

func config() huma.Config {
	registry := huma.NewMapRegistry("#/components/schemas/", schemaName)
	// The views' plain types take the schemas the API describes them with.
	registry.RegisterTypeAlias(reflect.TypeFor[view.Permission](), reflect.TypeFor[Permission]())
	registry.RegisterTypeAlias(reflect.TypeFor[view.Meta](), reflect.TypeFor[metaSchema]())
	return huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info: &huma.Info{
				Title:   "keyhaven",
				Version: Version,
				Description: "A self-hosted, multi-tenant credential authority. Request bodies are JSON (a body sent without " +
					"Content-Type is read as application/json); errors are application/problem+json (RFC 9457) with a stable code.",
			},
			// The document is served by the server it describes: paths are relative to it.
			Servers: []*huma.Server{{URL: "/", Description: "The keyhaven server that serves this document"}},
			Components: &huma.Components{
				Schemas: registry,
				SecuritySchemes: map[string]*huma.SecurityScheme{
					"bearer":      {Type: "http", Scheme: "bearer", Description: "An API key, access key or session token"},
					"clientBasic": {Type: "http", Scheme: "basic", Description: "An OAuth client's id and secret (client_secret_basic), each URL-encoded"},
				},
			},
		},
		Formats:                      map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat},
		DefaultFormat:                "application/json",
		RejectUnknownQueryParameters: true,
	}
}

// jsonFormat is strict JSON: invalid UTF-8 is refused rather than silently replaced, and
// responses escape HTML characters.
var jsonFormat = huma.Format{
	Marshal: func(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) },
	Unmarshal: func(data []byte, v any) error {
		if !utf8.Valid(data) {
			return errors.New("body is not valid UTF-8")
		}
		return json.Unmarshal(data, v)
	},
}

func init() {
	// A required array may not be null.
	huma.DefaultArrayNullable = false
}

var bearerAuth = []map[string][]string{{"bearer": {}}}

// op fills in what every operation shares: body limit, auth and error responses.
func op(o huma.Operation, authenticated bool) huma.Operation {
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = maxBody
	}
	// Every operation may find the database unreachable.
	errs := []int{http.StatusBadRequest, http.StatusServiceUnavailable}
	o.Security = publicAuth
	if authenticated {
		o.Security = bearerAuth
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
	}
	if o.Method != http.MethodGet {
		errs = append(errs, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	if o.Method == http.MethodPost && idempotentPath(o.Path) {
		o.Parameters = append(o.Parameters, &huma.Param{Name: "Idempotency-Key", In: "header",
			Schema:      &huma.Schema{Type: "string", MaxLength: ptr(255)},
			Description: "Makes the request safe to retry: a retry with the same key gets the first answer and creates nothing. 422 when the key was used for another request, 409 while the first is still running."})
		errs = append(errs, http.StatusConflict, http.StatusUnprocessableEntity)
	}
	o.Errors = append(errs, o.Errors...)
	return o
}

// authenticate judges the bearer credential of operations that need one, on the tenant named
// in the path: another tenant's credential gets 403, never data. Bad credentials limit
// nothing: a bearer secret has 128+ random bits, so a good one is never refused because of
// bad ones from the same address.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if !needsBearer(ctx.Operation()) {
		next(ctx)
		return
	}
	if _, ok := ctx.Context().Value(principalKey).(*keyhaven.Principal); ok {
		next(ctx) // judged on this tenant's path already, by the idempotency layer
		return
	}
	bearer, _ := secret.FromAuthorization(ctx.Header("Authorization"))
	p, err := s.svc.Authenticate(ctx.Context(), keyhaven.APIUse(ctx.Context(), bearer, ctx.Param("tenant")))
	if err != nil {
		writeErr(ctx, err)
		return
	}
	next(huma.WithValue(ctx, principalKey, p))
}

type ctxKey int

// principalKey carries the principal a request's bearer was judged to stand for.
const principalKey ctxKey = iota

func principal(ctx context.Context) *keyhaven.Principal {
	return ctx.Value(principalKey).(*keyhaven.Principal)
}

func writeErr(ctx huma.Context, err error) {
	p := domainProblem(err)
	p.RequestID = httpx.RequestID(ctx.Context())
	if p.Status >= 500 {
		httpx.Logger(ctx.Context()).ErrorContext(ctx.Context(), "request failed", "err", err)
	}
	for k, vs := range p.headers {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	json.NewEncoder(ctx.BodyWriter()).Encode(p)
}

func writeProblem(w http.ResponseWriter, p *Problem, requestID string) {
	p.RequestID = requestID
	for k, vs := range p.headers {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func ptr[T any](v T) *T { return &v }
