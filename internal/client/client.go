// Package client is a small typed client of keyhaven's REST API, for the command line. It
// speaks HTTP only and imports nothing of keyhaven: it sees the API as any other client does.
//
// Every call returns the typed answer and the answer's JSON as the server sent it, so that a
// caller can print either. Errors the server explains are *Problem.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one tenant's REST API with one bearer credential.
type Client struct {
	// BaseURL is keyhaven's URL, such as https://keyhaven.example.com, without /api.
	BaseURL string
	// Tenant is the tenant's name.
	Tenant string
	// Token is the bearer credential: an API key, access key or session token. It is sent
	// in the Authorization header only, and never appears in an error.
	Token string
	// HTTP is the client requests go through; http.DefaultClient when nil.
	HTTP *http.Client
	// UserAgent names the caller.
	UserAgent string
}

// New returns a client of tenant's API at baseURL, calling with token.
func New(baseURL, tenant, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Tenant: tenant, Token: token,
		HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// CheckURL says what is wrong with a keyhaven URL: it must be http or https, with a host,
// and no user, query or fragment. The error never repeats a user's password or a query,
// which may hold a credential.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := strconv.Quote(s)
		if strings.ContainsAny(s, "@?") {
			shown = "the value"
		}
		return fmt.Errorf("%s is not an http or https URL such as https://keyhaven.example.com", shown)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		bare := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		return fmt.Errorf("%q: give keyhaven's URL without user, query or fragment", bare.String())
	}
	return nil
}

// Problem is an RFC 9457 problem document the API answered with.
type Problem struct {
	Status    int          `json:"status"`
	Title     string       `json:"title"`
	Code      string       `json:"code"`
	Detail    string       `json:"detail"`
	Errors    []FieldError `json:"errors"`
	RequestID string       `json:"requestId"`
}

// FieldError names an invalid field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error reads "<title>: <detail> (<code>)", then each invalid field on a line of its own.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Title)
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	if p.Code != "" {
		b.WriteString(" (" + p.Code + ")")
	}
	for _, f := range p.Errors {
		if line := f.Field + ": " + f.Message; !strings.Contains(p.Detail, line) {
			b.WriteString("\n  " + line)
		}
	}
	return b.String()
}

// StatusOf returns the HTTP status of a *Problem in err's chain, or 0.
func StatusOf(err error) int {
	var p *Problem
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
}

// ContentMergePatch is the content type of PATCH bodies: JSON merge patches (RFC 7396).
const ContentMergePatch = "application/merge-patch+json"

// Do sends a request to path (under the base URL) with query and, unless body is nil, body
// as JSON (a merge patch for PATCH), and decodes a JSON answer into out when out is not nil.
// It returns the answer's body as sent, nil for 204.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) (json.RawMessage, error) {
	u := c.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		ct := "application/json"
		if method == http.MethodPatch {
			ct = ContentMergePatch
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// The URL carries no secret; the operation says what was tried.
			return nil, fmt.Errorf("cannot reach keyhaven at %s: %w", c.BaseURL, ue.Err)
		}
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read the answer to %s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		return nil, problem(res, raw)
	}
	if res.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fmt.Errorf("%s %s answered %s, not JSON: is %s keyhaven?", method, path, mt, c.BaseURL)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("the answer to %s %s: %w", method, path, err)
		}
	}
	return raw, nil
}

// problem makes the error of an answer that is not a success: the problem document when the
// server sent one, else the status alone.
func problem(res *http.Response, raw []byte) error {
	p := &Problem{}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt != "application/problem+json" || json.Unmarshal(raw, p) != nil || p.Title == "" {
		p = &Problem{Title: http.StatusText(res.StatusCode), Detail: "HTTP " + strconv.Itoa(res.StatusCode) + " from a server that did not explain it"}
	}
	p.Status = res.StatusCode
	if p.Title == "" {
		p.Title = "HTTP " + strconv.Itoa(res.StatusCode)
	}
	return p
}

// tenantPath is the path of the tenant's API under elems, each escaped.
func (c *Client) tenantPath(elems ...string) string {
	var b strings.Builder
	b.WriteString("/api/" + url.PathEscape(c.Tenant))
	for _, e := range elems {
		b.WriteString("/" + url.PathEscape(e))
	}
	return b.String()
}

// Page is one page of a list: its items, each also as sent, and the cursor of the next page
// ("" after the last).
type Page[T any] struct {
	Items      []T
	Raw        []json.RawMessage
	NextCursor string
}

// pageQuery is query asking for the page after cursor, of at most limit items when limit > 0.
func pageQuery(query url.Values, cursor string, limit int) url.Values {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// list fetches one page of the list at path.
func list[T any](ctx context.Context, c *Client, path string, query url.Values, cursor string, limit int) (*Page[T], error) {
	var body struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor string            `json:"nextCursor"`
	}
	if _, err := c.Do(ctx, http.MethodGet, path, pageQuery(query, cursor, limit), nil, &body); err != nil {
		return nil, err
	}
	p := &Page[T]{Items: make([]T, len(body.Items)), Raw: body.Items, NextCursor: body.NextCursor}
	for i, raw := range body.Items {
		if err := json.Unmarshal(raw, &p.Items[i]); err != nil {
			return nil, fmt.Errorf("item %d of %s: %w", i, path, err)
		}
	}
	return p, nil
}

// MaxPage is the most items the API returns in one page.
const MaxPage = 1000

// All follows a list's pages from the first, through fetch, until the last, or until it has
// max items when max > 0. The returned page holds them all, and the cursor after the last
// one taken when the list goes on.
func All[T any](max int, fetch func(cursor string, limit int) (*Page[T], error)) (*Page[T], error) {
	all := &Page[T]{Items: []T{}, Raw: []json.RawMessage{}}
	cursor := ""
	for {
		limit := MaxPage
		if max > 0 && max-len(all.Items) < limit {
			limit = max - len(all.Items)
		}
		p, err := fetch(cursor, limit)
		if err != nil {
			return nil, err
		}
		all.Items = append(all.Items, p.Items...)
		all.Raw = append(all.Raw, p.Raw...)
		all.NextCursor = p.NextCursor
		if p.NextCursor == "" || len(p.Items) == 0 || (max > 0 && len(all.Items) >= max) {
			return all, nil
		}
		cursor = p.NextCursor
	}
}
