package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/httpx"
)

// Problem is an RFC 9457 problem document with keyhaven's stable machine-readable code and,
// for invalid input, the fields at fault.
type Problem struct {
	Type      string                `json:"type,omitempty" doc:"A URI naming the problem type"`
	Title     string                `json:"title" doc:"Short summary of the status"`
	Status    int                   `json:"status" doc:"HTTP status code"`
	Code      string                `json:"code" doc:"Stable machine-readable error code"`
	Detail    string                `json:"detail,omitempty" doc:"Explanation for people"`
	Errors    []keyhaven.FieldError `json:"errors,omitempty" doc:"The invalid fields"`
	RequestID string                `json:"requestId,omitempty" doc:"The request's id, for support"`
	headers   http.Header
}

func (p *Problem) Error() string             { return p.Detail }
func (p *Problem) GetStatus() int            { return p.Status }
func (p *Problem) ContentType(string) string { return "application/problem+json" }
func (p *Problem) GetHeaders() http.Header   { return p.headers }

// codeOf is the problem code of a transport-level failure with no domain error behind it.
func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "invalid_input"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusNotAcceptable:
		return "not_acceptable"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "internal"
}

// newProblem builds the problem for a status, message and the errors behind it. It replaces
// huma.NewError, so that errors raised by the framework (validation, body size, content type)
// and errors returned by handlers take one shape. Values of invalid fields are never echoed:
// they may be passwords.
func newProblem(status int, msg string, errs ...error) *Problem {
	for _, err := range errs {
		var p *Problem
		if errors.As(err, &p) {
			return p // made already, by an input's own decoding
		}
		var de *keyhaven.Error
		if errors.As(err, &de) {
			return domainProblem(err)
		}
	}
	if status == http.StatusUnprocessableEntity {
		// Input that parses but breaks the schema is invalid input, like any other.
		status = http.StatusBadRequest
	}
	p := &Problem{Status: status, Title: http.StatusText(status), Code: codeOf(status), Detail: msg, headers: httpx.Headers(status, nil)}
	if status >= 500 && status != http.StatusServiceUnavailable {
		p.Detail = "internal error"
		return p
	}
	for _, err := range errs {
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			detail := d.ErrorDetail()
			p.Errors = append(p.Errors, keyhaven.FieldError{Field: fieldName(detail.Location), Message: cleanMessage(detail.Message)})
		}
	}
	if len(p.Errors) > 0 && (msg == "validation failed" || msg == "") {
		p.Detail = "invalid input: " + p.Errors[0].Field + ": " + p.Errors[0].Message
	}
	return p
}

func domainProblem(err error) *Problem {
	status := httpx.Status(err)
	p := &Problem{
		Status:  status,
		Title:   http.StatusText(status),
		Code:    keyhaven.ErrorReason(err),
		Detail:  keyhaven.ErrorMessage(err),
		Errors:  keyhaven.ErrorFields(err),
		headers: httpx.Headers(status, err),
	}
	return p
}

// fieldName turns a framework location such as "body.permissions[2]" or "query.limit" into
// the field name the caller sent.
func fieldName(location string) string {
	for _, prefix := range []string{"body.", "query.", "path.", "header."} {
		if rest, ok := strings.CutPrefix(location, prefix); ok {
			return rest
		}
	}
	return location
}

// cleanMessage keeps framework messages short and free of echoed input.
func cleanMessage(msg string) string {
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func init() {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return newProblem(status, msg, errs...)
	}
	huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		p := newProblem(status, msg, errs...)
		if ctx != nil {
			for k, vs := range p.headers {
				for _, v := range vs {
					ctx.AppendHeader(k, v)
				}
			}
			p.RequestID = httpx.RequestID(ctx.Context())
			if p.Status >= 500 {
				httpx.Logger(ctx.Context()).ErrorContext(ctx.Context(), "request failed", "err", errors.Join(errs...))
			}
		}
		return p
	}
}
