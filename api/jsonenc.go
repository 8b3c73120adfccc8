package api

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendVerdict encodes v as encoding/json would, without reflection: the verify hot
// path answers every call with one.
func appendVerdict(b []byte, v *Verdict) []byte {
	b = append(b, `{"valid":`...)
	if v.Valid {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	b = append(b, `,"code":`...)
	b = appendJSONString(b, v.Code)
	for _, f := range [...]struct{ name, value string }{
		{"tenant", v.Tenant}, {"kind", v.Kind}, {"id", v.ID}, {"name", v.Name}, {"owner", v.Owner},
	} {
		if f.value != "" {
			b = append(b, ',', '"')
			b = append(b, f.name...)
			b = append(b, '"', ':')
			b = appendJSONString(b, f.value)
		}
	}
	b = append(b, `,"permissions":[`...)
	for i, p := range v.Permissions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(p))
	}
	b = append(b, ']')
	if v.ExpiresAt != nil {
		b = append(b, `,"expiresAt":"`...)
		b = v.ExpiresAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if v.Meta != nil {
		b = append(b, `,"meta":`...)
		b = append(b, v.Meta...) // compact JSON, as stored
	}
	if rl := v.RateLimit; rl != nil {
		b = append(b, `,"rateLimit":{"limit":`...)
		b = strconv.AppendInt(b, rl.Limit, 10)
		b = append(b, `,"remaining":`...)
		b = strconv.AppendInt(b, rl.Remaining, 10)
		b = append(b, `,"resetAt":"`...)
		b = rl.ResetAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"', '}')
	}
	if v.Credits != nil {
		b = append(b, `,"credits":{"remaining":`...)
		b = strconv.AppendInt(b, v.Credits.Remaining, 10)
		b = append(b, '}')
	}
	return append(b, '}', '\n')
}

const hexDigits = "0123456789abcdef"

// plain marks the bytes that appear in a JSON string as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string, escaped as encoding/json escapes it (HTML
// characters included; invalid UTF-8 becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	// Fast path: ids, names and permission names rarely need escaping.
	safe := 0
	for safe < len(s) && plain[s[safe]] {
		safe++
	}
	b = append(b, s[:safe]...)
	for i := safe; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&':
				b = append(b, c)
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
