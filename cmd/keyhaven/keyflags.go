package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/client"
)

// Flag values of the management commands. They parse what a person types (a time as a date
// or a duration from now, a rate limit as 100/1m); the service judges the values themselves,
// and names the field at fault.

// none is the word that clears what a flag of an update names.
const none = "none"

// timeValue is a point in time: RFC 3339, a date (midnight UTC), or a duration from now such
// as 90m, 720h or 30d; with clearable, "never".
type timeValue struct {
	abs       time.Time
	rel       time.Duration
	never     bool
	clearable bool
}

func timeFlag(fs *pflag.FlagSet, name string, clearable bool, usage string) *timeValue {
	v := &timeValue{clearable: clearable}
	fs.Var(v, name, usage)
	return v
}

func (v *timeValue) Type() string { return "time" }

func (v *timeValue) String() string {
	switch {
	case v.never:
		return "never"
	case v.rel != 0:
		return v.rel.String()
	case !v.abs.IsZero():
		return v.abs.Format(time.RFC3339)
	}
	return ""
}

func (v *timeValue) Set(s string) error {
	*v = timeValue{clearable: v.clearable}
	if s == "never" && v.clearable {
		v.never = true
		return nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		v.abs = t
		return nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		v.abs = t
		return nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			v.rel = time.Duration(n) * 24 * time.Hour
			return nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		v.rel = d
		return nil
	}
	msg := "not a time: give RFC 3339 (2030-01-31T12:00:00Z), a date (2030-01-31) or a duration from now (90m, 720h, 30d)"
	if v.clearable {
		msg += ", or never"
	}
	return errors.New(msg)
}

// at returns the time given, relative ones from now; nil for never.
func (v *timeValue) at(now time.Time) *time.Time {
	switch {
	case v.never:
		return nil
	case v.rel != 0:
		t := now.Add(v.rel).UTC().Truncate(time.Second)
		return &t
	}
	t := v.abs
	return &t
}

// rateLimitValue is LIMIT/PERIOD, such as 100/1m; with clearable, none.
type rateLimitValue struct {
	r         *client.RateLimit
	clear     bool
	clearable bool
}

func (v *rateLimitValue) Type() string { return "LIMIT/PERIOD" }

func (v *rateLimitValue) String() string {
	switch {
	case v.clear:
		return none
	case v.r != nil:
		return fmt.Sprintf("%d/%s", v.r.Limit, time.Duration(v.r.PeriodSeconds)*time.Second)
	}
	return ""
}

func (v *rateLimitValue) Set(s string) error {
	v.r, v.clear = nil, false
	if s == none && v.clearable {
		v.clear = true
		return nil
	}
	limit, period, ok := strings.Cut(s, "/")
	n, err := strconv.ParseInt(limit, 10, 64)
	if !ok || err != nil {
		return errors.New("not LIMIT/PERIOD, such as 100/1m (100 uses a minute)")
	}
	d, err := time.ParseDuration(period)
	if err != nil || d%time.Second != 0 {
		return errors.New("the period must be whole seconds, such as 1s, 1m or 24h")
	}
	v.r = &client.RateLimit{Limit: n, PeriodSeconds: int64(d / time.Second)}
	return nil
}

// creditsValue is how many credits remain; with clearable, none.
type creditsValue struct {
	n         *int64
	clear     bool
	clearable bool
}

func (v *creditsValue) Type() string { return "N" }

func (v *creditsValue) String() string {
	switch {
	case v.clear:
		return none
	case v.n != nil:
		return strconv.FormatInt(*v.n, 10)
	}
	return ""
}

func (v *creditsValue) Set(s string) error {
	v.n, v.clear = nil, false
	if s == none && v.clearable {
		v.clear = true
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not a whole number")
	}
	v.n = &n
	return nil
}

// refillValue is AMOUNT/DAILY or AMOUNT/MONTHLY.
type refillValue struct{ r *client.Refill }

func (v *refillValue) Type() string { return "AMOUNT/INTERVAL" }

func (v *refillValue) String() string {
	if v.r == nil {
		return ""
	}
	return fmt.Sprintf("%d/%s", v.r.Amount, v.r.Interval)
}

func (v *refillValue) Set(s string) error {
	amount, interval, ok := strings.Cut(s, "/")
	n, err := strconv.ParseInt(amount, 10, 64)
	interval = strings.ToUpper(interval)
	if !ok || err != nil || (interval != "DAILY" && interval != "MONTHLY") {
		return errors.New("not AMOUNT/DAILY or AMOUNT/MONTHLY, such as 1000/MONTHLY")
	}
	v.r = &client.Refill{Amount: n, Interval: interval}
	return nil
}

// metaValue is a JSON object; with clearable, none.
type metaValue struct {
	raw       json.RawMessage
	clear     bool
	clearable bool
}

func (v *metaValue) Type() string { return "JSON" }

func (v *metaValue) String() string {
	if v.clear {
		return none
	}
	return string(v.raw)
}

