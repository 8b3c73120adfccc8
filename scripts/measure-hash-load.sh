#!/usr/bin/env bash
# Measures a real server's peak RSS under 120 concurrent wrong device verifications, each of
# which costs one argon2id check (19 MiB): prints the peak before and after, and the statuses.
#   go build -o /tmp/keyhaven ./cmd/keyhaven && USERNAME=dev-chosen scripts/measure-hash-load.sh /tmp/keyhaven 18480
# USERNAME unset sends 120 distinct unknown usernames instead of one known one.
set -euo pipefail
bin=$(realpath "$1"); port=$2
d=$(mktemp -d); cd $d
$bin serve --addr 127.0.0.1:$port --db sqlite:$d/kh.db --log-level error > out.log 2> err.log &
pid=$!
trap "kill $pid 2>/dev/null; rm -rf $d" EXIT
for i in $(seq 100); do curl -sf localhost:$port/readyz >/dev/null && break; sleep 0.1; done
key=$(grep -o 'khk_[0-9A-Za-z]*' err.log | head -1)
H="Authorization: Bearer $key"
curl -sf -X POST localhost:$port/api/default/product-offerings -H "$H" -H 'Content-Type: application/json' -d '{"id":"p","name":"P"}' >/dev/null
curl -sf -X POST localhost:$port/api/default/contracts -H "$H" -H 'Content-Type: application/json' -d '{"id":"c1","productOfferingId":"p","startDate":"2020-01-01T00:00:00Z","endDate":"2099-01-01T00:00:00Z"}' >/dev/null
curl -sf -X POST localhost:$port/api/default/access -H "$H" -H 'Content-Type: application/json' -d '{"contractId":"c1","username":"dev-chosen","password":"a-chosen-password"}' >/dev/null
grep VmHWM /proc/$pid/status
codes=$(for i in $(seq 120); do curl -s -o /dev/null -w '%{http_code}\n' -X POST localhost:$port/api/default/access/verify -H "$H" -H 'Content-Type: application/json' -d "{\"username\":\"${USERNAME:-dev-$i}\",\"password\":\"wrong-password-guess\"}" & done; wait)
echo "$codes" | sort | uniq -c
grep VmHWM /proc/$pid/status
