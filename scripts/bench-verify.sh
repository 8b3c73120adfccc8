#!/usr/bin/env bash
# The verification benchmark: starts the real server on SQLite and on a durable PostgreSQL,
# each seeded with 1,000,000 API keys, loads POST /api/verify over loopback with wrk (64
# connections), warm (one hot key) and cold (every request a different key of 100,000), and
# measures in the same run a minimal net/http handler returning a small fixed JSON body as
# the floor. Each scenario is measured right after its own floor run, so that the machine's
# drift does not skew the ratio. Besides the key with no policies, the warm runs verify a key
# with an IP allowlist of 20 ranges and a rate limit (never reached), and a key with credits,
# which every verification takes from in the database; then the token endpoint (client
# credentials, client_secret_basic) and the SDK verifying one access token offline on one core,
# against warm verify. Usage counting is weighed first: warm verify on the server and on a
# second one started beside it with --usage-counting=false, taking turns ROUNDS times after a
# floor run of their own; the median ratio to the floor of each, and the difference.
# Prints a table with the ratios and the server's peak RSS.
#   KEYS (default 1000000), SAMPLE (100000), DURATION (10s), CONNECTIONS (64), THREADS (2),
#   ROUNDS (3), PORTS (18090: the floor listens on it, the servers on the ports above it)
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000} SAMPLE=${SAMPLE:-100000} DURATION=${DURATION:-10s} CONNECTIONS=${CONNECTIONS:-64} THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-7} PORTS=${PORTS:-18090}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
export KEYHAVEN_PG_DURABLE=1
. scripts/postgres.sh

