// Package secret defines keyhaven's secret format: generation, checksum, parsing and hashing.
//
// A secret is a kind prefix, 32 base62 characters from a CSPRNG (190 bits) and a 6 character
// base62 CRC-32 checksum of everything before it:
//
//	khk_3xQ0...(32)...Zk9 + aB3dE1
//
// The checksum lets a mistyped or truncated secret be rejected without a database read, and
// together with the fixed prefixes lets scanners find leaked secrets with Pattern. Secrets are
// high-entropy, so a single SHA-256 is the right stored hash: a slow hash would add nothing
// but latency on every verification.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"regexp"
	"strings"
)

// Kind is the kind of credential a secret belongs to.
type Kind uint8

const (
	Invalid   Kind = iota
	APIKey         // khk_: API keys managed over GraphQL
	AccessKey      // kha_: application access keys
	Session        // khs_: user sessions
)

var prefixes = [...]string{APIKey: "khk_", AccessKey: "kha_", Session: "khs_"}

// String returns the kind's name as used in verify responses and audit records.
func (k Kind) String() string {
	switch k {
	case APIKey:
		return "api_key"
	case AccessKey:
		return "access_key"
	case Session:
		return "session"
	}
	return "invalid"
}

const (
	prefixLen   = 4
	bodyLen     = 32
	checksumLen = 6
	// Len is the length of every secret.
	Len = prefixLen + bodyLen + checksumLen
	// DisplayLen is the length of the non-secret display form: the prefix and the first
	// characters of the random part (4 + 6 characters, 36 bits: enough to tell keys apart,
	// far too few to guess the rest).
	DisplayLen = prefixLen + 6
)

// Pattern matches keyhaven secrets in text, for leak scanners.
const Pattern = `\bkh[kas]_[0-9A-Za-z]{38}\b`

var patternRE = regexp.MustCompile(Pattern)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrMalformed is returned by Parse for anything that is not a well-formed secret.
var ErrMalformed = errors.New("malformed secret")

// Generate returns a new secret of kind k.
func Generate(k Kind) string {
	b := make([]byte, Len)
	copy(b, prefixes[k])
	fillRandom(b[prefixLen : prefixLen+bodyLen])
	putChecksum(b[prefixLen+bodyLen:], b[:prefixLen+bodyLen])
	return string(b)
}

// RandomString returns n characters drawn uniformly from the base62 alphabet with a CSPRNG.
// Each character carries log2(62) = 5.95 bits.
func RandomString(n int) string {
	b := make([]byte, n)
	fillRandom(b)
	return string(b)
}

// fillRandom fills dst with uniform base62 characters, rejecting bytes >= 248 (4*62) so that
// no character is more likely than another.
func fillRandom(dst []byte) {
	var buf [64]byte
	i := 0
	for i < len(dst) {
		rand.Read(buf[:]) // never returns an error (crypto/rand, Go 1.24+)
		for _, c := range buf {
			if c >= 248 {
				continue
			}
			dst[i] = alphabet[c%62]
			i++
			if i == len(dst) {
				return
			}
		}
	}
}

func putChecksum(dst, data []byte) {
	sum := crc32.ChecksumIEEE(data)
	for i := checksumLen - 1; i >= 0; i-- {
		dst[i] = alphabet[sum%62]
		sum /= 62
	}
}

var isAlnum = func() (t [256]bool) {
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = true
	}
	return t
}()

// Parse checks the format and checksum of s and returns its kind. It reads no database and
// allocates nothing.
func Parse(s string) (Kind, error) {
	if len(s) != Len {
		return Invalid, ErrMalformed
	}
	var k Kind
	for kind := APIKey; kind <= Session; kind++ {
		if s[:prefixLen] == prefixes[kind] {
			k = kind
			break
		}
	}
	if k == Invalid {
		return Invalid, ErrMalformed
	}
	for i := prefixLen; i < Len; i++ {
		if !isAlnum[s[i]] {
			return Invalid, ErrMalformed
		}
	}
	var want [checksumLen]byte
	putChecksum(want[:], []byte(s[:prefixLen+bodyLen]))
	if string(want[:]) != s[prefixLen+bodyLen:] {
		return Invalid, ErrMalformed
	}
	return k, nil
}

// Hash returns the stored form of a secret: hex SHA-256.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Display returns the non-secret display form of a well-formed secret.
func Display(s string) string {
	if len(s) < DisplayLen {
		return ""
	}
	return s[:DisplayLen]
}

// FindAll returns every secret-shaped string in text whose checksum holds.
func FindAll(text string) []string {
	var out []string
	for _, m := range patternRE.FindAllString(text, -1) {
		if _, err := Parse(m); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// FromAuthorization returns the secret of an "Authorization: Bearer <secret>" header value.
func FromAuthorization(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
