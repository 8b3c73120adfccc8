#!/usr/bin/env bash
# Runs the Go benchmarks on SQLite and PostgreSQL and prints their figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgres.sh
go test -run '^$' -bench "${BENCH:-.}" -benchmem -count=1 ./...
