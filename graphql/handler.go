package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"keyhaven"
	"keyhaven/graphql/model"
)

// Limits of the endpoint: a document larger, deeper or more complex than these is refused
// before any resolver runs. The standard introspection query fits within them.
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

// Authenticator resolves an Authorization header to a principal of the named tenant; the
// REST API's, so that both transports share its failure limit.
type Authenticator func(ctx context.Context, header, tenant string) (*keyhaven.Principal, error)

// NewHandler returns the GraphQL endpoint for /api/{tenant}/graphql.
func NewHandler(svc *keyhaven.Service, log *slog.Logger, authenticate Authenticator) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Svc: svc}}))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.Use(depthLimit{max: MaxDepth})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return present(ctx, log, err)
	})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		return keyhaven.Internal(fmt.Errorf("graphql panic: %v", v))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			// Mutations change state: a GET, which links, prefetchers and caches may send on
			// their own, never runs one.
			if doc, err := parser.ParseQuery(&ast.Source{Input: r.URL.Query().Get("query")}); err == nil {
				for _, op := range doc.Operations {
					if op.Operation != ast.Query {
						w.Header().Set("Allow", "POST")
						writeError(w, http.StatusMethodNotAllowed, codeBadUserInput, "GET runs queries only; send mutations with POST")
						return
					}
				}
			}
		case http.MethodPost:
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, codeBadUserInput, "send the request as application/json")
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, codeBadUserInput, "use POST (or GET for queries)")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadUserInput, "the body could not be read")
			return
		}
		if len(body) > MaxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, codeBadUserInput, "the body is larger than 64 KiB")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		p, err := authenticate(r.Context(), r.Header.Get("Authorization"), r.PathValue("tenant"))
		if err != nil {
			status, code := http.StatusUnauthorized, codeUnauthenticated
			switch keyhaven.ErrorCode(err) {
			case keyhaven.EFORBIDDEN:
				status, code = http.StatusForbidden, codeForbidden
			case keyhaven.ERATELIMITED:
				status, code = http.StatusTooManyRequests, codeRateLimited
				w.Header().Set("Retry-After", "1")
			case keyhaven.EINTERNAL:
				log.ErrorContext(r.Context(), "authenticate", "err", err)
				status, code = http.StatusInternalServerError, codeInternal
			default:
				w.Header().Set("WWW-Authenticate", `Bearer realm="keyhaven"`)
			}
			writeError(w, status, code, keyhaven.ErrorMessage(err))
			return
		}
		srv.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
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
			ge.Extensions["fields"] = de.Fields
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
	if ge.Extensions == nil || ge.Extensions["code"] == nil {
		if ge.Extensions == nil {
			ge.Extensions = map[string]any{}
		}
		ge.Extensions["code"] = codeBadUserInput
	}
	return ge
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}

func permissionNames(ps []model.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func toAPIKey(c *keyhaven.Credential) *model.APIKey {
	masked := keyhaven.MaskedKey(c)
	out := &model.APIKey{Name: c.Name, APIKey: &masked, Active: c.Active, Created: c.CreatedAt, Permissions: []model.Permission{}}
	for _, p := range c.Permissions.List() {
		out.Permissions = append(out.Permissions, model.Permission(p))
	}
	if !c.ExpiresAt.IsZero() {
		t := c.ExpiresAt
		out.Expires = &t
	}
	return out
}
