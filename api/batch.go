package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/view"
)

// MaxBatchBody is the batch route's body limit, sized from the contract's own maxima: an item
// with a 64-character username, a 256-byte password and a 100-character device name (up to
// 400 bytes of UTF-8) takes 766 bytes with its JSON names and punctuation; 1 KiB per item
// leaves room for escapes and whitespace, for 100,000 items. No other route takes more than
// 64 KiB.
const MaxBatchBody = keyhaven.MaxBatch*1024 + 64<<10

// CreateAccessBatchInput is the body of a batch request, as the OpenAPI document describes it.
type CreateAccessBatchInput struct {
	ContractID       string        `json:"contractId" maxLength:"64"`
	NumberOfAccesses *int          `json:"numberOfAccesses,omitempty" doc:"1 to 100000 accesses, all generated; or give accesses"`
	Accesses         *[]AccessItem `json:"accesses,omitempty" maxItems:"100000" doc:"1 to 100000 accesses to create; or give numberOfAccesses"`
}

// batchInput decodes its body itself, as a stream, item by item: a batch of 100,000 items is
// tens of megabytes, which the framework would read whole and then decode into a generic tree
// to validate. Every field is validated by the domain.
type batchInput struct {
	TenantPath
	batch keyhaven.BatchInput
}

// Resolve implements huma.Resolver: it reads and decodes the body.
func (in *batchInput) Resolve(ctx huma.Context) []error {
	body := ctx.BodyReader()
	if body == nil {
		return []error{domainProblem(keyhaven.Invalid(keyhaven.FieldError{Field: "body", Message: "is required"}))}
	}
	b, err := decodeBatch(&utf8Reader{r: http.MaxBytesReader(nil, io.NopCloser(body), MaxBatchBody)})
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return []error{newProblem(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is too large: a batch takes at most %d bytes", MaxBatchBody))}
	case err != nil:
		return []error{domainProblem(err)}
	}
	in.batch = b
	return nil
}

var errBatchBody = keyhaven.Invalid(keyhaven.FieldError{Field: "body",
	Message: "must be a JSON object with contractId and one of numberOfAccesses and accesses"})

// decodeBatch decodes a batch request from r strictly: no unknown fields, no trailing data,
// at most MaxBatch items (past that it stops reading).
func decodeBatch(r io.Reader) (keyhaven.BatchInput, error) {
	var in keyhaven.BatchInput
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	fail := func(err error) (keyhaven.BatchInput, error) {
		var tooLarge *http.MaxBytesError
		var ke *keyhaven.Error
		if errors.As(err, &tooLarge) || errors.As(err, &ke) {
			return in, err
		}
		return in, errBatchBody
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		field, _ := tok.(string)
		if seen[field] {
			return fail(keyhaven.Invalid(keyhaven.FieldError{Field: field, Message: "is given twice"}))
		}
		seen[field] = true
		switch field {
		case "contractId":
			err = dec.Decode(&in.ContractID)
		case "numberOfAccesses":
			err = dec.Decode(&in.NumberOfAccesses)
		case "accesses":
			in.Accesses, err = decodeItems(dec)
		default:
			return fail(keyhaven.Invalid(keyhaven.FieldError{Field: "body", Message: "holds a field other than contractId, numberOfAccesses and accesses"}))
		}
		if err != nil {
			return fail(err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(err)
	}
	return in, nil
}

// decodeItems decodes the accesses array one item at a time.
func decodeItems(dec *json.Decoder) ([]keyhaven.AccessInput, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	items := []keyhaven.AccessInput{}
	for dec.More() {
		if len(items) == keyhaven.MaxBatch {
			return nil, keyhaven.Invalid(keyhaven.FieldError{Field: "accesses", Message: fmt.Sprintf("must hold between 1 and %d items", keyhaven.MaxBatch)})
		}
		var it AccessItem
		if err := dec.Decode(&it); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, err
			}
			return nil, keyhaven.Invalid(keyhaven.FieldError{Field: fmt.Sprintf("accesses[%d]", len(items)),
				Message: "must be an object with optional username, password and deviceName strings"})
		}
		items = append(items, it.input())
	}
	return items, expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return errBatchBody
	}
	return nil
}

// utf8Reader passes r through, failing on the first byte sequence that is not UTF-8: the
// JSON decoder would silently replace it, and a password is never silently changed.
type utf8Reader struct {
	r       io.Reader
	pending []byte // the start of a rune cut by the previous read
	err     error  // errNotUTF8 once seen: every later read fails too
}

var errNotUTF8 = keyhaven.Invalid(keyhaven.FieldError{Field: "body", Message: "is not valid UTF-8"})

