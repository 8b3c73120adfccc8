package apitest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// validator checks real responses against the OpenAPI document the server publishes, read
// with an independent OpenAPI library (the server's own document in its 3.0 form).
type validator struct {
	router routers.Router
}

func newValidator(t testing.TB, baseURL string) *validator {
	t.Helper()
	res, err := http.Get(baseURL + "/api/openapi-3.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("load OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: baseURL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &validator{router: router}
}

// check holds one exchange against the document. Requests to paths the document does not
// describe (the catch-all 404) are skipped. Every described operation's responses, errors
// included, must match their schema; and the server must agree with the document on the
// request: it may not take (2xx) a request the document says is invalid, nor refuse as an
// unsupported media type (415) a body the document says it takes.
func (v *validator) check(t testing.TB, req *http.Request, body []byte, res *Response) {
	t.Helper()
	u, _ := url.Parse(req.URL.String())
	r := req.Clone(context.Background())
	r.URL = u
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case reqErr != nil && res.Status < 300:
		t.Errorf("%s %s: the server took (%d) a request the OpenAPI document says is invalid: %v", req.Method, req.URL.Path, res.Status, reqErr)
	case reqErr == nil && res.Status == http.StatusUnsupportedMediaType:
		t.Errorf("%s %s: the server refused (415) a body of type %q, which the OpenAPI document says it takes", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.Status, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	out.SetBodyBytes(res.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: response %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, res.Status, err, bytes.TrimSpace(res.Body))
	}
}
