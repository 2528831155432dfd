#!/usr/bin/env bash
# bench/gateway.sh: the gateway side by side with the direct origin, in one run.
#
# Starts the shared perf rig's tiny origin (../shared/perf/backend, GET /v2/topic/{id}, ~600 B JSON)
# as "Garant", a real redis-server and the gateway built from this tree, then rotates wrk over
#   direct   GET http://127.0.0.1:19001/v2/topic/12345
#   bypass   GET /v1/garant/topics/12345 with Cache-Control: no-cache (auth, validation,
#            quota reserve in Redis, upstream call, metrics, access log, the cache store)
#   miss     GET /v1/garant/topics/N, a new N on every request (bench/miss.lua): a true miss (the
#            read-or-lock script, quota reserve, upstream call, the store)
#   hit      GET /v1/garant/topics/12345 from the cache (auth, validation, in-process L1 or one Redis GET)
#   fips     GET /v1/fips/applications/12345 routed to the origin's /v2/topic/12345 (auth, validation,
#            the tenant's FIPS rate in Redis, upstream call, typed decode and encode, metrics, access log;
#            FIPS has no quota)
#   goproxy  Go's httputil.ReverseProxy in front of the origin (../shared/perf/goproxy): the anchor
# The origin is not Garant and wrk is one tenant: the config raises the Garant credential's pace, the
# tenant's upstream-call cap and its FIPS rate far above what wrk reaches, so every check still runs
# (the pacing script, the rate script) and none refuses. Each target's non-2xx answers are counted
# (column non2xx; wrk's own count): a run where they are not 0 measured refusals, not the path.
# cpu_us_req is the CPU (utime+stime from /proc) of the serving process over its rounds per request.
# All targets run for REPS rounds of wrk -t1 -c$CONC -d$DUR, then C1REPS (default 3) rotated rounds of C1DUR (default 5s) at one connection for unloaded
# latency, and prints the median rps, p50/p99 and each target's ratio to direct measured in the same run.
# TARGETS picks and orders the targets (default: direct goproxy bypass miss hit fips); GOGC and GOMEMLIMIT in
# the environment reach the gateway as usual.
# Needs wrk and redis-server (Debian packages). Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10s} REPS=${REPS:-3} CONC=${CONC:-50} C1DUR=${C1DUR:-5s} C1REPS=${C1REPS:-3} WORK=${WORK:-$(mktemp -d)}
ORIGIN_PORT=${ORIGIN_PORT:-19001} GW_PORT=${GW_PORT:-19005} ADMIN_PORT=${ADMIN_PORT:-19006} REDIS_PORT=${REDIS_PORT:-16380}
PROXY_PORT=${PROXY_PORT:-19002}
perf=${PERF:-../shared/perf}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

(cd "$perf" && go build -o "$WORK/" ./backend ./goproxy)
go build -o "$WORK/gateway" ./cmd/gateway
"$WORK/backend" -addr 127.0.0.1:$ORIGIN_PORT >"$WORK/backend.log" 2>&1 & be=$!; pids+=($be)
"$WORK/goproxy" -addr 127.0.0.1:$PROXY_PORT -upstream http://127.0.0.1:$ORIGIN_PORT >"$WORK/goproxy.log" 2>&1 & gp=$!; pids+=($gp)
redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 & pids+=($!)
key=bench-key
cat >"$WORK/gateway.yaml" <<YAML
addr: 127.0.0.1:$GW_PORT
server: {admin_addr: "127.0.0.1:$ADMIN_PORT"}
redis: {url: "redis://127.0.0.1:$REDIS_PORT/0"}
credentials:
  fips-bench: {upstream: fips, secret: bench-key-fips}
  garant-bench:
    upstream: garant
    secret: bench-token
    # The origin is not Garant: pace it far above what wrk reaches (the pacing call still runs; a start-up warning says the rate is above Garant's).
    limits: [{family: topic_info, period: month, limit: 1000000000000}, {family: rate, period: second, limit: 100000000}]
fairness:  # one tenant sends everything: raise its cap and its FIPS rate (the rate script still runs)
  upstream_calls: {per_tenant: 64, per_credential: 64}
  rates: {fips: {per_second: 100000000}}
tenants:
  bench: {keys_sha256: [$(printf %s $key | sha256sum | cut -d' ' -f1)], credentials: {garant: garant-bench, fips: fips-bench}}
upstreams:
  garant: {base_url: "http://127.0.0.1:$ORIGIN_PORT"}
  fips: {base_url: "http://127.0.0.1:$ORIGIN_PORT", routes: {fipsGetApplication: "/v2/topic/{applicationId}"}}
