package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/graphql/model"
	"keyhaven.dev/keyhaven/internal/httpx"
	"keyhaven.dev/keyhaven/secret"
)

// Limits of the endpoint: a document larger, deeper or more complex than these is refused
// before any resolver runs. An operation may cost MaxComplexity more than one listing of
// everything the tenant may hold (see sizeLimit). The standard introspection query fits.
const (
	MaxBodyBytes  = 64 << 10
	MaxDepth      = 15
	MaxComplexity = 500
)

// Error codes in extensions.code.
const (
	codeUnauthenticated = "UNAUTHENTICATED"
	codeForbidden       = "FORBIDDEN"
	codeBadUserInput    = "BAD_USER_INPUT"
	codeNotFound        = "NOT_FOUND"
	codeConflict        = "CONFLICT"
	codeInternal        = "INTERNAL_SERVER_ERROR"
	codeRateLimited     = "RATE_LIMITED"
	codeUnavailable     = "UNAVAILABLE"
)

// codeOf maps a domain error code to a GraphQL error code: the one place this is decided.
func codeOf(code string) string {
	switch code {
	case keyhaven.EINVALID:
		return codeBadUserInput
	case keyhaven.EUNAUTHORIZED:
		return codeUnauthenticated
	case keyhaven.EFORBIDDEN:
		return codeForbidden
	case keyhaven.ENOTFOUND:
		return codeNotFound
	case keyhaven.ECONFLICT:
		return codeConflict
	case keyhaven.ERATELIMITED:
		return codeRateLimited
	case keyhaven.EUNAVAILABLE:
		return codeUnavailable
	}
	return codeInternal
}

type principalKey struct{}

func principal(ctx context.Context) *keyhaven.Principal {
	return ctx.Value(principalKey{}).(*keyhaven.Principal)
}

// NewHandler returns the GraphQL endpoint for /api/{tenant}/graphql.
func NewHandler(svc *keyhaven.Service, log *slog.Logger) http.Handler {
	exec := executor.New(NewExecutableSchema(Config{Resolvers: &Resolver{Svc: svc}}))
	exec.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	exec.Use(extension.Introspection{})
	exec.Use(depthLimit{max: MaxDepth})
	exec.Use(&sizeLimit{max: MaxComplexity, limits: func(ctx context.Context) (keyhaven.Limits, error) {
		return svc.TenantLimits(ctx, principal(ctx))
	}})
	exec.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return present(ctx, log, err)
	})
	exec.SetRecoverFunc(func(ctx context.Context, v any) error {
		return keyhaven.Internal(fmt.Errorf("graphql panic: %v", v))
	})
	return &endpoint{exec: exec, log: log, svc: svc}
}

// endpoint serves GraphQL over HTTP: queries by GET, queries and mutations by POST with a JSON
// body. It is its own transport, so that every answer, a refused request's included, is a
// GraphQL response in JSON whose errors carry extensions.code.
type endpoint struct {
	exec *executor.Executor
	log  *slog.Logger
	svc  *keyhaven.Service
}

// requestError refuses a request before any GraphQL runs.
type requestError struct {
	status int
	msg    string
	allow  string // the Allow header of a 405
}

func (h *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "graphql panic", "panic", v, "stack", string(debug.Stack()))
			writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
		}
	}()
	params, rerr := readParams(r)
	if rerr != nil {
		if rerr.allow != "" {
			w.Header().Set("Allow", rerr.allow)
		}
		writeError(w, rerr.status, codeBadUserInput, rerr.msg)
		return
	}
	bearer, _ := secret.FromAuthorization(r.Header.Get("Authorization"))
	p, err := h.svc.Authenticate(r.Context(), keyhaven.APIUse(r.Context(), bearer, r.PathValue("tenant")))
	if err != nil {
		status := httpx.Status(err)
		for k, vs := range httpx.Headers(status, err) {
			w.Header()[k] = vs
		}
		if status >= 500 && status != http.StatusServiceUnavailable {
			h.log.ErrorContext(r.Context(), "authenticate", "err", err)
		}
		writeError(w, status, codeOf(keyhaven.ErrorCode(err)), keyhaven.ErrorMessage(err))
		return
	}
	ctx := gql.StartOperationTrace(context.WithValue(r.Context(), principalKey{}, p))
	params.Headers = r.Header
	oc, errs := h.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// The document, its variables or its size are refused before any resolver runs.
		resp := h.exec.DispatchError(gql.WithOperationContext(ctx, oc), errs)
		status := http.StatusUnprocessableEntity
		for _, e := range resp.Errors {
			if e.Extensions["code"] == codeInternal {
				status = http.StatusInternalServerError
			}
		}
		h.write(w, status, resp)
		return
	}
	if r.Method == http.MethodGet && oc.Operation.Operation != ast.Query {
		// Mutations change state: a GET, which links, prefetchers and caches may send on
		// their own, never runs one.
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, codeBadUserInput, "GET runs queries only; send mutations with POST")
		return
	}
	responses, ctx := h.exec.DispatchOperation(ctx, oc)
	h.write(w, http.StatusOK, responses(ctx))
}

