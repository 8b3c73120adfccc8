#!/usr/bin/env bash
# Runs the benchmarks on SQLite and on a durable PostgreSQL (fsync on) and prints their figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export KEYHAVEN_PG_DURABLE=1
. scripts/postgres.sh
echo "--- secret parsing, hashing and principal lookup"
go test -run '^$' -bench Authenticate -benchmem -count=1 .
echo "--- device accesses: a 100,000 batch; single creations and verifications with 32 clients"
go test -run '^$' -bench . -benchtime=1x -count=1 ./batch
echo "--- usage counting: counting a verdict from every core at once"
go test -run '^$' -bench Counter -benchmem -count=1 -cpu 1,2 ./usage
echo "--- metrics: what a verification's request and verdict add to the Prometheus counters"
go test -run '^$' -bench ObserveVerification -benchmem -count=1 -cpu 1,2 ./metrics