work=$(mktemp -d /tmp/keyhaven-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap 'cleanup; type stop_postgres >/dev/null 2>&1 && stop_postgres' EXIT
go build -o "$work/keyhaven" ./cmd/keyhaven
go build -o "$work/benchtool" ./internal/cmd/benchtool

wait_up() { for _ in $(seq 1 200); do curl -sf "$1/healthz" >/dev/null && return 0; sleep 0.05; done; echo "server at $1 did not start" >&2; exit 1; }
load() { # url keys_file hot_key [client_ip]
  KEYS_FILE=$2 HOT_KEY=$3 CLIENT_IP=${4:-} wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/wrk/verify.lua "$1/api/verify" |
    sed -n 's/^RESULT //p'
}
valid() { # url key client_ip: the key verifies VALID
  local body='{"key":"'$2'"'; [ -n "$3" ] && body+=',"ip":"'$3'"'
  curl -sf "$1/api/verify" -H 'Content-Type: application/json' -d "$body}" | grep -q '"valid":true' ||
    { echo "a benchmark key does not verify VALID" >&2; exit 1; }
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

"$work/benchtool" floor --addr "127.0.0.1:$PORTS" & pids+=($!)
wait_up "http://127.0.0.1:$PORTS" 2>/dev/null || true
floor() { load "http://127.0.0.1:$PORTS" "" x; }

rows=()
offline_rows=()
usage_rows=()
port=$((PORTS + 10))
for engine in sqlite postgres; do
  if [ "$engine" = sqlite ]; then db="sqlite:$work/bench.db"; else
    db="${KEYHAVEN_TEST_POSTGRES%%\?*}"; db="${db%/*}/bench?${KEYHAVEN_TEST_POSTGRES#*\?}"
    psql "$KEYHAVEN_TEST_POSTGRES" -qc "CREATE DATABASE bench" >/dev/null
  fi
  echo "--- $engine: seeding $KEYS API keys" >&2
  "$work/benchtool" seed --db "$db" --keys "$KEYS" --sample "$SAMPLE" --out "$work/keys-$engine.txt" \
    --policies "$work/policies-$engine.txt"
  hot=$(head -n 1 "$work/keys-$engine.txt")
  allow_rate=$(awk '$1 == "allowlist_rate" {print $2}' "$work/policies-$engine.txt")
  credits=$(awk '$1 == "credits" {print $2}' "$work/policies-$engine.txt")
  secret_key=$(openssl rand -base64 32) # one for the database: a server refuses another
  port=$((port + 1))
  KEYHAVEN_SECRET_KEY=$secret_key "$work/keyhaven" serve --db "$db" --addr "127.0.0.1:$port" \
    --log-level warn --cache-size 200000 >"$work/$engine.log" 2>&1 & pid=$!; pids+=($pid)
  base="http://127.0.0.1:$port"
  wait_up "$base"
  port=$((port + 1))
  KEYHAVEN_SECRET_KEY=$secret_key "$work/keyhaven" serve --db "$db" --addr "127.0.0.1:$port" \
    --log-level warn --cache-size 200000 --usage-counting=false >"$work/$engine-off.log" 2>&1 & off_pid=$!; pids+=($off_pid)
  base_off="http://127.0.0.1:$port"
  wait_up "$base_off"
  valid "$base" "$allow_rate" 10.9.8.7
  valid "$base" "$credits" ""
  DURATION=2s load "$base" "" "$hot" >/dev/null # connections and code paths warm up
  DURATION=2s load "$base_off" "" "$hot" >/dev/null
  # Usage counting on (the server) and off (the other) take turns at warm verify: each round
  # measures the floor, then both, in an order that alternates from round to round, so that
  # both ratios of a round share its floor and neither always runs first.
  on_ratios=() off_ratios=()
  for round in $(seq 1 "$ROUNDS"); do
    f=$(floor)
    if [ $((round % 2)) = 1 ]; then w=$(load "$base" "" "$hot"); wo=$(load "$base_off" "" "$hot")
    else wo=$(load "$base_off" "" "$hot"); w=$(load "$base" "" "$hot"); fi
    on_ratios+=("$(python3 -c "print($(field "$w" rps)/$(field "$f" rps))")")
    off_ratios+=("$(python3 -c "print($(field "$wo" rps)/$(field "$f" rps))")")
    [ "$round" = 1 ] && { floor_warm=$f; warm=$w; floor_off=$f; warm_off=$wo; }
  done
  rss_on=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  rss_off=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$off_pid/status")
  kill "$off_pid"; wait "$off_pid" 2>/dev/null || true
  usage_rows+=("$engine $rss_on $rss_off $(python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" "${on_ratios[@]}") \
$(python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" "${off_ratios[@]}") \
$(python3 -c "import statistics,sys; a=sys.argv[1:]; n=len(a)//2; print(statistics.median(float(x)/float(y) for x, y in zip(a[:n], a[n:])))" "${on_ratios[@]}" "${off_ratios[@]}") \
${on_ratios[*]} / ${off_ratios[*]}")
  floor_policy=$(floor)
  policy=$(load "$base" "" "$allow_rate" 10.9.8.7)
  floor_credits=$(floor)
  creds=$(load "$base" "" "$credits")
  valid "$base" "$allow_rate" 10.9.8.7 # the runs measured answers, not refusals
  valid "$base" "$credits" ""
  # Access tokens: the token endpoint's throughput, and the SDK verifying one offline.
  read -r tc_secret tc_id < <(awk '$1 == "token_client" {print $2, $3}' "$work/policies-$engine.txt")
  auth="Basic $(printf '%s:%s' "$tc_id" "$tc_secret" | base64 -w0)"
  floor_token=$(floor)
  tokens=$(AUTH=$auth wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/wrk/token.lua \
    "$base/api/bench/oauth2/token" | sed -n 's/^RESULT //p')
  access_token=$(curl -sf -H "Authorization: $auth" -d grant_type=client_credentials "$base/api/bench/oauth2/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  offline=$("$work/benchtool" offline --url "$base" --tenant bench --token "$access_token" --duration "$DURATION")
  offline_rows+=("$engine $(field "$offline" seen) $(field "$offline" signature) $(field "$warm" rps)")
  floor_cold=$(floor)
  cold=$(load "$base" "$work/keys-$engine.txt" "")
  rss=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  rows+=("$engine floor $floor_warm -" "$engine warm $warm $rss"
    "$engine floor $floor_off -" "$engine warm_usage_counting_off $warm_off $rss_off"
    "$engine floor $floor_policy -" "$engine warm_allowlist_rate $policy $rss"
    "$engine floor $floor_credits -" "$engine warm_credits $creds $rss"
    "$engine floor $floor_token -" "$engine token_endpoint $tokens $rss"
    "$engine floor $floor_cold -" "$engine cold $cold $rss")
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

printf '\nverify over loopback: wrk -t%s -c%s -d%s, %s keys stored, cold = %s distinct keys\n' "$THREADS" "$CONNECTIONS" "$DURATION" "$KEYS" "$SAMPLE"
printf '%-30s %10s %9s %9s %9s %8s %10s\n' scenario req/s p50_ms p99_ms vs_floor errors peak_rss_MB
floor_rps=1
for row in "${rows[@]}"; do
  read -r engine kind json rss <<<"$row"
  rps=$(field "$json" rps)
  if [ "$kind" = floor ]; then floor_rps=$rps; label="  floor (net/http)"; else label="$engine $kind"; fi
  printf '%-30s %10s %9s %9s %9.2f %8s %10s\n' "$label" "$rps" "$(field "$json" p50_ms)" "$(field "$json" p99_ms)" \
    "$(python3 -c "print($rps/$floor_rps)")" "$(field "$json" errors)" "$rss"
done

printf '\noffline verification of an access token with the SDK, on one core (JWK Set fetched once), against /api/verify (warm, two cores, over loopback)\n'
printf '  seen: a token verified before, kept until it expires; signature: its first verification\n'
printf '%-12s %16s %16s %14s %10s %10s\n' engine sdk_seen/s sdk_signature/s verify_warm/s gain_seen gain_sig
for row in "${offline_rows[@]}"; do
  read -r engine seen sig warm_rps <<<"$row"
  printf '%-12s %16.0f %16.0f %14s %10.2f %10.2f\n' "$engine" "$seen" "$sig" "$warm_rps" \
    "$(python3 -c "print($seen/$warm_rps)")" "$(python3 -c "print($sig/$warm_rps)")"
done

printf '\nusage counting on warm verify: median ratio to the floor over %s rounds, counting on and off (--usage-counting=false)\n' "$ROUNDS"
printf '  difference: on / off - 1, negative when counting costs; paired: the median of each round'"'"'s on / off - 1 (one floor, so\n'
printf '  the floor'"'"'s noise cancels); peak RSS of each server after the rounds\n'
printf '%-12s %8s %8s %11s %8s %10s %11s   %s\n' engine on off difference paired rss_on_MB rss_off_MB "each round's ratios (on / off)"
for row in "${usage_rows[@]}"; do
  read -r engine rss_on rss_off on off paired rounds <<<"$row"
  printf '%-12s %8.3f %8.3f %10.1f%% %7.1f%% %10s %11s   %s\n' "$engine" "$on" "$off" "$(python3 -c "print($on/$off*100-100)")" \
    "$(python3 -c "print($paired*100-100)")" "$rss_on" "$rss_off" \
    "$(python3 -c "import sys; print(' '.join('%.3f' % float(x) if x != '/' else x for x in sys.argv[1:]))" $rounds)"
done
