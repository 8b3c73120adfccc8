package postgres_test

import (
	"testing"

	"keyhaven"
	"keyhaven/internal/testdb"
	"keyhaven/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunTests(t, func(t testing.TB) keyhaven.Store { return testdb.Postgres(t) })
}
