package console

import (
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/httpx"
)

// The usage charts: server-rendered SVG, no script, scaled to the width of the page (a
// viewBox stretched to 100% wide), with a legend and the figures in text for screen readers.

//go:embed templates/usage.tmpl
var usageSrc string

var usageTmpl = template.Must(template.New("usage").Parse(usageSrc))

// usageHTML is a rendered usage chart, empty for those who may not read usage.
type usageHTML = template.HTML

// apiKeyPage is an API key's page: the key and its usage chart.
type apiKeyPage struct {
	Key   *keyhaven.Credential
	Usage usageHTML
}

// usagePeriod is a choice of the period picker.
type usagePeriod struct {
	Value, Label string
	span         time.Duration
	granularity  keyhaven.Granularity
}

// usagePeriods are the picker's choices, the first the default.
var usagePeriods = []usagePeriod{
	{"24h", "24 hours", 24 * time.Hour, keyhaven.GranularityHour},
	{"7d", "7 days", 7 * 24 * time.Hour, keyhaven.GranularityHour},
	{"30d", "30 days", 30 * 24 * time.Hour, keyhaven.GranularityDay},
}

// periodOf returns the period a page's ?period= picks; an unknown one is the default.
func periodOf(r *http.Request) usagePeriod {
	v := r.URL.Query().Get("period")
	for _, p := range usagePeriods {
		if p.Value == v {
			return p
		}
	}
	return usagePeriods[0]
}

// query returns the usage query of the period ending with the bucket now falls in.
func (up usagePeriod) query(credentialID string, now time.Time) keyhaven.UsageQuery {
	g := up.granularity
	to := g.Start(now).Add(g.Duration())
	return keyhaven.UsageQuery{CredentialID: credentialID, Granularity: g, From: to.Add(-up.span), To: to}
}

// chart geometry, in viewBox units.
const (
	chartW = 720
	chartH = 180
)

type usageView struct {
	ID      string // unique in the page: ids of the chart's title and description
	Title   string
	Periods []periodLink
	Error   string
	Empty   bool
	Max     int64
	Per     string // "hour", "day"
	From    string
	To      string
	W, H    int
	Grid    []string // y of the grid lines
	Bars    []usageBar
	Legend  []legendItem
	Summary string
}

type periodLink struct {
	Value, Label string
	On           bool
}

type usageBar struct {
	Label string // the bucket's start and its figures, the bar's tooltip
	Segs  []usageSeg
}

type usageSeg struct {
	Outcome    string
	X, Y, W, H string
}

type legendItem struct {
	Outcome string
	Total   int64
}

// usagePanel renders the usage chart of a credential (or of the tenant, for an empty id) for
// what, or nothing when the service refuses p the usage (who may read it is its rule).
func (c *Console) usagePanel(r *http.Request, p *keyhaven.Principal, credentialID, what string) usageHTML {
	per := periodOf(r)
	s, err := c.svc.Usage(ctx(r), p, per.query(credentialID, c.svc.Now()))
	if keyhaven.ErrorCode(err) == keyhaven.EFORBIDDEN {
		return ""
	}
	v := usageView{ID: "usage", W: chartW, H: chartH, Per: strings.ToLower(string(per.granularity)),
		Title: fmt.Sprintf("Uses of %s by outcome, last %s", what, per.Label)}
	for _, o := range usagePeriods {
		v.Periods = append(v.Periods, periodLink{Value: o.Value, Label: o.Label, On: o.Value == per.Value})
	}
	if err != nil {
		if httpx.Status(err) >= 500 {
			c.log.ErrorContext(r.Context(), "usage", "err", err)
		}
		v.Error = "Usage could not be read: " + keyhaven.ErrorMessage(err)
	} else {
		v.chart(s)
	}
	var b strings.Builder
	if err := usageTmpl.Execute(&b, v); err != nil {
		c.log.ErrorContext(r.Context(), "render usage", "err", err)
		return ""
	}
	return template.HTML(b.String())
}