func (u *utf8Reader) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if len(p) <= utf8.UTFMax {
		return 0, io.ErrShortBuffer // the JSON decoder reads in far larger buffers
	}
	k := copy(p, u.pending)
	n, err := u.r.Read(p[k:])
	buf := p[:k+n]
	cut := len(buf)
	// Hold back an incomplete rune at the end until the next read completes it.
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(buf[:cut]) {
		u.err = errNotUTF8
		return 0, u.err
	}
	u.pending = append(u.pending[:0], buf[cut:]...)
	if err == io.EOF && len(u.pending) > 0 {
		u.err = errNotUTF8
		return 0, u.err
	}
	return cut, err
}

func (s *Server) registerBatches() {
	tags := []string{"device accesses"}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createAccessBatch", Method: http.MethodPost, Path: "/api/{tenant}/access/batch", Tags: tags,
		Summary: "Create device accesses in an asynchronous batch", DefaultStatus: http.StatusAccepted, MaxBodyBytes: MaxBatchBody,

		Description: "Needs ACCESS_MANAGEMENT. Give contractId and exactly one of numberOfAccesses and accesses. " +
			"Answers 202 with a task to poll; a contract that accepts no accesses makes the task REJECTED. Honours Idempotency-Key.",
	}, true), func(ctx context.Context, in *batchInput) (*struct{ Body BatchTaskRef }, error) {
		t, err := s.svc.SubmitBatch(ctx, principal(ctx), in.batch)
		if err != nil {
			return nil, err
		}
		return &struct{ Body BatchTaskRef }{BatchTaskRef{ID: t.ID, State: string(t.State)}}, nil
	})
	// The batch input decodes its own body (batchInput.Resolve); the framework must not read
	// it, so its schema is added to the document only once the operation is registered.
	s.api.OpenAPI().Paths["/api/{tenant}/access/batch"].Post.RequestBody = &huma.RequestBody{Required: true,
		Content: map[string]*huma.MediaType{"application/json": {
			Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(CreateAccessBatchInput{}), true, "CreateAccessBatchInput")}}}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listAccessBatches", Method: http.MethodGet, Path: "/api/{tenant}/access/batch", Tags: tags,
		Summary:     "List batch tasks, newest first",
		Description: "Needs ACCESS_MANAGEMENT. Each task with its progress, without its accesses and errors (get the task for those).",
	}, true), func(ctx context.Context, in *listBatchesInput) (*listOutput[view.Batch], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		tasks, err := s.svc.ListBatchTasks(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		toView := func(t *keyhaven.BatchTask) view.Batch { return keyhaven.ViewBatch(t, s.svc.BatchRetention) }
		return newList(s, tasks, pg, toView, func(t *keyhaven.BatchTask) string { return t.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getAccessBatch", Method: http.MethodGet, Path: "/api/{tenant}/access/batch/{taskId}", Tags: tags,
		Summary: "Get a batch task with a page of its accesses", Errors: []int{http.StatusNotFound},
		Description: "Needs ACCESS_MANAGEMENT. When DONE, accesses holds the created accesses with their passwords until the retention window ends, " +
			"paged like any list (limit, cursor) in the order of the batch's items; requested, processed and errors are on every page.",
	}, true), func(ctx context.Context, in *getBatchInput) (*struct{ Body BatchTask }, error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		p := principal(ctx)
		r, err := s.svc.BatchTask(ctx, p, in.TaskID, pg)
		if err != nil {
			return nil, err
		}
		t := r.Task
		page := newList(s, r.Accesses, pg, func(a *keyhaven.Access) Access { return toAccess(p.TenantName, a) }, keyhaven.BatchCursor)
		out := BatchTask{Batch: keyhaven.ViewBatch(t, s.svc.BatchRetention), Errors: r.Errors,
			Accesses: page.Body.Items, NextCursor: page.Body.NextCursor}
		if out.Errors == nil {
			out.Errors = []keyhaven.BatchError{}
		}
		for i := range out.Accesses {
			out.Accesses[i].Password = r.Passwords[i]
		}
		return &struct{ Body BatchTask }{out}, nil
	})
}

// BatchTaskRef is the answer to a batch request.
type BatchTaskRef struct {
	ID    string `json:"id" example:"job-06bq5xk2hz1f8m3v9c4r7t0w"`
	State string `json:"state" enum:"ACKNOWLEDGED,IN_PROGRESS,DONE,FAILED,REJECTED"`
}

// BatchTask is a batch task with its progress, all its errors and, once DONE, one page of
// its accesses.
type BatchTask struct {
	view.Batch
	Accesses   []Access              `json:"accesses" doc:"When DONE: one page of the created accesses in the order of the batch's items, with their passwords until the retention window ends"`
	Errors     []keyhaven.BatchError `json:"errors" doc:"Every item that failed, on every page"`
	NextCursor string                `json:"nextCursor,omitempty" doc:"The cursor of the next page of accesses, when there may be one"`
}

type listBatchesInput struct {
	TenantPath
	PageParams
}

// BatchPath names a batch task.
type BatchPath struct {
	TenantPath
	TaskID string `path:"taskId" maxLength:"64"`
}

type getBatchInput struct {
	BatchPath
	PageParams
}
