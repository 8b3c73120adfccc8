package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// OWASP is the OWASP Password Storage Cheat Sheet's first argon2id configuration:
// 19 MiB of memory, 2 iterations, 1 degree of parallelism.
var OWASP = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// HashPassword returns password hashed with argon2id in the PHC string format, which names
// the scheme and parameters so that they can change without breaking stored hashes.
func HashPassword(password string, p Argon2Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword reports whether password matches a hash written by HashPassword. A malformed
// hash never matches.
func CheckPassword(password, hash string) bool {
	p, salt, want, ok := parseArgon2(hash)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// parseArgon2 reads a hash written by HashPassword: its parameters, salt and key. ok is false
// for anything else, and for parameters argon2id cannot run with or beyond its bounds.
func parseArgon2(hash string) (p Argon2Params, salt, key []byte, ok bool) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, false
	}
	if p.Memory == 0 || p.Memory > 1<<22 || p.Time == 0 || p.Time > 64 || p.Threads == 0 {
		return p, nil, nil, false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, false
	}
	key, err = b64.DecodeString(parts[5])
	if err != nil || len(key) == 0 {
		return p, nil, nil, false
	}
	return p, salt, key, true
}

// HashGenerated returns the stored form of a generated password: "$sha256$" and its hex
// SHA-256. A generated password carries at least 128 random bits, so no guessing attack can
// reach it and a slow hash would only cost time on every creation and verification; the
// prefix names the scheme so that CheckStored tells it from argon2id.
func HashGenerated(password string) string { return "$sha256$" + Hash(password) }

// CheckStored reports whether password matches a stored hash of either scheme.
func CheckStored(password, hash string) bool {
	if rest, ok := strings.CutPrefix(hash, "$sha256$"); ok {
		return subtle.ConstantTimeCompare([]byte(Hash(password)), []byte(rest)) == 1
	}
	return CheckPassword(password, hash)
}
