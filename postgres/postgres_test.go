package postgres_test

import (
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunTests(t, func(t testing.TB) keyhaven.Store { return testdb.Postgres(t) })
}
