package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeyLen is the length of a sealing key: AES-256.
const KeyLen = 32

// Sealer encrypts values kept at rest for a while, such as batch passwords until their
// retention window ends, with AES-256-GCM. The additional data binds a sealed value to its
// record, so that it cannot be moved to another one.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeyLen {
		return nil, fmt.Errorf("the secret key must be %d bytes, not %d", KeyLen, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// ParseKey decodes a base64 sealing key.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) != KeyLen {
		return nil, fmt.Errorf("the secret key must be %d bytes in base64 (openssl rand -base64 32)", KeyLen)
	}
	return key, nil
}

// NewKey returns a new random sealing key in base64.
func NewKey() string {
	key := make([]byte, KeyLen)
	rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}

// Seal encrypts plaintext bound to ad and returns it in base64.
func (s *Sealer) Seal(plaintext, ad []byte) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, ad))
}

// ErrUnseal is returned for a sealed value that is corrupt, bound to other data, or sealed
// with another key.
var ErrUnseal = errors.New("sealed value cannot be opened")

// Open decrypts a value returned by Seal with the same ad.
func (s *Sealer) Open(sealed string, ad []byte) ([]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, ErrUnseal
	}
	out, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], ad)
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}
