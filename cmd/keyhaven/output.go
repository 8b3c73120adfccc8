package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// What the management commands print: for people, tables and "field: value" lines; for
// scripts (--output json), the API's JSON as it came, indented.

// writeJSON writes a JSON value indented, on lines of its own.
func writeJSON(w io.Writer, raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// writeListJSON writes a list's items as one object, {"items": [...]}, with the cursor of
// the rest when the list was cut short (--limit).
func writeListJSON(w io.Writer, items []json.RawMessage, nextCursor string) error {
	out := struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor string            `json:"nextCursor,omitempty"`
	}{items, nextCursor}
	if out.Items == nil {
		out.Items = []json.RawMessage{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return writeJSON(w, b)
}

// objField is one field of a JSON object, in the order the object has it.
type objField struct {
	name  string
	value json.RawMessage
}

// objectFields returns the fields of a JSON object in order.
func objectFields(raw json.RawMessage) ([]objField, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %.40s", raw)
	}
	var out []objField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, objField{tok.(string), v})
	}
	return out, nil
}

// writeObject writes a JSON object as "name: value" lines, aligned, leaving out the fields
// named in skip (the secrets, which are shown apart).
func writeObject(w io.Writer, raw json.RawMessage, skip ...string) error {
	fields, err := objectFields(raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		if slices.Contains(skip, f.name) {
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", f.name, display(f.value))
	}
	return tw.Flush()
}

// display formats a JSON value for a person: strings bare, times to the second, lists of
// words joined by commas, objects as compact JSON, nothing as "-".
func display(raw json.RawMessage) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return string(raw)
	}
	return displayValue(v, raw)
}

func displayValue(v any, raw json.RawMessage) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && strings.Contains(x, "T") {
			return t.Format(time.RFC3339)
		}
		return x
	case json.Number:
		return x.String()
	case bool:
		return fmt.Sprint(x)
	case []any:
		if len(x) == 0 {
			return "-"
		}
		words := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return compact(raw)
			}
			words = append(words, s)
		}
		return strings.Join(words, ",")
	case map[string]any:
		if len(x) == 0 {
			return "-"
		}
	}
	return compact(raw)
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// column is a column of a table: its heading and the path of its field in each item, such as
// "productOffering.name".
type column struct {
	head, path string
}

// writeTable writes items as a table with a heading line.
func writeTable(w io.Writer, items []json.RawMessage, cols []column) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.head
	}
	fmt.Fprintln(tw, strings.Join(heads, "\t"))
	for _, raw := range items {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return err
		}
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = cell(lookup(obj, c.path))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// tableWords is how many words of a list a table cell shows.
const tableWords = 3

// cell formats a value for a table: as display does, but a long list of words as its first
// few and how many more there are, so that rows stay readable.
func cell(raw json.RawMessage) string {
	var words []string
	if json.Unmarshal(raw, &words) == nil && len(words) > tableWords+1 {
		return fmt.Sprintf("%s +%d", strings.Join(words[:tableWords], ","), len(words)-tableWords)
	}
	return display(raw)
}

// lookup returns the value at a dotted path in a JSON object, null when there is none.
func lookup(obj map[string]json.RawMessage, path string) json.RawMessage {
	name, rest, nested := strings.Cut(path, ".")
	v, ok := obj[name]
	if !ok {
		return json.RawMessage("null")
	}
	if !nested {
		return v
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(v, &inner) != nil {
		return json.RawMessage("null")
	}
	return lookup(inner, rest)
}

// writeSecret shows a secret once, clearly labelled, on a line of its own.
func writeSecret(w io.Writer, what, label, secret string) {
	fmt.Fprintf(w, "\n%s is shown only now: store it safely.\n  %s:  %s\n", what, label, secret)
}
