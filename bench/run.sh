#!/usr/bin/env bash
# surge performance measurements, all in one script on one machine (loopback only).
#
#   bench/run.sh           the full set (about 35 minutes on 2 cores)
#   bench/run.sh --quick   a short version (a few minutes): no first-morning, shorter runs, fewer rounds
#
# Builds release into $CARGO_TARGET_DIR (default: target/), then runs
#   1. pacing accuracy          scenarios/ci.toml                      (full: 3 runs, quick: 1)
#   2. recording overhead       cargo bench --bench overhead           (full: 3 rounds x 10 s, quick: 2 x 5 s)
#   3. the whole first morning  scenarios/first-morning.toml at 120, then 240, then 480 or 180   (full only)
#   4. RSS flat with run length bench/flat.toml (60 s) vs bench/flat-long.toml (240 s), alternating
#                               (quick: bench/flat-short.toml (15 s) vs bench/flat.toml (60 s))
#   5. visits in flight         bench/in-flight.toml at 5,000 and 50,000 visits, alternating
# Raw outputs go to reports/bench-<UTC stamp>/; the table at the end is also written to its table.txt.
# Every run is bounded: each scenario has a max_duration, and each command runs under `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  "") ;;
  *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$PWD/reports/bench-$STAMP"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
SURGE="$CARGO_TARGET_DIR/release/surge"
REPORT="python3 bench/report.py"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log"; }

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(free -m | awk '/Mem:/ {print $2 " MiB"}')"
  echo "kernel: $(uname -r); ulimit -n: $(ulimit -n)"
  echo "rustc: $(rustc --version)"
  echo "mode: $([ $QUICK = 1 ] && echo quick || echo full)"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

log "building release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --locked --bin surge 2>&1 | tail -n 3
cargo bench --locked --bench overhead --no-run 2>&1 | tail -n 2

# run_surge NAME DIR [report extras...] -- ARGS...: one surge run under /usr/bin/time -v, bounded by
# `timeout`, appended to results.jsonl. A run that stops early (exit 130) is still recorded.
run_surge() {
  local name=$1 dir=$2; shift 2
  local extras=()
  while [ "$1" != "--" ]; do extras+=("$1"); shift; done
  shift
  log "$name: surge run $* --quiet --out $dir"
  local rc=0
  timeout --signal=INT --kill-after=30s 15m \
    /usr/bin/time -v -o "$dir.time" "$SURGE" run "$@" --quiet --out "$dir" > "$dir.stdout" 2> "$dir.stderr" || rc=$?
  log "$name: exit $rc, load average $(cut -d' ' -f1 /proc/loadavg)"
  $REPORT run "$name" "$dir" "$dir.time" rc=$rc "${extras[@]}" >> "$RESULTS"
  tail -n 1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("   ", {k: r.get(k) for k in ("wall_s","rss_mib","req_per_s","valid","lateness_p99_ms","worst_window_dev","max_in_flight_timeline","connect")})'
}

# 1. Pacing accuracy
PACING_RUNS=$([ $QUICK = 1 ] && echo 1 || echo 3)
for i in $(seq 1 "$PACING_RUNS"); do
  run_surge pacing "$OUT/pacing-$i" -- scenarios/ci.toml
done

# 2. Recording overhead (plain Goose vs surge's recording path, alternating, in one process)
if [ $QUICK = 1 ]; then export BENCH_ROUNDS=2 BENCH_SECS=5; else export BENCH_ROUNDS=3 BENCH_SECS=10; fi
log "overhead: cargo bench --bench overhead (BENCH_ROUNDS=$BENCH_ROUNDS BENCH_SECS=$BENCH_SECS)"
timeout --kill-after=30s 10m cargo bench --locked --bench overhead > "$OUT/overhead.log" 2> "$OUT/overhead.stderr" || log "overhead: exit $?"
grep -v '^RESULT' "$OUT/overhead.log" | tee -a "$OUT/run.log"

# 4. RSS flat with run length (alternating short, long)
if [ $QUICK = 1 ]; then FLAT=(flat-short flat); ROUNDS=1; else FLAT=(flat flat-long); ROUNDS=2; fi
for i in $(seq 1 "$ROUNDS"); do
  for f in "${FLAT[@]}"; do
    name=$(python3 -c 'import re,sys; print(re.search(r"^name = \"(.*)\"", open(sys.argv[1]).read(), re.M).group(1))' "bench/$f.toml")
    run_surge "$name" "$OUT/$name-$i" -- "bench/$f.toml"
  done
done

# 5. Visits in flight (alternating 5k, 50k)
ROUNDS=$([ $QUICK = 1 ] && echo 1 || echo 2)
for i in $(seq 1 "$ROUNDS"); do
  run_surge in-flight-5k "$OUT/in-flight-5k-$i" -- bench/in-flight.toml --visits 5000
  run_surge in-flight-50k "$OUT/in-flight-50k-$i" -- bench/in-flight.toml
done

# 5b. Diagnostic (full mode): the 50k run again with the exchange in its own process (`surge exchange`), so
# the harness's sockets and the exchange's do not share one process's `ulimit -n`. Peak RSS of both.
if [ $QUICK = 0 ]; then
  dir="$OUT/in-flight-50k-ext"
  timeout 10m "$SURGE" exchange --bind 127.0.0.1:0 > "$dir.exchange.out" 2> "$dir.exchange.err" &
  EXCHANGE_PID=$!
  url=""
  for _ in $(seq 1 50); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$dir.exchange.out" 2>/dev/null | head -n 1 || true)
    [ -n "$url" ] && break
    sleep 0.2
  done
  if [ -n "$url" ]; then
    run_surge in-flight-50k-ext "$dir" -- bench/in-flight.toml --target "$url"
    # $EXCHANGE_PID is `timeout`; the exchange is its child.
    ex_pid=$(pgrep -P "$EXCHANGE_PID" -x surge | head -n 1 || true)
    ex_rss=$(awk '/VmHWM/ {print $2}' "/proc/${ex_pid:-0}/status" 2>/dev/null || echo 0)
    echo "{\"name\": \"exchange-process-50k\", \"rss_mib\": $(( ${ex_rss:-0} / 1024 ))}" >> "$RESULTS"
  else
    log "in-flight-50k-ext: the exchange did not start"
  fi
  kill "$EXCHANGE_PID" 2>/dev/null || true
  wait "$EXCHANGE_PID" 2>/dev/null || true
fi

# 3. The whole first morning, then the highest time_scale that stays valid (full mode only)
if [ $QUICK = 0 ]; then
  run_surge first-morning "$OUT/first-morning-120" time_scale=120 -- scenarios/first-morning.toml
  run_surge first-morning-ts "$OUT/first-morning-240" time_scale=240 -- scenarios/first-morning.toml --time-scale 240
  if python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; sys.exit(0 if r.get("valid") else 1)' "$RESULTS"; then
    run_surge first-morning-ts "$OUT/first-morning-480" time_scale=480 -- scenarios/first-morning.toml --time-scale 480
  else
    run_surge first-morning-ts "$OUT/first-morning-180" time_scale=180 -- scenarios/first-morning.toml --time-scale 180
  fi
fi

echo
echo "== results ($(nproc) cores, shared machine; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
$REPORT table "$RESULTS" "$OUT/overhead.log" | tee "$OUT/table.txt"
echo "raw outputs: $OUT"
