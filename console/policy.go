package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

// policyFields is a key's policy as its form holds it: the text of each field, as the user
// typed it. The console only reads the text into the service's input; every rule about the
// values is the service's.
type policyFields struct {
	IPAllowlist                           string
	RateLimit, RatePeriod                 string
	Credits, RefillAmount, RefillInterval string
	Meta                                  string
	// Was holds, by group (see groups), what an edit form was filled with: a change sets only
	// the groups the user changed, so that saving a form does not put back credits the key
	// used since the form was loaded. Nil on a new key's form.
	Was map[string]string
}

// The groups of a policy form: each is one field of keyhaven.PolicyUpdate.
const (
	groupAllowlist = "ipAllowlist"
	groupRateLimit = "rateLimit"
	groupCredits   = "credits"
	groupMeta      = "meta"
)

var policyGroups = []string{groupAllowlist, groupRateLimit, groupCredits, groupMeta}

// refillIntervals are the choices of a refill's interval.
var refillIntervals = []string{string(keyhaven.RefillDaily), string(keyhaven.RefillMonthly)}

// policyFieldsFrom reads a posted policy form.
func policyFieldsFrom(form url.Values) policyFields {
	f := policyFields{
		IPAllowlist: form.Get("ipAllowlist"),
		RateLimit:   form.Get("rateLimit.limit"), RatePeriod: form.Get("rateLimit.periodSeconds"),
		Credits: form.Get("credits.remaining"), RefillAmount: form.Get("credits.refill.amount"),
		RefillInterval: form.Get("credits.refill.interval"),
		Meta:           form.Get("meta"),
	}
	for _, g := range policyGroups {
		if vs, ok := form["was."+g]; ok {
			if f.Was == nil {
				f.Was = map[string]string{}
			}
			f.Was[g] = vs[0]
		}
	}
	return f
}

// policyFieldsOf fills a form with c's policy as it stands at now, for editing.
func policyFieldsOf(c *keyhaven.Credential, now time.Time) policyFields {
	var f policyFields
	f.IPAllowlist = strings.Join(keyhaven.AllowlistStrings(c.IPAllowlist), "\n")
	if rl := c.RateLimit; rl != nil {
		f.RateLimit, f.RatePeriod = strconv.FormatInt(rl.Limit, 10), strconv.FormatInt(int64(rl.Period/time.Second), 10)
	}
	if cr := c.Credits; cr != nil {
		f.Credits = strconv.FormatInt(cr.At(now), 10)
		if cr.Refill != nil {
			f.RefillAmount, f.RefillInterval = strconv.FormatInt(cr.Refill.Amount, 10), string(cr.Refill.Interval)
		}
	}
	f.Meta = prettyJSON(c.Meta)
	f.Was = f.groups()
	return f
}

// groups returns the form's text by group, in a form that ignores what does not change the
// value it reads as (surrounding space, line ends, a refill interval without an amount).
func (f policyFields) groups() map[string]string {
	trim := strings.TrimSpace
	interval := ""
	if trim(f.RefillAmount) != "" {
		interval = f.RefillInterval
	}
	return map[string]string{
		groupAllowlist: strings.Join(splitAllowlist(f.IPAllowlist), "\n"),
		groupRateLimit: trim(f.RateLimit) + "/" + trim(f.RatePeriod),
		groupCredits:   trim(f.Credits) + "/" + trim(f.RefillAmount) + "/" + interval,
		groupMeta:      strings.ReplaceAll(trim(f.Meta), "\r\n", "\n"),
	}
}

// splitAllowlist reads an allowlist typed one entry a line or comma-separated.
func splitAllowlist(s string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Form field names of a policy form, as the service names the fields of a PolicyInput.
const (
	fieldRateLimit  = "rateLimit.limit"
	fieldRatePeriod = "rateLimit.periodSeconds"
	fieldCredits    = "credits.remaining"
	fieldRefill     = "credits.refill.amount"
)

// integer reads a whole number typed in a form field. One too large for int64 reads as the
// largest there is, so that the service says what range the field takes.
func integer(field, s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		if strings.HasPrefix(strings.TrimSpace(s), "-") {
			return math.MinInt64, nil
		}
		return math.MaxInt64, nil
	}
	if err != nil {
		return 0, keyhaven.Invalid(keyhaven.FieldError{Field: field, Message: "must be a whole number"})
	}
	return n, nil
}

