package keyhaven

import "testing"

func TestNewIDIncreases(t *testing.T) {
	prev := NewID("x")
	for range 10000 {
		id := NewID("x")
		if id <= prev {
			t.Fatalf("NewID gave %s after %s", id, prev)
		}
		if !ValidID("x", id) {
			t.Fatalf("ValidID(%s) = false", id)
		}
		prev = id
	}
	for _, bad := range []string{"", "x_", "y_06bq5xk2hz1f8m3v9c4r7t0w", "x_06bq5xk2hz1f8m3v9c4r7t0", "x_06bq5xk2hz1f8m3v9c4r7t0W", "x_'or'1'='1'--xxxxxxxxxxx"} {
		if ValidID("x", bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
