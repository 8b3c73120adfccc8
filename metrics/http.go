package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeKey is what picks one request's counter: its pattern, method label and status.
type routeKey struct {
	pattern, method string
	status          int
}

// routeChild is what one request updates: its counter and its route's histogram.
type routeChild struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// Observe counts one answered request (an httpx.Observer). Its route is the pattern that
// routed it without the method, such as /api/{tenant}/access/{id}, never the path: the label
// takes as many values as there are routes, whatever clients send.
func (m *Metrics) Observe(r *http.Request, status int, elapsed time.Duration) {
	c := m.routes.get(routeKey{pattern: r.Pattern, method: method(r.Method), status: status}, func(k routeKey) routeChild {
		rt := route(k.pattern)
		if m.unmatched[rt] {
			rt = Unmatched
		}
		return routeChild{
			count:    m.requests.WithLabelValues(rt, k.method, strconv.Itoa(k.status)),
			duration: m.durations.WithLabelValues(rt, k.method),
		}
	})
	c.count.Inc()
	c.duration.Observe(elapsed.Seconds())
}

// route returns the path part of a ServeMux pattern ("[METHOD ][HOST]/PATH"): keyhaven's
// patterns name no host.
func route(pattern string) string {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		return strings.TrimLeft(pattern[i:], " \t")
	}
	return pattern
}

// method returns the method label of m: one of the standard methods, or "other", so that a
// client cannot make up label values.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}