// chart lays the series out as stacked bars, one per bucket, VALID at the bottom.
func (v *usageView) chart(s *keyhaven.UsageSeries) {
	outcomes := s.Outcomes()
	totals := s.Totals()
	var sums []string
	for _, o := range outcomes {
		v.Legend = append(v.Legend, legendItem{Outcome: string(o), Total: totals[o]})
		sums = append(sums, fmt.Sprintf("%s %d", o, totals[o]))
	}
	layout := "2006-01-02 15:04 UTC"
	if s.Granularity == keyhaven.GranularityDay {
		layout = "2006-01-02"
	}
	v.From, v.To = s.From.Format(layout), s.To.Format(layout)
	var peak int64
	for _, b := range s.Buckets {
		var sum int64
		for _, n := range b.Outcomes {
			sum += n
		}
		peak = max(peak, sum)
	}
	v.Empty = peak == 0
	if v.Empty {
		v.Summary = "No uses in this period."
	} else {
		v.Summary = "In all: " + strings.Join(sums, ", ") + "."
	}
	v.Max = niceCeil(peak)
	for i := 1; i <= 4; i++ {
		v.Grid = append(v.Grid, coord(chartH-float64(chartH)*float64(i)/4))
	}
	if len(s.Buckets) == 0 {
		return
	}
	step := float64(chartW) / float64(len(s.Buckets))
	gap := 0.0
	if step >= 4 {
		gap = step * 0.2
	}
	for i, b := range s.Buckets {
		bar := usageBar{}
		var figures []string
		y := float64(chartH)
		for _, o := range outcomes {
			n := b.Outcomes[o]
			if n == 0 {
				continue
			}
			figures = append(figures, fmt.Sprintf("%s %d", o, n))
			h := float64(chartH) * float64(n) / float64(v.Max)
			y -= h
			bar.Segs = append(bar.Segs, usageSeg{Outcome: string(o), X: coord(float64(i)*step + gap/2), Y: coord(y), W: coord(step - gap), H: coord(h)})
		}
		if len(bar.Segs) == 0 {
			continue
		}
		bar.Label = b.Start.Format(layout) + ": " + strings.Join(figures, ", ")
		v.Bars = append(v.Bars, bar)
	}
}

// niceCeil returns the least of 1, 2 or 5 times a power of ten at or above n (at least 1).
func niceCeil(n int64) int64 {
	if n <= 1 {
		return 1
	}
	p := int64(math.Pow10(int(math.Floor(math.Log10(float64(n))))))
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}

func coord(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// topKey is a row of the dashboard's most used keys.
type topKey struct {
	Name, Kind, Href string
	Uses, Valid      int64
}

// expiringKey is a row of the dashboard's keys expiring soon.
type expiringKey struct {
	Name, Kind, Href string
	ExpiresAt        time.Time
	In               string
}

type dashboardData struct {
	Usage    usageHTML
	Period   string
	Top      []topKey
	Expiring []expiringKey
	// CanSeeExpiring says whether p may see any key's expiry.
	CanSeeExpiring bool
}

// expiringWithin is how far ahead the dashboard looks for expiring keys.
const expiringWithin = 7 * 24 * time.Hour

// dashboard shows the tenant's usage: uses by outcome over the period, the most used keys in
// it and the keys expiring soon. It needs USAGE_READ.
func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	per := periodOf(r)
	top, err := c.svc.TopUsage(ctx(r), p, per.query("", c.svc.Now()), 10)
	if err != nil {
		return err
	}
	expiring, err := c.svc.ExpiringKeys(ctx(r), p, expiringWithin)
	if err != nil {
		return err
	}
	d := dashboardData{Usage: c.usagePanel(r, p, "", "the tenant's keys"), Period: per.Label,
		CanSeeExpiring: p.MaySeeExpiringKeys()}
	for _, u := range top {
		row := topKey{Name: u.Name, Uses: u.Uses, Valid: u.Valid}
		switch u.Kind {
		case keyhaven.KindAPIKey:
			row.Kind, row.Href = "API key", apiKeyPath(u.Name)
		case keyhaven.KindAccessKey:
			row.Kind, row.Href = "Access key", accessKeyPath(u.ApplicationID, u.CredentialID)
		case keyhaven.KindDevice:
			row.Kind = "Device access"
		default:
			row.Kind, row.Name = "Deleted", u.CredentialID
		}
		d.Top = append(d.Top, row)
	}
	now := c.svc.Now()
	for _, k := range expiring {
		row := expiringKey{Name: k.Name, ExpiresAt: k.ExpiresAt, In: until(k.ExpiresAt.Sub(now))}
		if k.Kind == keyhaven.KindAPIKey {
			row.Kind, row.Href = "API key", apiKeyPath(k.Name)
		} else {
			row.Kind, row.Href = "Access key", accessKeyPath(k.ApplicationID, k.ID)
		}
		d.Expiring = append(d.Expiring, row)
	}
	return c.render(w, r, p, http.StatusOK, "dashboard", "Dashboard", "dashboard", d)
}

// until says how long until an expiry, roughly.
func until(d time.Duration) string {
	switch {
	case d < time.Hour:
		return "within the hour"
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d hours", int(d.Hours()))
	}
	return fmt.Sprintf("in %d days", int(d.Hours()/24))
}

// home is where the console's root leads: the dashboard for those who may read usage, the
// applications for everyone else.
func (c *Console) home(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	http.Redirect(w, r, homePath(p), http.StatusSeeOther)
	return nil
}

// homePath is the console's first page for p: the dashboard for those who may read usage,
// the applications for everyone else.
func homePath(p *keyhaven.Principal) string {
	if p.Permissions.Has(keyhaven.USAGE_READ) {
		return "/dashboard"
	}
	return "/applications"
}
