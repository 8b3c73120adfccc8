package model

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// MaxSafeInt is the largest integer every JSON client reads exactly: 2^53 - 1, the largest
// a JavaScript number (an IEEE 754 double) holds with all its neighbours.
const MaxSafeInt = 1<<53 - 1

// ErrNotSafeInt is the message of a SafeInt that is refused; it quotes no value.
var ErrNotSafeInt = errors.New("must be an integer from -9007199254740991 to 9007199254740991, written without fraction or exponent")

// MarshalSafeInt writes the SafeInt scalar: a JSON number.
func MarshalSafeInt(n int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
}

// UnmarshalSafeInt reads the SafeInt scalar: an integer literal in a document (int64), or a
// JSON number in variables (json.Number, as the endpoint decodes them), written as an integer
// and within ±MaxSafeInt. A fraction, a float literal such as 1.0, a string or anything else
// is refused.
func UnmarshalSafeInt(v any) (int64, error) {
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case int:
		n = int64(v)
	case json.Number:
		var err error
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return 0, ErrNotSafeInt
		}
	default:
		return 0, ErrNotSafeInt
	}
	if n > MaxSafeInt || n < -MaxSafeInt {
		return 0, ErrNotSafeInt
	}
	return n, nil
}

// MarshalRawJSON writes the JSON scalar: the JSON as it is (the domain keeps it compact and
// valid), null for none.
func MarshalRawJSON(m json.RawMessage) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if len(m) == 0 {
			io.WriteString(w, "null")
			return
		}
		w.Write(m)
	})
}

// ErrNotJSON is the message of a JSON value that cannot be written as JSON.
var ErrNotJSON = errors.New("must be a JSON value")

// UnmarshalRawJSON reads the JSON scalar: whatever value was given, as JSON. Whether it is an
// object the domain's rules decide, so that every transport refuses the same values the same
// way.
func UnmarshalRawJSON(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, ErrNotJSON
	}
	return b, nil
}
