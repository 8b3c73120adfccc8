package api

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"

	"keyhaven.dev/keyhaven"
)

// chunkReader returns at most n bytes a read, so that runes and tokens are cut anywhere.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// FuzzBatchBody decodes fuzzed batch bodies with the streaming decoder, reading them whole
// and in small chunks. It never panics; both readings agree; a refusal is EINVALID; what it
// accepts is valid UTF-8 and JSON and decodes to what encoding/json makes of it.
func FuzzBatchBody(f *testing.F) {
	for _, s := range []string{
		`{"contractId":"contract-001","numberOfAccesses":3}`,
		`{"contractId":"contract-001","accesses":[{"username":"dev-1","password":"p\u00e9ssword-long","deviceName":"d"},{}]}`,
		`{"accesses":[],"contractId":"c","numberOfAccesses":null}`,
		`{"contractId":"c","contractId":"d"}`,
		`{"contractId":"c","accesses":[{"username":1}]}`,
		`{"contractId":"c","accesses":[{"deviceName":"é✓` + "\xe2\x9c" + `"}]}`,
		`{"contractId":"c"} {}`,
		`[1,2]`,
		"\xef\xbb\xbf{}",
		"{\x95}", // read a byte at a time, the bad byte once slipped past a decoder that peeked
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, body []byte, chunk uint8) {
		whole, errWhole := decodeBatch(&utf8Reader{r: bytes.NewReader(body)})
		cut, errCut := decodeBatch(&utf8Reader{r: &chunkReader{r: bytes.NewReader(body), n: int(chunk%8) + 1}})
		for _, err := range []error{errWhole, errCut} {
			if err != nil && keyhaven.ErrorCode(err) != keyhaven.EINVALID {
				t.Fatalf("decodeBatch(%q) = %v, want EINVALID", body, err)
			}
		}
		if (errWhole == nil) != (errCut == nil) {
			t.Fatalf("decodeBatch(%q): read whole %v, in chunks of %d %v", body, errWhole, int(chunk%8)+1, errCut)
		}
		if errWhole != nil {
			return
		}
		if !reflect.DeepEqual(whole, cut) {
			t.Fatalf("decodeBatch(%q): read whole %+v, in chunks %+v", body, whole, cut)
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("decodeBatch accepted %q, which is not UTF-8 JSON", body)
		}
		var ref CreateAccessBatchInput
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("decodeBatch accepted %q, which encoding/json refuses: %v", body, err)
		}
		want := keyhaven.BatchInput{ContractID: ref.ContractID, NumberOfAccesses: ref.NumberOfAccesses}
		if ref.Accesses != nil {
			want.Accesses = []keyhaven.AccessInput{}
			for _, it := range *ref.Accesses {
				want.Accesses = append(want.Accesses, it.input())
			}
		}
		if !reflect.DeepEqual(whole, want) {
			t.Fatalf("decodeBatch(%q) = %+v, encoding/json makes %+v", body, whole, want)
		}
	})
}

// FuzzUTF8Reader reads fuzzed bytes through utf8Reader in chunks: valid UTF-8 comes out
// unchanged, anything else fails with errNotUTF8.
func FuzzUTF8Reader(f *testing.F) {
	f.Add([]byte("plain"), uint8(0))
	f.Add([]byte("é✓\U0001F600"), uint8(2))
	f.Add([]byte("ab\xe2\x9c"), uint8(1))
	f.Add([]byte("\xff"), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		got, err := io.ReadAll(&utf8Reader{r: &chunkReader{r: bytes.NewReader(in), n: int(chunk%8) + 1}})
		if utf8.Valid(in) {
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("read %q as %q, %v", in, got, err)
			}
		} else if err != errNotUTF8 {
			t.Fatalf("read %q (not UTF-8) as %q, %v; want errNotUTF8", in, got, err)
		}
	})
}
