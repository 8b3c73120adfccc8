#!/usr/bin/env bash
# Runs every test, on SQLite and on PostgreSQL, with the race detector. Starts a throwaway
# PostgreSQL cluster unless KEYHAVEN_TEST_POSTGRES names a server to use.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgres.sh
# The reference GraphQL client the GraphQL tests drive.
if [ ! -d graphql/testdata/client/node_modules/graphql ]; then
  (cd graphql/testdata/client && npm ci --silent)
fi
# The OpenAPI checks: Redocly's linter and the TypeScript client generator, compiler and
# fetch library the clients tests run (api/clients).
if [ ! -f api/clients/testdata/node_modules/.package-lock.json ]; then
  (cd api/clients/testdata && npm ci --silent)
fi
go test -race -count=1 -timeout 30m "$@" ./...
