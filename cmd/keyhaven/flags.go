package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Flag values (pflag.Value) that refuse what they cannot mean, when they are set: a bad value
// on the command line or in the environment fails the command, naming the flag, before it does
// anything. Type names the kind of value in the help.

// intValue is a whole number within [min, max].
type intValue struct {
	p        *int
	min, max int
}

func intFlag(fs *pflag.FlagSet, name string, def, min, max int, usage string) *int {
	p := new(int)
	*p = def
	fs.Var(&intValue{p, min, max}, name, usage)
	return p
}

func (v *intValue) Type() string { return "int" }

func (v *intValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, strconv.IntSize)
	switch {
	case err != nil:
		return errors.New("not a whole number")
	case int(n) < v.min:
		return fmt.Errorf("must be at least %d", v.min)
	case int(n) > v.max:
		return fmt.Errorf("must be at most %d", v.max)
	}
	*v.p = int(n)
	return nil
}

// optionalIntValue is a whole number or, when the flag is not given, nothing: the command
// then leaves what it sets unchanged. The range is for the domain to judge.
type optionalIntValue struct{ p **int }

func optionalIntFlag(fs *pflag.FlagSet, name, usage string) **int {
	p := new(*int)
	fs.Var(&optionalIntValue{p}, name, usage)
	return p
}

func (v *optionalIntValue) Type() string { return "int" }

func (v *optionalIntValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return strconv.Itoa(**v.p)
}

func (v *optionalIntValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, strconv.IntSize)
	if err != nil {
		return errors.New("not a whole number")
	}
	i := int(n)
	*v.p = &i
	return nil
}

// durationValue is a positive duration.
type durationValue struct{ p *time.Duration }

func durationFlag(fs *pflag.FlagSet, name string, def time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = def
	fs.Var(&durationValue{p}, name, usage)
	return p
}

func (v *durationValue) Type() string { return "duration" }

func (v *durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("not a duration (such as 90s, 15m or 12h)")
	case d <= 0:
		return errors.New("must be positive")
	}
	*v.p = d
	return nil
}

// choiceValue is one of a few words.
type choiceValue struct {
	p       *string
	choices []string
}

func choiceFlag(fs *pflag.FlagSet, name string, choices []string, usage string) *string {
	p := new(string)
	*p = choices[0]
	fs.Var(&choiceValue{p, choices}, name, usage)
	return p
}

func outputFlag(fs *pflag.FlagSet) *string {
	return choiceFlag(fs, "output", []string{"text", "json"}, "output format: text or json")
}

func (v *choiceValue) Type() string { return strings.Join(v.choices, "|") }

func (v *choiceValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *choiceValue) Set(s string) error {
	if !slices.Contains(v.choices, s) {
		return fmt.Errorf("must be %s or %s", strings.Join(v.choices[:len(v.choices)-1], ", "), v.choices[len(v.choices)-1])
	}
	*v.p = s
	return nil
}

// addrValue is a host:port to listen on; empty only when optional.
type addrValue struct {
	p        *string
	optional bool
}

func addrFlag(fs *pflag.FlagSet, name, def string, optional bool, usage string) *string {
	p := new(string)
	*p = def
	fs.Var(&addrValue{p, optional}, name, usage)
	return p
}

func (v *addrValue) Type() string { return "host:port" }

func (v *addrValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *addrValue) Set(s string) error {
	if s == "" && v.optional {
		*v.p = s
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("not a HOST:PORT address (such as 127.0.0.1:8080 or :8080)")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port == "" || n > 65535 {
		return errors.New("the port must be a number from 0 to 65535")
	}
	*v.p = s
	return nil
}

// validator is a flag value judged once the flags are parsed rather than when set, so that the
// flag parser does not repeat a value that may hold a password in its error.
type validator interface{ validate() error }

// dbValue names a database: sqlite:PATH or a postgres:// URL.
type dbValue struct{ p *string }

func (v *dbValue) Type() string { return "dsn" }

func (v *dbValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *dbValue) Set(s string) error {
	*v.p = s
	return nil
}

func (v *dbValue) validate() error {
	s := *v.p
	if path, ok := strings.CutPrefix(s, "sqlite:"); ok {
		if path == "" {
			return errors.New("sqlite: needs a file path, such as sqlite:keyhaven.db")
		}
		return nil
	}
	if !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://") {
		return errors.New("must be sqlite:PATH or postgres://USER:PASSWORD@HOST/DB")
	}
	if _, err := url.Parse(s); err != nil {
		return errors.New("is not a valid postgres:// URL")
	}
	return nil
}