// readParams reads a GraphQL request from the query string of a GET or the JSON body of a
// POST. Its errors repeat nothing of the request: a body may hold a secret.
func readParams(r *http.Request) (*gql.RawParams, *requestError) {
	bad := func(status int, msg string) *requestError { return &requestError{status: status, msg: msg} }
	params := &gql.RawParams{ReadTime: gql.TraceTiming{Start: gql.Now()}}
	switch r.Method {
	case http.MethodGet:
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, bad(http.StatusBadRequest, "the query string is not valid URL encoding")
		}
		params.Query, params.OperationName = q.Get("query"), q.Get("operationName")
		for name, dst := range map[string]*map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
			if v := q.Get(name); v != "" {
				if err := decodeJSON([]byte(v), dst); err != nil {
					return nil, bad(http.StatusBadRequest, name+" must be a JSON object")
				}
			}
		}
	case http.MethodPost:
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			return nil, bad(http.StatusUnsupportedMediaType, "send the request as application/json")
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return nil, bad(http.StatusBadRequest, "the body could not be read")
		}
		if len(body) > MaxBodyBytes {
			return nil, bad(http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB")
		}
		if err := decodeJSON(body, params); err != nil {
			return nil, bad(http.StatusBadRequest, bodyError(err))
		}
	default:
		return nil, &requestError{status: http.StatusMethodNotAllowed, msg: "use POST (or GET for queries)", allow: "GET, POST"}
	}
	params.ReadTime.End = gql.Now()
	return params, nil
}

var errTrailingData = errors.New("trailing data")

// decodeJSON decodes exactly one JSON value, keeping numbers as they were written.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

// bodyError says what is wrong with a body that is not a GraphQL request, naming at most a
// member and a position, never a value.
func bodyError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is not valid JSON: it ends too soon"
	case errors.Is(err, errTrailingData):
		return "the body holds more than one JSON value"
	case errors.As(err, &typ):
		switch typ.Field {
		case "query", "operationName":
			return typ.Field + " must be a string"
		case "variables", "extensions":
			return typ.Field + " must be an object"
		}
	}
	return `the body must be a JSON object {"query", "operationName"?, "variables"?}`
}

func (h *endpoint) write(w http.ResponseWriter, status int, resp *gql.Response) {
	if resp == nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		h.log.Error("graphql response", "err", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// present shapes every error the endpoint returns: domain errors with their code and public
// message (an internal one's detail goes to the log only), framework errors with their own
// code or BAD_USER_INPUT.
func present(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	var de *keyhaven.Error
	if errors.As(err, &de) {
		ge := gql.DefaultErrorPresenter(ctx, err)
		ge.Message = keyhaven.ErrorMessage(err)
		ge.Extensions = map[string]any{"code": codeOf(de.Code), "reason": keyhaven.ErrorReason(err)}
		if len(de.Fields) > 0 {
			fields := schemaFields(de.Fields)
			ge.Extensions["fields"] = fields
			if len(fields) == 1 && ge.Message == de.Fields[0].Field+": "+de.Fields[0].Message {
				ge.Message = fields[0].Field + ": " + fields[0].Message
			}
		}
		if de.Code == keyhaven.EINTERNAL {
			log.ErrorContext(ctx, "graphql resolver failed", "err", err)
		}
		return ge
	}
	// Resolvers return only domain errors (the service wraps every failure), so anything else
	// comes from the framework checking the document and its variables: parse, validation,
	// complexity, or a value that does not coerce to its type.
	var ge *gqlerror.Error
	if !errors.As(err, &ge) {
		ge = gql.DefaultErrorPresenter(ctx, err)
	}
	out := *ge
	out.Extensions = maps.Clone(ge.Extensions)
	if out.Extensions == nil {
		out.Extensions = map[string]any{}
	}
	if out.Extensions["code"] == nil {
		out.Extensions["code"] = codeBadUserInput
	}
	// An error with a path is about a value: a variable's (path "variable", name, ...) or an
	// argument's. The framework's messages may quote the value, which may be a secret.
	if len(out.Path) > 0 && !valueFree[out.Message] {
		out.Message = "the value does not fit its type"
	}
	return &out
}

// schemaFields names the fields of a domain error as the schema does: the domain names them
// as REST's JSON does, in camel case (rateLimit.periodSeconds); the schema in snake case
// (rate_limit.period_seconds).
func schemaFields(fs []keyhaven.FieldError) []keyhaven.FieldError {
	out := make([]keyhaven.FieldError, len(fs))
	for i, f := range fs {
		out[i] = keyhaven.FieldError{Field: snakeCase(f.Field), Message: f.Message}
	}
	return out
}

// snakeCase writes each upper-case ASCII letter of s as an underscore and its lower case.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// valueFree are the framework's messages about a value that never quote it.
var valueFree = map[string]bool{
	"must be defined":                             true,
	"cannot be null":                              true,
	"must not be null":                            true,
	"unknown field":                               true,
	"enums must be strings":                       true,
	"enums must be ints or strings":               true,
	"time should be RFC3339Nano formatted string": true,
	model.ErrNotSafeInt.Error():                   true,
	model.ErrNotJSON.Error():                      true,
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}
