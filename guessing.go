package keyhaven

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// GuessLimiter limits the guessing of what people choose and type: user passwords, device
// passwords and email addresses. Each key (an email, a device username, a client network)
// has a budget of failures: burst at once, refilled at perMinute. While a key has none
// left, attempts on it are refused before they are checked, right or wrong.
//
// Secrets of 128+ random bits (API keys, access keys, session tokens) have no budget: no
// number of guesses finds one, so their failures limit nothing and a good one is never
// refused because of bad ones sent from the same address, which for a gateway is the
// traffic of thousands of users.
//
// The Service decides which key an attempt counts against (Login, device verify, a change of
// one's own password); a nil
// GuessLimiter limits nothing.
type GuessLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	budgets map[string]*rate.Limiter
	sweep   time.Time
}

// NewGuessLimiter returns a limiter of burst failures per key at once, refilled at perMinute
// (the defaults, 60 and 30, when not positive).
func NewGuessLimiter(perMinute, burst int) *GuessLimiter {
	if perMinute <= 0 {
		perMinute = 60
	}
	if burst <= 0 {
		burst = 30
	}
	return &GuessLimiter{limit: rate.Limit(float64(perMinute) / 60), burst: burst, budgets: map[string]*rate.Limiter{}}
}

// maxTracked bounds memory: past it, keys with a full budget are forgotten at once rather
// than at the next minute's sweep.
const maxTracked = 100_000

func (l *GuessLimiter) budget(key string, now time.Time, create bool) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.budgets[key]
	if b == nil && create {
		if len(l.budgets) >= maxTracked || now.Sub(l.sweep) > time.Minute || now.Before(l.sweep) {
			l.sweep = now
			for k, x := range l.budgets {
				if x.TokensAt(now) >= float64(l.burst) {
					delete(l.budgets, k)
				}
			}
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.budgets[key] = b
	}
	return b
}

// A guess is one failure taken from a key's budget before an attempt is checked, so that
// attempts made at once cannot all pass a budget with room for fewer of them. A right answer,
// or an attempt that could not be checked, gives it back (release).
type guess struct {
	r  *rate.Reservation
	at time.Time
}

// hold takes a guess from key's budget at now, or reports false, taking nothing, when the
// budget is used up. A nil GuessLimiter always allows, with a nil guess.
func (l *GuessLimiter) hold(key string, now time.Time) (*guess, bool) {
	if l == nil {
		return nil, true
	}
	r := l.budget(key, now, true).ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return nil, false
	}
	return &guess{r: r, at: now}, true
}

// release gives a held guess back to its budget.
func (g *guess) release() {
	if g != nil {
		g.r.CancelAt(g.at)
	}
}

// blocked reports whether key has no failure left in its budget at now.
func (l *GuessLimiter) blocked(key string, now time.Time) bool {
	if l == nil {
		return false
	}
	b := l.budget(key, now, false)
	return b != nil && b.TokensAt(now) < 1
}

// tracked returns how many keys the limiter holds, for tests of its memory bound.
func (l *GuessLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.budgets)
}

// The keys attempts count against. Each kind has its own prefix, so that no email, username
// or address can stand for another kind's key.

// maxKeyPart bounds each part of a key, and so the memory a key takes: no tenant name, email
// or username is longer, so longer ones, which no user or device has, share one key.
const maxKeyPart = 254

func keyPart(s string) string {
	if len(s) > maxKeyPart {
		return "\x00overlong"
	}
	return s
}

// emailKey is the key of sign-ins as email to tenant, known or not, so that the answers
// tell no existing email apart. Case does not make another email.
func emailKey(tenant, email string) string {
	return "email\x00" + keyPart(tenant) + "\x00" + keyPart(strings.ToLower(strings.TrimSpace(email)))
}

// deviceKey is the key of device verifications of username in tenant.
func deviceKey(tenantID, username string) string {
	return "device\x00" + tenantID + "\x00" + keyPart(username)
}

// networkKey is the key of sign-ins with unknown emails from the client at addr: an IPv4
// address alone, an IPv6 address with the rest of its /64 (the least a network is given, so
// any one client can use all of it), an IPv4-mapped IPv6 address as its IPv4 address. It is
// "" when addr is unknown (a call that came through no transport).
func networkKey(addr string) string {
	if addr == "" {
		return ""
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "network\x00" + keyPart(addr)
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return "network\x00" + a.String()
	}
	p, _ := a.Prefix(64)
	return "network\x00" + p.String()
}

// errGuessLimited refuses an attempt whose key has used up its budget. It names no key, so
// that it tells no existing email apart.
var errGuessLimited = Reasonf(ERATELIMITED, "rate_limited", "too many failed attempts; try again later")
