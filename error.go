package keyhaven

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the one error vocabulary of keyhaven: every transport maps them once
// (REST to a status and problem code, GraphQL to extensions.code, the console to an error page).
// The doc comment of each Service method says which codes it returns, and when; any method
// that reaches the database may also return EUNAVAILABLE or EINTERNAL when the database fails.
const (
	EINVALID      = "invalid"      // the input is malformed or breaks a rule
	EUNAUTHORIZED = "unauthorized" // no valid credential
	EFORBIDDEN    = "forbidden"    // a valid credential that may not do this
	ENOTFOUND     = "not_found"    // no such thing, or it belongs to another tenant
	ECONFLICT     = "conflict"     // duplicate name, limit reached, state forbids it
	ERATELIMITED  = "rate_limited" // too many attempts
	EUNAVAILABLE  = "unavailable"  // keyhaven cannot serve this now (overloaded, database unreachable); retry
	EINTERNAL     = "internal"     // a fault of keyhaven, never the caller's
)

// RetryAfterUnavailable is how many seconds a client told EUNAVAILABLE waits before it tries
// again, in every transport's Retry-After.
const RetryAfterUnavailable = "5"

// Error is a domain error. Code and Message are public: they may be shown to the caller.
// Reason is a stable, more specific machine-readable code (for example "email_taken").
// Err is internal detail, kept for logs and never shown.
type Error struct {
	Code    string
	Reason  string
	Message string
	Fields  []FieldError
	Err     error
	// RetryAfter, when set, is how long the caller waits before trying again (ERATELIMITED).
	RetryAfter time.Duration
}

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted public message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Reasonf returns an *Error with code, a specific reason and a formatted public message.
func Reasonf(code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error naming the fields at fault.
func Invalid(fields ...FieldError) *Error {
	msg := "invalid input"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Code: EINVALID, Reason: "invalid_input", Message: msg, Fields: fields}
}

// Internal wraps an unexpected failure. Its message is generic; err is kept for logs.
func Internal(err error) *Error {
	return &Error{Code: EINTERNAL, Message: "internal error", Err: err}
}

// ErrorCode returns the code of err, EINTERNAL when err is not an *Error, "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorReason returns the most specific machine-readable code of err.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Reason != "" {
			return e.Reason
		}
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the public message of err; internal errors get a generic one.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the field errors carried by err.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// ErrorRetryAfter returns how long the caller of err waits before trying again, or 0 when
// err does not say.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
