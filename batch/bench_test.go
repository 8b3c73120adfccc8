package batch_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/batch"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// BenchmarkBatch100k runs a batch of 100,000 generated accesses to completion and reports
// accesses per second (target: at least 5,000/s, i.e. under 20 s, on this 2-core machine).
// Run it with -benchtime=1x.
func BenchmarkBatch100k(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, testdb.Engines()[name])
			svc := e.svc
			p := newTenant(b, svc, "bench")
			ctx := context.Background()
			runner := batch.New(svc, discard)
			n := keyhaven.MaxBatch
			var elapsed time.Duration
			for b.Loop() {
				t, err := svc.SubmitBatch(ctx, p, keyhaven.BatchInput{ContractID: "contract-001", NumberOfAccesses: &n})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				drain(b, runner)
				elapsed += time.Since(start)
				got, _ := e.store.BatchTask(ctx, p.TenantID, t.ID)
				if got.State != keyhaven.BatchDone || got.Created != n {
					b.Fatalf("task %s created %d", got.State, got.Created)
				}
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "accesses/s")
			b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/batch")
		})
	}
}

// BenchmarkAccessAPI measures, over real HTTP on loopback, single access creations and
// device verifications per second with 32 concurrent clients.
func BenchmarkAccessAPI(b *testing.B) {
	const clients = 32
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			e := apitest.New(b, testdb.Engines()[name])
			key := e.Acme.APIKey
			e.Do("POST", "/api/acme/product-offerings", key, map[string]any{"id": "plain", "name": "Plain"})
			now := time.Now().UTC()
			e.Do("POST", "/api/acme/contracts", key, map[string]any{"id": "contract-001", "productOfferingId": "plain",
				"startDate": now.Add(-time.Hour).Format(time.RFC3339), "endDate": now.Add(24 * 365 * time.Hour).Format(time.RFC3339)})
			var mu sync.Mutex
			var creds [][2]string
			parallel := func(b *testing.B, total int, fn func(i int)) float64 {
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for range clients {
					wg.Go(func() {
						for {
							i := int(next.Add(1)) - 1
							if i >= total {
								return
							}
							fn(i)
						}
					})
				}
				wg.Wait()
				return float64(total) / time.Since(start).Seconds()
			}
			b.Run("create", func(b *testing.B) {
				var rate float64
				for b.Loop() {
					rate = parallel(b, 2000, func(i int) {
						r := e.Do("POST", "/api/acme/access", key, map[string]any{"contractId": "contract-001"})
						if r.Status != 201 {
							b.Errorf("create: %d %s", r.Status, r.Body)
							return
						}
						m := r.JSON()
						mu.Lock()
						creds = append(creds, [2]string{m["username"].(string), m["password"].(string)})
						mu.Unlock()
					})
				}
				b.ReportMetric(rate, "creations/s")
			})
			b.Run("verify", func(b *testing.B) {
				var rate float64
				for b.Loop() {
					rate = parallel(b, 10000, func(i int) {
						c := creds[i%len(creds)]
						r := e.Do("POST", "/api/acme/access/verify", key, map[string]string{"username": c[0], "password": c[1]})
						if r.Status != 200 || r.JSON()["valid"] != true {
							b.Errorf("verify: %d %s", r.Status, r.Body)
						}
					})
				}
				b.ReportMetric(rate, "verifications/s")
			})
		})
	}
}
