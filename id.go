package keyhaven

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// idAlphabet is the lower-case Crockford base32 alphabet of ids and generated usernames.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

var idEncoding = base32.NewEncoding(idAlphabet).WithPadding(base32.NoPadding)

var lastID struct {
	sync.Mutex
	b [15]byte
}

// NewID returns a new identifier with a type prefix, such as usr_06bq5xk2hz1f8m3v9c4r7t0w.
// The first 48 bits are the time in milliseconds and the remaining 72 bits random, so ids
// sort by creation, which keeps cursor pagination stable. Within one millisecond a process
// increments the random part, so its ids are strictly increasing.
func NewID(prefix string) string {
	var b [15]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	lastID.Lock()
	if string(b[:6]) <= string(lastID.b[:6]) {
		b = lastID.b
		for i := len(b) - 1; i >= 6; i-- {
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	} else {
		rand.Read(b[6:])
	}
	lastID.b = b
	lastID.Unlock()
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// randomBase32 returns n characters of idAlphabet drawn uniformly with a CSPRNG: 5 bits each,
// owing nothing to the clock or to any id.
func randomBase32(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	for i, c := range b {
		b[i] = idAlphabet[c&31] // 256 is a multiple of 32: every character is as likely
	}
	return string(b)
}

// validFilter refuses a filter value that is not UTF-8 text without control characters: no
// stored value is anything else, and PostgreSQL refuses even to compare a NUL or a byte that
// is not UTF-8.
func validFilter(field, v string) error {
	if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
		return Invalid(FieldError{Field: field, Message: "must be text without control characters"})
	}
	return nil
}

// validFilters checks filter values by field name.
func validFilters(fields map[string]string) error {
	for field, v := range fields {
		if err := validFilter(field, v); err != nil {
			return err
		}
	}
	return nil
}

// ValidID reports whether s could be an id of the given prefix; anything else is never looked up.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 24 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !strings.ContainsRune(idAlphabet, rune(rest[i])) {
			return false
		}
	}
	return true
}
