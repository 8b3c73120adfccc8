#!/usr/bin/env bash
# Runs every test, on SQLite and on PostgreSQL, with the race detector. Starts a throwaway
# PostgreSQL cluster unless KEYHAVEN_TEST_POSTGRES names a server to use.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgres.sh
go test -race -count=1 -timeout 30m "$@" ./...