// empty reports whether a form field was left empty.
func empty(s string) bool { return strings.TrimSpace(s) == "" }

func (f policyFields) allowlist() []string { return splitAllowlist(f.IPAllowlist) }

// rateLimit reads the rate limit: none when both its fields are empty.
func (f policyFields) rateLimit() (*keyhaven.RateLimitInput, error) {
	if empty(f.RateLimit) && empty(f.RatePeriod) {
		return nil, nil
	}
	var in keyhaven.RateLimitInput
	var err error
	if !empty(f.RateLimit) {
		if in.Limit, err = integer(fieldRateLimit, f.RateLimit); err != nil {
			return nil, err
		}
	}
	if !empty(f.RatePeriod) {
		if in.PeriodSeconds, err = integer(fieldRatePeriod, f.RatePeriod); err != nil {
			return nil, err
		}
	}
	return &in, nil
}

// credits reads the credits: none when the remaining credits and the refill amount are both
// empty; a refill needs the credits remaining now, as the service's input does.
func (f policyFields) credits() (*keyhaven.CreditsInput, error) {
	if empty(f.Credits) && empty(f.RefillAmount) {
		return nil, nil
	}
	if empty(f.Credits) {
		return nil, keyhaven.Invalid(keyhaven.FieldError{Field: fieldCredits, Message: "must be given with a refill"})
	}
	var in keyhaven.CreditsInput
	var err error
	if in.Remaining, err = integer(fieldCredits, f.Credits); err != nil {
		return nil, err
	}
	if !empty(f.RefillAmount) {
		r := &keyhaven.RefillInput{Interval: f.RefillInterval}
		if r.Amount, err = integer(fieldRefill, f.RefillAmount); err != nil {
			return nil, err
		}
		in.Refill = r
	}
	return &in, nil
}

func (f policyFields) meta() json.RawMessage {
	if empty(f.Meta) {
		return nil
	}
	return json.RawMessage(strings.TrimSpace(f.Meta))
}

// input reads a new key's policy.
func (f policyFields) input() (keyhaven.PolicyInput, error) {
	in := keyhaven.PolicyInput{IPAllowlist: f.allowlist(), Meta: f.meta()}
	var err error
	if in.RateLimit, err = f.rateLimit(); err != nil {
		return in, err
	}
	in.Credits, err = f.credits()
	return in, err
}

// update reads a change of a key's policy: the groups the user changed from what the form
// was filled with (every group when the form does not say), an empty group clearing its field.
func (f policyFields) update() (keyhaven.PolicyUpdate, error) {
	var u keyhaven.PolicyUpdate
	now := f.groups()
	changed := func(g string) bool {
		was, ok := f.Was[g]
		return !ok || strings.ReplaceAll(was, "\r\n", "\n") != now[g]
	}
	if changed(groupAllowlist) {
		u.IPAllowlist = keyhaven.Some(f.allowlist())
	}
	if changed(groupRateLimit) {
		rl, err := f.rateLimit()
		if err != nil {
			return u, err
		}
		u.RateLimit = keyhaven.Some(rl)
	}
	if changed(groupCredits) {
		cr, err := f.credits()
		if err != nil {
			return u, err
		}
		u.Credits = keyhaven.Some(cr)
	}
	if changed(groupMeta) {
		u.Meta = keyhaven.Some(f.meta())
	}
	return u, nil
}

// prettyJSON returns a key's metadata indented for reading; "" when there is none.
func prettyJSON(meta json.RawMessage) string {
	if len(meta) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, meta, "", "  "); err != nil {
		return string(meta)
	}
	return b.String()
}

// period says how long a rate limit's period is.
func period(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s == 1:
		return "second"
	case s%3600 == 0 && s/3600 == 1:
		return "hour"
	case s%3600 == 0:
		return fmt.Sprintf("%d hours", s/3600)
	case s%60 == 0 && s/60 == 1:
		return "minute"
	case s%60 == 0:
		return fmt.Sprintf("%d minutes", s/60)
	}
	return fmt.Sprintf("%d seconds", s)
}

