package main

import (
	"encoding/json"
	"strings"
	"testing"

	"keyhaven.dev/keyhaven/internal/client"
)

// TestProgressBar: the bar drawn on a terminal fills with the batch's progress, and keeps its
// width whatever the state, so that redrawing it in place leaves nothing behind.
func TestProgressBar(t *testing.T) {
	tests := []struct {
		name string
		task client.BatchTask
		want string
	}{
		{"not started", client.BatchTask{ID: "job-1", State: "ACKNOWLEDGED", Requested: 1000},
			"job-1 [..............................] 0/1000   0% ACKNOWLEDGED"},
		{"half way", client.BatchTask{ID: "job-1", State: "IN_PROGRESS", Processed: 500, Requested: 1000},
			"job-1 [###############...............] 500/1000  50% IN_PROGRESS "},
		{"done", client.BatchTask{ID: "job-1", State: "DONE", Processed: 1000, Requested: 1000},
			"job-1 [##############################] 1000/1000 100% DONE        "},
		{"rejected before any", client.BatchTask{ID: "job-1", State: "REJECTED"},
			"job-1 [..............................] 0/0   0% REJECTED    "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := progressBar(&tc.task); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestTableCells: a table shows a long list of words as its first few and how many more, and
// nothing as "-".
func TestTableCells(t *testing.T) {
	var b strings.Builder
	items := []json.RawMessage{
		json.RawMessage(`{"name":"a","permissions":["READ","WRITE","AUDIT_READ","KEY_MANAGEMENT","USAGE_READ"],"expiresAt":null}`),
		json.RawMessage(`{"name":"b","permissions":["READ"],"expiresAt":"2030-01-31T12:00:00.123456Z"}`),
	}
	if err := writeTable(&b, items, []column{{"NAME", "name"}, {"PERMISSIONS", "permissions"}, {"EXPIRES", "expiresAt"}}); err != nil {
		t.Fatal(err)
	}
	want := "NAME  PERMISSIONS               EXPIRES\n" +
		"a     READ,WRITE,AUDIT_READ +2  -\n" +
		"b     READ                      2030-01-31T12:00:00Z\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
