package secret

import (
	"strings"
	"testing"
)

func TestGenerateParse(t *testing.T) {
	for _, k := range []Kind{APIKey, AccessKey, Session} {
		s := Generate(k)
		if len(s) != Len {
			t.Fatalf("len(%q) = %d, want %d", s, len(s), Len)
		}
		got, err := Parse(s)
		if err != nil || got != k {
			t.Fatalf("Parse(%q) = %v, %v; want %v", s, got, err, k)
		}
		if found := FindAll("leaked: " + s + " in a log"); len(found) != 1 || found[0] != s {
			t.Fatalf("FindAll found %q, want [%q]", found, s)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good := Generate(APIKey)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":        "",
		"truncated":    good[:Len-1],
		"extended":     good + "a",
		"wrong prefix": "khx_" + good[4:],
		"typo in body": flip(good, 10),
		"typo in sum":  flip(good, Len-1),
		"non-alnum":    good[:10] + "-" + good[11:],
		"non-ascii":    good[:10] + "é" + good[12:],
		"upper prefix": strings.ToUpper(good[:4]) + good[4:],
		"spaces":       " " + good[1:],
	}
	for name, s := range cases {
		if _, err := Parse(s); err == nil {
			t.Errorf("%s: Parse(%q) succeeded, want ErrMalformed", name, s)
		}
	}
}

func TestGenerateUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		s := Generate(Session)
		if seen[s] {
			t.Fatalf("duplicate secret %q", s)
		}
		seen[s] = true
	}
}

func TestPassword(t *testing.T) {
	p := Argon2Params{Memory: 1024, Time: 1, Threads: 1}
	h := HashPassword("correct horse", p)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q does not name its scheme and parameters", h)
	}
	if !CheckPassword("correct horse", h) {
		t.Fatal("CheckPassword(right password) = false")
	}
	if CheckPassword("correct horsE", h) {
		t.Fatal("CheckPassword(wrong password) = true")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$v=19$m=1,t=1,p=1$aa$bb", h + "$x", strings.Replace(h, "m=1024", "m=0", 1)} {
		if CheckPassword("correct horse", bad) {
			t.Errorf("CheckPassword against malformed hash %q = true", bad)
		}
	}
}

func TestSealer(t *testing.T) {
	key, err := ParseKey(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewSealer(key)
	sealed := s.Seal([]byte("p4ssw0rd"), []byte("acc_1"))
	if strings.Contains(sealed, "p4ssw0rd") {
		t.Fatal("sealed value shows the plaintext")
	}
	if got, err := s.Open(sealed, []byte("acc_1")); err != nil || string(got) != "p4ssw0rd" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, []byte("acc_2")); err == nil {
		t.Fatal("a value opened for another record")
	}
	other, _ := NewSealer(make([]byte, KeyLen))
	if _, err := other.Open(sealed, []byte("acc_1")); err == nil {
		t.Fatal("a value opened with another key")
	}
	if _, err := ParseKey("c2hvcnQ="); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestCheckStored(t *testing.T) {
	g := RandomString(24)
	if !CheckStored(g, HashGenerated(g)) || CheckStored(g+"x", HashGenerated(g)) {
		t.Fatal("generated password scheme")
	}
	h := HashPassword("user chosen pw", Argon2Params{Memory: 1024, Time: 1, Threads: 1})
	if !CheckStored("user chosen pw", h) || CheckStored("other", h) {
		t.Fatal("argon2id scheme")
	}
}