// Grace periods a rotation offers, in seconds.
var graceOptions = []struct {
	Seconds, Label string
}{{"0", "None: the old key stops working now"}, {"3600", "1 hour"}, {"86400", "1 day"}, {"604800", "7 days"}}

// grace reads a rotation's grace period in seconds, as the service bounds it.
func grace(s string) (time.Duration, error) {
	const field = "gracePeriodSeconds"
	n, err := integer(field, s)
	if err != nil {
		return 0, err
	}
	return keyhaven.Grace(field, n)
}

// listItem is the name the service gives an item of a list field: the field's name and the
// item's index (ipAllowlist[2], permissions[0], events[1]).
var listItem = regexp.MustCompile(`^(.+)\[(\d+)\]$`)

// fieldErrors returns the message of each invalid field err names, by the name of the form
// field that holds it, and err with the label of that field in place of its name, for the
// banner. An error about an item of a list is the list field's. prefix is what the service
// puts before the field names of its input; list is the allowlist the form sent, whose entry
// an error about one is about.
func fieldErrors(err error, prefix string, list []string, labels map[string]string) (map[string]string, error) {
	fields := keyhaven.ErrorFields(err)
	if keyhaven.ErrorCode(err) != keyhaven.EINVALID || len(fields) == 0 {
		return nil, err
	}
	out := map[string]string{}
	var banner []keyhaven.FieldError
	for _, fe := range fields {
		name, msg := strings.TrimPrefix(fe.Field, prefix), fe.Message
		if m := listItem.FindStringSubmatch(name); m != nil {
			name = m[1]
			if i, _ := strconv.Atoi(m[2]); name == groupAllowlist && i < len(list) {
				msg = fmt.Sprintf("%q %s", list[i], msg)
			}
		}
		label, ok := labels[name]
		if !ok {
			return nil, err // not a field of this form: the banner says it as the service does
		}
		out[name] = msg
		banner = append(banner, keyhaven.FieldError{Field: label, Message: msg})
	}
	return out, keyhaven.Invalid(banner...)
}

// policyLabels are the labels of a policy form's fields.
var policyLabels = map[string]string{
	groupAllowlist:            "IP allowlist",
	fieldRateLimit:            "Rate limit",
	fieldRatePeriod:           "Rate limit period",
	fieldCredits:              "Credits remaining",
	fieldRefill:               "Refill amount",
	"credits.refill.interval": "Refill interval",
	groupMeta:                 "Metadata",
}

// withLabels returns policyLabels and more.
func withLabels(more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range policyLabels {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// keyForm is the form of an API key or an access key: what the user typed, and the message
// of each invalid field by its name.
type keyForm struct {
	Action, Submit, Cancel string
	// New is a new key's form: it takes what only creation sets (an API key's name, an
	// access key's scopes and expiry).
	New                          bool
	Name, Description, ExpiresAt string
	// WasExpires is what an API key's edit form filled its expiry with: an edit changes the
	// expiry only when the user did.
	WasExpires string
	Active     bool
	// Options are an API key's permissions or an access key's scopes.
	Options []permOption
	Policy  policyFields
	Errors  map[string]string
}

// keyFormError returns the refusal of a key's form: the form again with the error that
// refused it, and each invalid field's message beside the field. prefix is what the service
// puts before the names of the fields it reports.
func keyFormError(err error, prefix string, labels map[string]string, page, title, nav string, f keyForm) error {
	f.Errors, err = fieldErrors(err, prefix, f.Policy.allowlist(), labels)
	return refused(err, page, title, nav, f)
}

// rotateForm asks for the grace period of a key's rotation.
type rotateForm struct {
	Kind, Name, Action, Cancel, Grace string
	Errors                            map[string]string
}

var graceLabels = map[string]string{"gracePeriodSeconds": "Grace period"}

// oldSecret says until when a rotated key's old secret works.
func (c *Console) oldSecret(grace time.Duration) string {
	if grace == 0 {
		return "No longer works"
	}
	return "Works until " + c.svc.Now().Add(grace).UTC().Format(dateFormat)
}
