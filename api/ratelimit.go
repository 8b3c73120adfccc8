package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// FailureLimiter limits failed attempts (logins, verifications, bad credentials) per client
// address, so that guessing secrets or passwords is useless: past the burst, an address gets
// one more try per second at most, and while it has none left every attempt is refused
// before it is checked, right or wrong.
//
// A key that is an IP address counts for the client that holds it: an IPv4 address alone, an
// IPv6 address with the rest of its /64 (the least a network is given, so any one client can
// use all of it), an IPv4-mapped IPv6 address as its IPv4 address. Other keys (a username)
// count as they are.
type FailureLimiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	sweep    time.Time
}

func newFailureLimiter(perMinute, burst int) *FailureLimiter {
	return &FailureLimiter{limit: rate.Limit(float64(perMinute) / 60), burst: burst, limiters: map[string]*rate.Limiter{}}
}

// maxTracked bounds memory: past it, addresses with a full budget are forgotten.
const maxTracked = 100_000

func (l *FailureLimiter) get(addr string, create bool) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.limiters[addr]
	if lim == nil && create {
		now := time.Now()
		if len(l.limiters) >= maxTracked || now.Sub(l.sweep) > time.Minute {
			l.sweep = now
			for a, x := range l.limiters {
				if x.TokensAt(now) >= float64(l.burst) {
					delete(l.limiters, a)
				}
			}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.limiters[addr] = lim
	}
	return lim
}

// Blocked reports whether addr has used up its failures.
func (l *FailureLimiter) Blocked(addr string) bool {
	lim := l.get(limitKey(addr), false)
	return lim != nil && lim.Tokens() < 1
}

// Failed counts a failure of addr.
func (l *FailureLimiter) Failed(addr string) { l.get(limitKey(addr), true).Allow() }

// limitKey returns the key whose budget a failure of key takes: for an address, the
// network of the client that holds it.
func limitKey(key string) string {
	a, err := netip.ParseAddr(key)
	if err != nil {
		return key
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// clientAddr returns the address of the client that sent r: the peer, or, when the peer is
// a trusted proxy, the nearest address in X-Forwarded-For that is not.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 {
		return host
	}
	isTrusted := func(s string) bool {
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
	if !isTrusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if !isTrusted(hop) {
			if _, err := netip.ParseAddr(hop); err != nil {
				return host // a malformed header is not believed
			}
			return hop
		}
	}
	return host
}
