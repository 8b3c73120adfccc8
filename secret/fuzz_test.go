package secret

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse parses fuzzed strings as secrets, alone, in text and in an Authorization header:
// only a well-formed secret with a right checksum is accepted, a scanner finds exactly the
// accepted ones, and a header yields its bearer token unchanged.
func FuzzParse(f *testing.F) {
	for _, k := range []Kind{APIKey, AccessKey, Session} {
		f.Add(Generate(k))
		f.Add("Bearer " + Generate(k))
	}
	f.Add("khk_")
	f.Add("bearer  khs_ab ")
	f.Add("Basic dXNlcjpwdw==")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err == nil {
			if k == Invalid || len(s) != Len || !strings.HasPrefix(s, prefixes[k]) {
				t.Fatalf("Parse(%q) = %v: accepted a malformed secret", s, k)
			}
			if found := FindAll("leaked: " + s + "."); len(found) != 1 || found[0] != s {
				t.Fatalf("FindAll missed the secret %q: %q", s, found)
			}
			if d := Display(s); !strings.HasPrefix(s, d) || len(d) != DisplayLen {
				t.Fatalf("Display(%q) = %q", s, d)
			}
		}
		for _, m := range FindAll(s) {
			if _, err := Parse(m); err != nil || !strings.Contains(s, m) {
				t.Fatalf("FindAll(%q) found %q, which is not a secret of the text", s, m)
			}
		}
		if token, ok := FromAuthorization(s); ok {
			scheme, _, _ := strings.Cut(s, " ")
			if token == "" || !strings.EqualFold(scheme, "bearer") || !strings.Contains(s, token) || strings.TrimSpace(token) != token {
				t.Fatalf("FromAuthorization(%q) = %q", s, token)
			}
		}
	})
}

// FuzzCheckStored checks passwords against fuzzed stored hashes: a hash that does not parse
// never matches, and the parameters of one that does make hashes that match their password
// and only it.
func FuzzCheckStored(f *testing.F) {
	fast := Argon2Params{Memory: 8, Time: 1, Threads: 1}
	f.Add("correct horse", HashPassword("correct horse", fast))
	f.Add("correct horse", HashGenerated("correct horse"))
	f.Add("x", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$a2V5")
	f.Add("x", "$argon2id$v=19$m=8,t=1,p=1garbage$$a2V5")
	f.Add("x", "$argon2i$v=19$m=8,t=1,p=1$c2FsdA$a2V5")
	f.Add("", "$sha256$")
	f.Fuzz(func(t *testing.T, password, hash string) {
		p, _, key, ok := parseArgon2(hash)
		// Parameters past what a fuzzing run can afford are only parsed.
		if ok && (p.Memory > 1<<12 || p.Time > 2 || p.Threads > 4 || len(key) > 1<<10) {
			return
		}
		matched := CheckStored(password, hash)
		if !strings.HasPrefix(hash, "$sha256$") && !ok && matched {
			t.Fatalf("CheckStored(%q, %q): a malformed hash matched", password, hash)
		}
		if !ok {
			return
		}
		h := HashPassword(password, p)
		q, _, _, ok := parseArgon2(h)
		if !ok || q != p || !CheckStored(password, h) || CheckStored(password+"x", h) {
			t.Fatalf("a hash %q with the parameters of %q does not round trip", h, hash)
		}
	})
}

// FuzzOpen opens fuzzed sealed values and keys: a value not sealed with the key and the same
// additional data never opens, and a sealed one always does.
func FuzzOpen(f *testing.F) {
	key, _ := ParseKey(NewKey())
	s, _ := NewSealer(key)
	other, _ := NewSealer(make([]byte, KeyLen))
	f.Add(other.Seal([]byte("a password"), []byte("acc_1")), "acc_1", []byte("a password"))
	f.Add("", "", []byte{})
	f.Add("AAAA", "x", []byte{0})
	f.Fuzz(func(t *testing.T, sealed, ad string, plain []byte) {
		if got, err := s.Open(sealed, []byte(ad)); err == nil {
			t.Fatalf("Open(%q, %q) = %q: a value this test never sealed opened", sealed, ad, got)
		}
		if k, err := ParseKey(sealed); err == nil && len(k) != KeyLen {
			t.Fatalf("ParseKey(%q) = %d bytes", sealed, len(k))
		}
		v := s.Seal(plain, []byte(ad))
		if got, err := s.Open(v, []byte(ad)); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open(Seal(%q)) = %q, %v", plain, got, err)
		}
		if _, err := s.Open(v, []byte(ad+"x")); err == nil {
			t.Fatal("a value opened with other additional data")
		}
	})
}