YAML
"$WORK/gateway" -config "$WORK/gateway.yaml" >"$WORK/gateway.log" 2>&1 & gw=$!; pids+=($gw)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$GW_PORT/healthz" >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $key"
gwurl="http://127.0.0.1:$GW_PORT/v1/garant/topics/12345"
curl -sf -H "$auth" "$gwurl" >/dev/null || { echo "gateway did not serve $gwurl"; tail -5 "$WORK/gateway.log"; exit 1; }

read -r -a names <<<"${TARGETS:-direct goproxy bypass miss hit fips}"
echo 0 >"$WORK/misses" # each miss run asks for ids of its own million: none was asked before
run() { # run NAME CONC DUR
  case $1 in
    direct) wrk -t1 -c"$2" -d"$3" --latency "http://127.0.0.1:$ORIGIN_PORT/v2/topic/12345" ;;
    goproxy) wrk -t1 -c"$2" -d"$3" --latency "http://127.0.0.1:$PROXY_PORT/v2/topic/12345" ;;
    bypass) wrk -t1 -c"$2" -d"$3" --latency -H "$auth" -H "Cache-Control: no-cache" "$gwurl" ;;
    miss) m=$(($(cat "$WORK/misses") + 1)); echo $m >"$WORK/misses"
      wrk -t1 -c"$2" -d"$3" --latency -H "$auth" -s bench/miss.lua "http://127.0.0.1:$GW_PORT" -- $((m * 1000000)) ;;
    hit) wrk -t1 -c"$2" -d"$3" --latency -H "$auth" "$gwurl" ;;
    fips) wrk -t1 -c"$2" -d"$3" --latency -H "$auth" "http://127.0.0.1:$GW_PORT/v1/fips/applications/12345" ;;
  esac
}
rps() { awk '/Requests\/sec/ {print $2}'; }
pct() { awk -v p="$1" '$1==p {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}'; }
pidof_target() { case $1 in direct) echo $be ;; goproxy) echo $gp ;; *) echo $gw ;; esac; }
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
reqs() { awk '/requests in/ {print $1}'; }
non2xx() { awk '/Non-2xx/ {print $5}'; }
hz=$(getconf CLK_TCK)
for n in "${names[@]}"; do run "$n" "$CONC" 2s >/dev/null; done   # warm-up
declare -A R P50 P99 C1 C1P99 T N B
for ((r = 1; r <= REPS; r++)); do
  for n in "${names[@]}"; do
    p=$(pidof_target "$n"); t0=$(ticks "$p")
    out=$(run "$n" "$CONC" "$DUR")
    t1=$(ticks "$p")
    R[$n]+="$(echo "$out" | rps) "; P50[$n]+="$(echo "$out" | pct 50%) "; P99[$n]+="$(echo "$out" | pct 99%) "
    T[$n]=$(( ${T[$n]:-0} + t1 - t0 )); N[$n]=$(( ${N[$n]:-0} + $(echo "$out" | reqs) ))
    B[$n]=$(( ${B[$n]:-0} + $(echo "$out" | non2xx | grep . || echo 0) ))
  done
done
declare -A C1S C1P99S
for ((r = 1; r <= C1REPS; r++)); do
  for n in "${names[@]}"; do
    out=$(run "$n" 1 "$C1DUR")
    C1S[$n]+="$(echo "$out" | pct 50%) "; C1P99S[$n]+="$(echo "$out" | pct 99%) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for n in "${names[@]}"; do
  C1[$n]=$(echo "${C1S[$n]}" | median); C1P99[$n]=$(echo "${C1P99S[$n]}" | median)
done
printf '\n%-8s %10s %9s %9s %8s %11s %8s %12s %14s %12s %14s\n' target rps p50_ms p99_ms ratio cpu_us_req non2xx c1_p50_ms added_c1_ms c1_p99_ms added_c1_p99
d=$(echo "${R[direct]}" | median)
for n in "${names[@]}"; do
  m=$(echo "${R[$n]}" | median)
  cpu=$(echo "${T[$n]} * 1000000 / $hz / ${N[$n]}" | bc -l)
  printf '%-8s %10.0f %9s %9s %8.2f %11.1f %8d %12s %14.3f %12s %14.3f\n' "$n" "$m" "$(echo "${P50[$n]}" | median)" \
    "$(echo "${P99[$n]}" | median)" "$(echo "$m / $d" | bc -l)" "$cpu" "${B[$n]}" "${C1[$n]}" "$(echo "${C1[$n]} - ${C1[direct]}" | bc -l)" \
    "${C1P99[$n]}" "$(echo "${C1P99[$n]} - ${C1P99[direct]}" | bc -l)"
done
echo "(median of $REPS rotated rounds of wrk -t1 -c$CONC -d$DUR; c1 = median of $C1REPS rotated rounds at one connection, $C1DUR each; logs in $WORK)"
