package console

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"keyhaven.dev/keyhaven"
)

// pageSize is how many rows a list page shows.
const pageSize = 50

// list is one page of a list: its rows and the links to the pages around it.
type list[T any] struct {
	Items []T
	pager
}

// pager is where a page of a list stands: the numbers of its first and last rows, the link to
// the next page (when there are more rows) and to the first (when this is not it).
type pager struct {
	From, To    int
	Next, First string
}

// cursorAD binds the console's cursors to their use; the list's path is added, so that a
// cursor of one list is no cursor of another.
const cursorAD = "keyhaven console cursor "

// listed returns the page of a list that r asks for: read is the service's listing of it,
// id a row's position in the list's order (what the next page continues after).
func listed[T any](c *Console, r *http.Request, p *keyhaven.Principal,
	read func(context.Context, *keyhaven.Principal, keyhaven.Page) ([]T, error), id func(T) string) (list[T], error) {
	page, start, err := c.pageOf(r)
	if err != nil {
		return list[T]{}, err
	}
	items, err := read(r.Context(), p, page)
	if err != nil {
		return list[T]{}, err
	}
	return paged(c, r, start, items, id), nil
}

// pageOf returns the page of a list that r asks for with its cursor (the first page without
// one), and the number of rows before it. It asks for one row more than a page shows, so that
// paged knows whether there is a next page. A cursor the console did not make for this list
// is invalid input: cursors are sealed with the node's key, reveal no id and cannot be forged.
func (c *Console) pageOf(r *http.Request) (keyhaven.Page, int, error) {
	page := keyhaven.Page{Limit: pageSize + 1}
	cursor := r.URL.Query().Get("cursor")
	if cursor == "" {
		return page, 0, nil
	}
	invalid := &HTTPError{Code: http.StatusBadRequest, Title: "Bad link",
		Msg: "The link to this page of the list is not one the console made. Open the list's first page and page on from there."}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(cursor) > 400 {
		return page, 0, invalid
	}
	opened, err := c.svc.Sealer.Open(base64.RawStdEncoding.EncodeToString(raw), []byte(cursorAD+r.URL.Path))
	if err != nil {
		return page, 0, invalid
	}
	n, after, ok := strings.Cut(string(opened), " ")
	start, err := strconv.Atoi(n)
	if !ok || err != nil || start < 0 || after == "" {
		return page, 0, invalid
	}
	page.After = after
	return page, start, nil
}

// paged returns the page of a list that pageOf asked for: items holds up to one row more
// than the page shows, which only says that there is a next page; id is a row's position in
// the list's order (what the next page continues after).
func paged[T any](c *Console, r *http.Request, start int, items []T, id func(T) string) list[T] {
	l := list[T]{Items: items, pager: pager{From: start + 1, To: start + len(items)}}
	if len(items) > pageSize {
		l.Items = items[:pageSize]
		l.To = start + pageSize
		sealed, _ := base64.RawStdEncoding.DecodeString(c.svc.Sealer.Seal(
			[]byte(strconv.Itoa(l.To)+" "+id(l.Items[pageSize-1])), []byte(cursorAD+r.URL.Path)))
		l.Next = withCursor(r, base64.RawURLEncoding.EncodeToString(sealed))
	}
	if start > 0 {
		l.First = withCursor(r, "")
	}
	return l
}

// withCursor returns the request's path and query with the cursor set to cursor (none when
// empty): the filters of the list stay as they are.
func withCursor(r *http.Request, cursor string) string {
	q := r.URL.Query()
	q.Del("cursor")
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}