func (v *metaValue) Set(s string) error {
	v.raw, v.clear = nil, false
	if s == none && v.clearable {
		v.clear = true
		return nil
	}
	if !json.Valid([]byte(s)) {
		return errors.New(`not JSON: give an object such as {"plan":"gold"}`)
	}
	v.raw = json.RawMessage(s)
	return nil
}

// policyFlags are the flags of a key's policy, for API keys and access keys alike.
type policyFlags struct {
	fs          *pflag.FlagSet
	ipAllowlist *[]string
	rateLimit   *rateLimitValue
	credits     *creditsValue
	refill      *refillValue
	meta        *metaValue
}

// addPolicyFlags adds the policy's flags; for an update, each can also clear what it names.
func addPolicyFlags(fs *pflag.FlagSet, update bool) *policyFlags {
	f := &policyFlags{fs: fs, rateLimit: &rateLimitValue{clearable: update}, credits: &creditsValue{clearable: update},
		refill: &refillValue{}, meta: &metaValue{clearable: update}}
	clear := func(what string) string {
		if update {
			return what + "; none removes it"
		}
		return what
	}
	allow := "addresses and CIDR ranges the key is good from, comma-separated (repeatable)"
	if update {
		allow = "replaces the addresses and CIDR ranges the key is good from, comma-separated; an empty value clears them"
	}
	f.ipAllowlist = fs.StringSlice("ip-allowlist", nil, allow)
	fs.Var(f.rateLimit, "rate-limit", clear("uses allowed per period, such as 100/1m"))
	fs.Var(f.credits, "credits", clear("credits the key's verifications may take"))
	fs.Var(f.refill, "refill", "with --credits: resets the credits to AMOUNT at the start of each UTC day or month, such as 1000/MONTHLY")
	fs.Var(f.meta, "meta", clear(`JSON object returned to services by verify, such as {"plan":"gold"}`))
	return f
}

// policy returns the policy a new key is given.
func (f *policyFlags) policy() (client.Policy, error) {
	p := client.Policy{IPAllowlist: *f.ipAllowlist, RateLimit: f.rateLimit.r, Meta: f.meta.raw}
	if f.refill.r != nil && f.credits.n == nil {
		return p, errors.New("--refill needs --credits")
	}
	if f.credits.n != nil {
		p.Credits = &client.Credits{Remaining: *f.credits.n, Refill: f.refill.r}
	}
	return p, nil
}

// patch adds the policy changes the flags given ask for to a merge patch.
func (f *policyFlags) patch(p client.Patch) error {
	if f.fs.Changed("ip-allowlist") {
		if len(*f.ipAllowlist) == 0 {
			p["ipAllowlist"] = nil
		} else {
			p["ipAllowlist"] = *f.ipAllowlist
		}
	}
	if f.fs.Changed("rate-limit") {
		p["rateLimit"] = nilIf(f.rateLimit.clear, f.rateLimit.r)
	}
	if f.fs.Changed("refill") && (!f.fs.Changed("credits") || f.credits.clear) {
		return errors.New("--refill needs --credits: the credits are set whole, their refill with them")
	}
	if f.fs.Changed("credits") {
		var c *client.Credits
		if !f.credits.clear {
			c = &client.Credits{Remaining: *f.credits.n, Refill: f.refill.r}
		}
		p["credits"] = nilIf(f.credits.clear, c)
	}
	if f.fs.Changed("meta") {
		p["meta"] = nilIf(f.meta.clear, f.meta.raw)
	}
	return nil
}

// nilIf is nil (JSON null) when clear, else v.
func nilIf[T any](clear bool, v T) any {
	if clear {
		return nil
	}
	return v
}

// permissionsFlag adds a flag taking permissions, comma-separated or repeated, completed
// from keyhaven's vocabulary.
func permissionsFlag(cmd *cobra.Command, name, usage string) *[]string {
	p := cmd.Flags().StringSlice(name, nil, usage)
	words := make([]string, len(keyhaven.Permissions))
	for i, perm := range keyhaven.Permissions {
		words[i] = string(perm)
	}
	cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
	return p
}

// graceFlag adds --grace-period, how long a rotated key's old secret keeps working.
func graceFlag(fs *pflag.FlagSet) *time.Duration {
	return fs.Duration("grace-period", 0, "how long the old secret keeps working, up to 168h; 0: not at all")
}

// rotation is the body of a rotation with that grace period.
func rotation(grace time.Duration) (client.Rotation, error) {
	if grace < 0 || grace%time.Second != 0 {
		return client.Rotation{}, errors.New("--grace-period must be whole seconds, 0 or more, such as 1h")
	}
	return client.Rotation{GracePeriodSeconds: int64(grace / time.Second)}, nil
}

// needOne checks a command was given exactly one argument, named what.
func needOne(cmd *cobra.Command, args []string, what string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s needs exactly one %s", cmd.CommandPath()[len("keyhaven "):], what)
	}
	return nil
}
