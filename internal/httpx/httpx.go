// Package httpx holds what keyhaven's HTTP transports (REST, GraphQL, console) share, so that
// none of them imports another: the request wrapper every request passes (request id, logger,
// client address, protective headers, access log, recovery), and the HTTP status of a domain
// error.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"keyhaven.dev/keyhaven"
)

// Status returns the HTTP status of a domain error: the one place this is decided, for every
// transport.
func Status(err error) int {
	switch keyhaven.ErrorCode(err) {
	case keyhaven.EINVALID:
		return http.StatusBadRequest
	case keyhaven.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case keyhaven.EFORBIDDEN:
		return http.StatusForbidden
	case keyhaven.ENOTFOUND:
		return http.StatusNotFound
	case keyhaven.ECONFLICT:
		return http.StatusConflict
	case keyhaven.ERATELIMITED:
		return http.StatusTooManyRequests
	case keyhaven.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Headers returns the headers an error answer of status carries: how to authenticate, and
// when to try again (as err says, when it is a domain error that says).
func Headers(status int, err error) http.Header {
	switch status {
	case http.StatusUnauthorized:
		return http.Header{"WWW-Authenticate": {`Bearer realm="keyhaven"`}}
	case http.StatusTooManyRequests:
		if d := keyhaven.ErrorRetryAfter(err); d > 0 {
			return http.Header{"Retry-After": {strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)}}
		}
		return http.Header{"Retry-After": {"1"}}
	case http.StatusServiceUnavailable:
		return http.Header{"Retry-After": {keyhaven.RetryAfterUnavailable}}
	}
	return nil
}

type ctxKey int

const (
	loggerKey ctxKey = iota
	tlsKey
)

// RequestID returns the id of the request ctx serves.
func RequestID(ctx context.Context) string { return keyhaven.RequestInfoFrom(ctx).RequestID }

// Logger returns the request's logger, made on first use: most requests log one line.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l.With("request_id", RequestID(ctx))
	}
	return slog.Default()
}

// OverTLS reports whether the request ctx serves reached keyhaven over TLS, directly or
// through a trusted proxy that says so in X-Forwarded-Proto.
func OverTLS(ctx context.Context) bool {
	tls, _ := ctx.Value(tlsKey).(bool)
	return tls
}

// validRequestID accepts a caller's X-Request-Id only when it is short and plain, so that it
// is safe to log and echo.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// requestIDs are a random per-process prefix and a counter: unique without a CSPRNG read
// per request.
var (
	requestIDPrefix = func() string {
		var b [4]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
	requestSeq atomic.Uint64
)

func newRequestID() string {
	return requestIDPrefix + strconv.FormatUint(requestSeq.Add(1), 36)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Observer is told of every request once it is answered: the request as the handlers saw
// it (its Pattern is the route pattern of the innermost http.ServeMux that routed it, empty
// when none matched), the status sent and how long answering took. It runs on every request's
// path and must not block.
type Observer func(r *http.Request, status int, elapsed time.Duration)

// Wrap gives every request an id, a logger, its client address for the audit log and the
// judging of credential uses (behind trusted proxies, from X-Forwarded-For), protective
// headers, one access log line (never a header value or a body) and a recovery that turns a
// panic into a logged 500 instead of a dropped connection. When observe is set, it is told of
// every answered request.
func Wrap(log *slog.Logger, trusted []netip.Prefix, observe Observer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		host := clientAddr(r, trusted)
		ctx := context.WithValue(r.Context(), loggerKey, log)
		ctx = keyhaven.WithRequestInfo(ctx, keyhaven.RequestInfo{RemoteAddr: host, RequestID: id})
		if overTLS(r, trusted) {
			ctx = context.WithValue(ctx, tlsKey, true)
		}
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		rec := &statusRecorder{ResponseWriter: w}
		// The routers below record the pattern they matched in the request they are handed:
		// this one, read back once it is answered.
		inner := r.WithContext(ctx)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeInternal(rec, id)
				}
			}
			if observe != nil {
				status := rec.status
				if status == 0 {
					status = http.StatusOK // what net/http sends for a handler that wrote nothing
				}
				observe(inner, status, time.Since(start))
			}
			// The verification hot path logs at debug level: a line per call would cost more
			// than the call.
			level := slog.LevelInfo
			if r.URL.Path == "/api/verify" && rec.status < 500 {
				level = slog.LevelDebug
			}
			if log.Enabled(r.Context(), level) {
				log.Log(r.Context(), level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", rec.status,
					"bytes", rec.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000, "client", host)
			}
		}()
		next.ServeHTTP(rec, inner)
	})
}

// writeInternal answers a request whose handler panicked with an RFC 9457 problem.
func writeInternal(w http.ResponseWriter, requestID string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusInternalServerError)
	json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(http.StatusInternalServerError),
		"status": http.StatusInternalServerError, "code": "internal", "detail": "internal error", "requestId": requestID})
}

// peer returns the address of r's peer (without port).
func peer(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// trustedAddr reports whether s is an address in trusted.
func trustedAddr(s string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of the client that sent r: the peer, or, when the peer is
// a trusted proxy, the nearest address in X-Forwarded-For that is not.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host := peer(r)
	if !trustedAddr(host, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if !trustedAddr(hop, trusted) {
			if _, err := netip.ParseAddr(hop); err != nil {
				return host // a malformed header is not believed
			}
			return hop
		}
	}
	return host
}

// overTLS reports whether the client reached keyhaven over TLS: r came over TLS, or its peer
// is a trusted proxy whose X-Forwarded-Proto (the last value, the one it set) is https.
func overTLS(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	vs := r.Header.Values("X-Forwarded-Proto")
	if len(vs) == 0 || !trustedAddr(peer(r), trusted) {
		return false
	}
	protos := strings.Split(vs[len(vs)-1], ",")
	return strings.EqualFold(strings.TrimSpace(protos[len(protos)-1]), "https")
}
