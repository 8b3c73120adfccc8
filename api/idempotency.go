package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/httpx"
	"keyhaven.dev/keyhaven/secret"
)

// idempotent makes creating POSTs that carry an Idempotency-Key safe to retry: the first
// answer is stored (sealed: it may hold a password or key) under the key, scoped to the
// calling credential, and a retry of the same request by the same credential gets it back
// with Idempotent-Replayed: true and creates nothing, if the credential still holds what it
// held at first (keyhaven.CheckReplay). The body is read only after authentication and only
// up to the route's own limit. Reusing a key for another request is 422;
// a retry while the first is still running is 409. Answers of 5xx are not kept, so that the
// request can be tried again.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || r.Method != http.MethodPost || !idempotentPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		// The request this handler was given names its route, as a router would, whether or
		// not the route gets to answer: what observes requests (metrics by route) reads it,
		// while the route runs with a copy.
		_, r.Pattern = s.mux.Handler(r)
		reqID := httpx.RequestID(r.Context())
		if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			writeProblem(w, domainProblem(keyhaven.Invalid(keyhaven.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 visible ASCII characters"})), reqID)
			return
		}
		bearer, _ := secret.FromAuthorization(r.Header.Get("Authorization"))
		tenant, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
		p, err := s.svc.Authenticate(r.Context(), keyhaven.APIUse(r.Context(), bearer, tenant))
		if err != nil {
			next.ServeHTTP(w, r) // the handler answers 401 or 403
			return
		}
		limit := s.bodyLimit(r)
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			writeProblem(w, newProblem(http.StatusBadRequest, "the body could not be read"), reqID)
			return
		}
		if int64(len(body)) > limit {
			writeProblem(w, newProblem(http.StatusRequestEntityTooLarge, "request body is too large"), reqID)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// The operation takes the principal judged here rather than judging the bearer again.
		r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
		sum := sha256.New()
		sum.Write([]byte(r.Method + " " + r.URL.RequestURI() + "\n"))
		sum.Write(body)
		ctx := r.Context()
		replay, err := s.svc.BeginIdempotent(ctx, p, key, hex.EncodeToString(sum.Sum(nil)))
		switch {
		case keyhaven.ErrorReason(err) == "idempotency_key_reused":
			writeProblem(w, domainProblem(err).withStatus(http.StatusUnprocessableEntity), reqID)
			return
		case err != nil:
			writeProblem(w, domainProblem(err), reqID)
			return
		case replay != nil:
			w.Header().Set("Content-Type", replay.ContentType)
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(replay.Status)
			w.Write(replay.Body)
			return
		}
		buf := &bufferedWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(buf, r)
		answer := &keyhaven.IdempotentAnswer{Status: buf.status, ContentType: w.Header().Get("Content-Type"), Body: buf.body.Bytes()}
		if err := s.svc.FinishIdempotent(ctx, p, key, answer); err != nil {
			httpx.Logger(ctx).ErrorContext(ctx, "idempotency key", "err", err)
		}
		w.WriteHeader(buf.status)
		w.Write(buf.body.Bytes())
	})
}

// idempotentPath reports whether a POST to path creates something.
func idempotentPath(path string) bool {
	if !strings.HasPrefix(path, "/api/") {
		return false
	}
	for _, suffix := range []string{"/login", "/logout", "/graphql", "/verify", "/revoke", "/oauth2/token", "/oauth2/introspect"} {
		if strings.HasSuffix(path, suffix) {
			return false
		}
	}
	return true
}

// bufferedWriter holds a response until it is stored.
type bufferedWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) WriteHeader(status int)      { b.status = status }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

func (p *Problem) withStatus(status int) *Problem {
	p.Status, p.Title = status, http.StatusText(status)
	return p
}
