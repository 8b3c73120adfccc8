package keyhaven

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// User is a person or service account of a tenant. Every credential acts for a user, its
// owner. A deleted user keeps its row (for the audit trail) but nothing it owns works.
type User struct {
	ID           string
	TenantID     string
	Email        string
	PasswordHash string
	Permissions  PermissionSet
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DeletedAt    time.Time // zero while the user exists
}

// Deleted reports whether the user has been deleted.
func (u *User) Deleted() bool { return !u.DeletedAt.IsZero() }

// Password rules: long enough to resist guessing without other factors, short enough that
// hashing cannot be used to burn CPU.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// NormalizeEmail validates an email address and returns its canonical, lower-case form.
func NormalizeEmail(field, email string) (string, error) {
	invalid := func(msg string) error { return Invalid(FieldError{Field: field, Message: msg}) }
	if email == "" {
		return "", invalid("is required")
	}
	if len(email) > 254 {
		return "", invalid("must be at most 254 characters")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || !strings.Contains(email, "@") {
		return "", invalid("must be a plain email address such as name@example.com")
	}
	for _, r := range email {
		if r < 0x21 || r == 0x7f {
			return "", invalid("must not contain spaces or control characters")
		}
	}
	return strings.ToLower(email), nil
}

// ValidatePassword checks a password chosen by a caller.
func ValidatePassword(field, password string) error {
	switch n := utf8.RuneCountInString(password); {
	case !utf8.ValidString(password):
		return Invalid(FieldError{Field: field, Message: "must be valid UTF-8"})
	case n < MinPasswordLen:
		return Invalid(FieldError{Field: field, Message: "must be at least 12 characters"})
	case len(password) > MaxPasswordLen:
		return Invalid(FieldError{Field: field, Message: "must be at most 256 bytes"})
	case strings.ContainsFunc(password, unicode.IsControl):
		return Invalid(FieldError{Field: field, Message: "must not contain control characters"})
	}
	return nil
}
