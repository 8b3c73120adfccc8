package console

import "testing"

// TestCSVRowQuotesTabAndCR: tabs and carriage returns, which no accepted input holds today,
// are quoted like formulas should a field ever carry one.
func TestCSVRowQuotesTabAndCR(t *testing.T) {
	got := csvRow("\tcell", "\rcell", "plain")
	if got[0] != "'\tcell" || got[1] != "'\rcell" || got[2] != "plain" {
		t.Fatalf("csvRow = %q", got)
	}
}
