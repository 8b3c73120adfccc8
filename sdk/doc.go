// Package sdk lets a Go service verify keyhaven credentials: opaque secrets online through
// POST /api/verify (Client, with a short cache of answers), access tokens offline with the
// tenant's JWK Set (JWKSVerifier), and both behind one net/http Middleware.
//
// The package talks HTTP only and imports nothing else of keyhaven, so that any module can
// require it.
package sdk
