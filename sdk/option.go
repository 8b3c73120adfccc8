package sdk

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Defaults of the options.
const (
	DefaultCacheTTL        = 5 * time.Second
	DefaultCacheSize       = 10000
	DefaultLeeway          = 10 * time.Second
	DefaultRefreshInterval = time.Second
	// DefaultJWKSMaxAge is how long a JWK Set is used before it is fetched again, when its
	// answer names no max-age.
	DefaultJWKSMaxAge = 5 * time.Minute
)

// Option configures a Client, a JWKSVerifier or a Middleware; each takes what applies to it.
type Option func(*config)

type config struct {
	httpClient      *http.Client
	cacheTTL        time.Duration
	cacheSize       int
	tenant          string
	publicURL       string
	leeway          time.Duration
	refreshInterval time.Duration
	now             func() time.Time
	clientIP        func(*http.Request) string
}

func newConfig(opts []Option) config {
	c := config{
		httpClient:      &http.Client{Timeout: 10 * time.Second},
		cacheTTL:        DefaultCacheTTL,
		cacheSize:       DefaultCacheSize,
		leeway:          DefaultLeeway,
		refreshInterval: DefaultRefreshInterval,
		now:             time.Now,
		clientIP:        remoteIP,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithHTTPClient sends every request to keyhaven with hc (default: a client with a 10 s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithCache keeps the answers of POST /api/verify for ttl, at most size of them, the least
// recently used going first (default 5 s and 10000). A ttl or size of 0 turns the cache off.
// Access tokens verified offline are kept too, at most size of them, each until it expires (a
// size of 0 turns that off).
func WithCache(ttl time.Duration, size int) Option {
	return func(c *config) { c.cacheTTL, c.cacheSize = ttl, size }
}

// WithTenant names the tenant whose credentials a Middleware accepts: its access tokens are
// verified offline with its JWK Set, and every other tenant's credential is refused.
func WithTenant(name string) Option { return func(c *config) { c.tenant = name } }

// WithPublicURL is keyhaven's public URL (its --public-url), which names the issuer of access
// tokens, {public URL}/api/{tenant}, when it differs from the base URL the service reaches it at.
func WithPublicURL(u string) Option { return func(c *config) { c.publicURL = u } }

// WithLeeway is how far a token's exp and nbf may be off the service's clock (default 10 s).
func WithLeeway(d time.Duration) Option { return func(c *config) { c.leeway = d } }

// WithRefreshInterval is the least time between two fetches of the JWK Set (default 1 s): a
// token naming an unknown key fetches the set again, at most this often, so that a flood of
// forged key ids cannot hammer keyhaven.
func WithRefreshInterval(d time.Duration) Option { return func(c *config) { c.refreshInterval = d } }

// WithClock replaces the clock the caches and token expiry are read with (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithClientIP tells a Middleware the address of the client that presented a key, which
// keyhaven checks against the key's IP allowlist (default: the request's RemoteAddr; behind a
// proxy, read the address the proxy forwards).
func WithClientIP(f func(*http.Request) string) Option { return func(c *config) { c.clientIP = f } }

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	return a.WithZone("").Unmap().String()
}

func trimURL(u string) string { return strings.TrimRight(u, "/") }
