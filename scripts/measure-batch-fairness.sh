#!/usr/bin/env bash
# Measures how long one tenant's 1-access batch waits behind another tenant's batch of 600
# chosen-password items (one argon2id each) on a real server:
#   go build -o /tmp/keyhaven ./cmd/keyhaven && scripts/measure-batch-fairness.sh /tmp/keyhaven 18490
set -euo pipefail
bin=$(realpath "$1"); port=$2
d=$(mktemp -d); cd "$d"
"$bin" serve --addr 127.0.0.1:$port --db sqlite:$d/kh.db --log-level error > out.log 2> err.log &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$d"' EXIT
for _ in $(seq 100); do curl -sf localhost:$port/readyz >/dev/null && break; sleep 0.1; done
key1=$(grep -o 'khk_[0-9A-Za-z]*' err.log | head -1)
key2=$("$bin" tenant create other --admin-email a@other.test --db sqlite:$d/kh.db --output json | grep -o 'khk_[0-9A-Za-z]*')
setup() { # tenant key
  curl -sf -X POST localhost:$port/api/$1/product-offerings -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d '{"id":"p","name":"P"}' >/dev/null
  curl -sf -X POST localhost:$port/api/$1/contracts -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -d '{"id":"c1","productOfferingId":"p","startDate":"2020-01-01T00:00:00Z","endDate":"2099-01-01T00:00:00Z"}' >/dev/null
}
setup default "$key1"; setup other "$key2"
items=$(for i in $(seq 600); do printf '{"password":"chosen-password-%04d"},' $i; done); items=${items%,}
big=$(curl -sf -X POST localhost:$port/api/default/access/batch -H "Authorization: Bearer $key1" -H 'Content-Type: application/json' \
  -d "{\"contractId\":\"c1\",\"accesses\":[$items]}" | grep -o 'job-[0-9a-z]*')
start=$(date +%s.%N)
small=$(curl -sf -X POST localhost:$port/api/other/access/batch -H "Authorization: Bearer $key2" -H 'Content-Type: application/json' \
  -d '{"contractId":"c1","numberOfAccesses":1}' | grep -o 'job-[0-9a-z]*')
until curl -sf localhost:$port/api/other/access/batch/$small -H "Authorization: Bearer $key2" | grep -q '"state":"DONE"'; do sleep 0.05; done
end=$(date +%s.%N)
progress=$(curl -sf "localhost:$port/api/default/access/batch/$big" -H "Authorization: Bearer $key1" | grep -o '"processed":[0-9]*')
echo "the other tenant's 1-access batch took $(echo "$end - $start" | bc) s; the big batch was at $progress of 600"
