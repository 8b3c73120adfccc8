.PHONY: run test fuzz lint bench build screenshots

# Run keyhaven on the embedded SQLite default.
run:
	go run ./cmd/keyhaven serve

# Every test, on SQLite and PostgreSQL, with the race detector.
test:
	./scripts/test.sh

# Every fuzz target for a bounded time each (FUZZTIME, default 10s), one after another.
fuzz:
	./scripts/fuzz.sh

build:
	go build -o bin/keyhaven ./cmd/keyhaven

# The screenshots of every console page at 1280 and 390 px wide that the repository keeps
# (headless Chromium), taken again.
screenshots:
	KEYHAVEN_SCREENSHOTS=$(CURDIR)/testdata/screenshots go test -count=1 -run 'TestEveryPageOnPhoneAndDesktop|TestUsageCharts|TestWebhooksFlow' ./console/
	KEYHAVEN_SCREENSHOTS=$(CURDIR)/testdata/screenshots go test -count=1 -run TestDocsReadOnAPhone ./api/

lint:
	./scripts/check-file-sizes.sh
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Benchmarks that print figures, on SQLite and PostgreSQL: the Go benchmarks, then the
# verification load test with wrk against the real server.
bench:
	./scripts/bench.sh
	./scripts/bench-verify.sh
