#!/usr/bin/env bash
# surge performance measurements, all in one script on one machine (loopback only).
#
#   bench/run.sh                  the full set: every step below (about 2.5 hours on 2 cores)
#   bench/run.sh --quick          a short version (a few minutes): pacing, overhead, flat and in-flight only,
#                                 shorter runs, fewer rounds
#   bench/run.sh STEP...          only the named steps, in the order given (with --quick: their short versions)
#
# Steps (the README's performance figures name the step that reproduces each):
#   pacing          1. pacing accuracy: scenarios/ci.toml                      (full: 3 runs, quick: 1)
#   overhead        2. recording overhead: cargo bench --bench overhead        (full: 3 rounds x 10 s, quick: 2 x 5 s)
#   flat            4. RSS flat with run length: bench/flat.toml (60 s) vs bench/flat-long.toml (240 s),
#                      alternating (quick: bench/flat-short.toml (15 s) vs bench/flat.toml (60 s))
#   flat-ext        4b. the same two runs against a separate `surge exchange` (--target), harness RSS only
#   in-flight       5. visits in flight: bench/in-flight.toml at 5,000 and 50,000 visits, alternating
#   in-flight-ext   5b. the 50,000 run with the exchange in its own process
#   in-flight-one   5c. 50,000 visits in flight in ONE process against a separate exchange
#                      (bench/in-flight-spread.toml, via bench/shards.py in-flight-one): first 1,000
#                      (the baseline), then 50,000; peak RSS and KiB per visit in flight above the baseline
#   first-morning-60  3a. the whole first morning as shipped (60x, about 12 minutes), then `surge report`
#                      on its run directory, timed (figure: drawing every chart)
#   first-morning   3. the first morning at 120x, sampling the process's CPU, open fds and the load
#                      average every 5 s; then 240x, then 480x (if 240x was valid) or 180x
# Engine steps (issue 10; drivers in bench/engine.py; with SURGE_OLD_BIN set, the A/B steps alternate
# old, new, old, new; without it they run SURGE_BIN only):
#   idle            6. an idle pool: bench/idle.toml (30,000 visits, none due for 40 s) against a separate
#                      `surge exchange`; harness CPU from t=5 to 30 s, RSS at 30 s, then SIGTERM (SIGKILL
#                      if no exit within 15 s). Pool 30,000: 2 rounds (quick: 1); pool 300 and no pool
#                      line: 1 round each
#   ci-cpu          7. CPU per request: scenarios/ci.toml against a separate `surge exchange`, harness
#                      CPU-seconds (rusage at exit) and the exchange's (/proc/PID/stat before and after)
#                      divided by the requests in summary.json (full: 3 rounds, quick: 1)
#   first-morning-speeds  8. the first morning at 60x, then at 120x (about 18 minutes), then both side
#                      by side: funnel, errors and latency per step, waiting room, knee and waiting-room
#                      clock times (SURGE_BIN only)
#   huge-visits     9. --visits 2000000000 on scenarios/smoke.toml (Poisson) and bench/huge-uniform.toml,
#                      each as it is and with pool = 64: time until the first visit starts and RSS then,
#                      then SIGTERM (SIGKILL 30 s later; 120 s with pool = 64); the old binary's RSS for
#                      10 s (SIGKILL at 10 s or 4 GiB); --visits 1000000000000 (refused, exit 2)
#   exchange-cpu    7b. the exchange's CPU per request on scenarios/ci.toml, EXCHANGE_OLD_BIN against
#                      EXCHANGE_BIN (default SURGE_BIN) alternating, SURGE_BIN as the harness of both
#                      (full: 3 rounds each, quick: 1)
#   first-morning-runs  12. the first morning at 60x, FM_RUNS times (3; about 12 minutes each), sampled
#                      (CPU, fds, RSS, load average, machine busy every 5 s); then FM120_RUNS (0) at 120x
#   goose-baseline  10. surge against plain Goose at the same rate: one separate `surge exchange`; 3 rounds
#                      (quick: 1) of scenarios/ci.toml (harness CPU per request, rusage at exit) then
#                      examples/plain_goose/, one GET of /api/v1/counties/by/zip/27601 per iteration,
#                      GOOSE_USERS (20) users waiting GOOSE_WAIT_MS (21-30) ms for GOOSE_RUN_S (48) s,
#                      then plain Goose on ci.toml's four journeys written by hand (PLAIN_GOOSE_JOURNEY=mix),
#                      GOOSE_MIX_USERS (5) users waiting GOOSE_MIX_WAIT_MS (16-26) ms, about ci.toml's rate;
#                      the ratios of CPU per request, surge / Goose on one GET and surge / Goose on the mix
#                      (SURGE_BIN only)
#   goose-saturation  11. at saturation, the exchange pinned to core 0 and the generator to core 1 (taskset),
#                      3 rounds (quick: 1) of 20 s each: plain Goose 50 users no wait on one GET; plain
#                      Goose running the browse requests (counties, 1 page of search, plan details); surge
#                      on bench/saturation.toml (browse only, 1 page, one ZIP, cap 50 in flight): requests
#                      per CPU-second of the generator (SURGE_BIN only)
# Raw outputs go to reports/bench-<UTC stamp>/ (or BENCH_OUT=DIR); the table at the end is also written
# to its table.txt. Every run is bounded: each scenario has a max_duration, and each command runs under
# `timeout` or a driver that stops it.
# SURGE_BIN=path/to/surge uses that binary instead of building one (the overhead step still builds
# its bench with cargo). SURGE_OLD_BIN=path/to/older/surge adds it to the A/B steps (idle, ci-cpu,
# huge-visits). EXCHANGE_BIN (default SURGE_BIN) serves the separate exchange of idle, ci-cpu,
# goose-baseline and goose-saturation. GOOSE_BIN (default: built with `cargo build --release --example
# plain_goose`) is the plain Goose attack.
# Each binary is copied into the output directory (bin/) at the start and run from there.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
STEPS=()
ALL_STEPS=(pacing overhead flat flat-ext in-flight in-flight-ext in-flight-one first-morning-60 first-morning
  idle ci-cpu exchange-cpu first-morning-speeds huge-visits goose-baseline goose-saturation first-morning-runs)
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    pacing|overhead|flat|flat-ext|in-flight|in-flight-ext|in-flight-one|first-morning-60|first-morning) STEPS+=("$arg") ;;
    idle|ci-cpu|exchange-cpu|first-morning-speeds|huge-visits|goose-baseline|goose-saturation|first-morning-runs) STEPS+=("$arg") ;;
    *) echo "usage: bench/run.sh [--quick] [STEP...]; steps: ${ALL_STEPS[*]}" >&2; exit 2 ;;
  esac
done
if [ ${#STEPS[@]} -eq 0 ]; then
  if [ $QUICK = 1 ]; then STEPS=(pacing overhead flat in-flight); else STEPS=("${ALL_STEPS[@]}"); fi
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="${BENCH_OUT:-$PWD/reports/bench-$STAMP}"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
SURGE="${SURGE_BIN:-$CARGO_TARGET_DIR/release/surge}"
SURGE_OLD="${SURGE_OLD_BIN:-}"
REPORT="python3 bench/report.py"
ENGINE="python3 bench/engine.py"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log"; }

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(free -m | awk '/Mem:/ {print $2 " MiB"}')"
  echo "kernel: $(uname -r); ulimit -n: $(ulimit -n)"
  echo "rustc: $(rustc --version)"
  echo "mode: $([ $QUICK = 1 ] && echo quick || echo full); steps: ${STEPS[*]}"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

if [ -z "${SURGE_BIN:-}" ]; then
  log "building release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  cargo build --release --locked --bin surge 2>&1 | tail -n 3
else
  log "using SURGE_BIN=$SURGE_BIN (not building)"
fi
# Every run uses a copy of each binary taken now, so that a rebuild or a new copy in place during the
# measurements cannot mix two binaries into one figure.
pin_bin() {
  mkdir -p "$OUT/bin"
  cp "$1" "$OUT/bin/$2"
  echo "$2: $1 ($(stat -c '%y, %s bytes' "$1"), sha256 $(sha256sum "$1" | cut -c1-16)) -> $OUT/bin/$2" | tee -a "$OUT/machine.txt"
}
pin_bin "$SURGE" surge
SURGE="$OUT/bin/surge"
if [ -n "$SURGE_OLD" ]; then
  pin_bin "$SURGE_OLD" surge-old
  SURGE_OLD="$OUT/bin/surge-old"
fi
EXCHANGE="$SURGE"
if [ -n "${EXCHANGE_BIN:-}" ]; then
  pin_bin "$EXCHANGE_BIN" surge-exchange
  EXCHANGE="$OUT/bin/surge-exchange"
fi
EXCHANGE_OLD=""
if [ -n "${EXCHANGE_OLD_BIN:-}" ]; then
  pin_bin "$EXCHANGE_OLD_BIN" surge-exchange-old
  EXCHANGE_OLD="$OUT/bin/surge-exchange-old"
fi
case " ${STEPS[*]} " in
  *" overhead "*) cargo bench --locked --bench overhead --no-run 2>&1 | tail -n 2 ;;
esac
case " ${STEPS[*]} " in
  *" goose-baseline "*|*" goose-saturation "*)
    if [ -z "${GOOSE_BIN:-}" ]; then
      log "building the plain Goose attack (cargo build --release --example plain_goose)"
      cargo build --release --locked --example plain_goose 2>&1 | tail -n 2
      GOOSE_BIN="$CARGO_TARGET_DIR/release/examples/plain_goose"
    fi
    pin_bin "$GOOSE_BIN" plain_goose
    GOOSE="$OUT/bin/plain_goose" ;;
esac

# sample DIR: while the surge process whose pid is in DIR.pid lives, every 5 s one row of DIR.samples.csv:
# its CPU (% of one core, from utime+stime in /proc/PID/stat), open fds, soft `ulimit -n`, RSS, the 1-minute
# load average, and how busy the whole machine was (% of all cores, from /proc/stat). Another process
# (a compile) shows up as machine_busy_pct above this process's share.
sample() {
  python3 - "$1" <<'PY'
import os, sys, time
dir = sys.argv[1]
pid = None
for _ in range(100):
    try:
        pid = open(dir + ".pid").read().strip()
        break
    except OSError:
        time.sleep(0.1)
if not pid:
    sys.exit(0)
tick = os.sysconf("SC_CLK_TCK")
cores = os.cpu_count()

def cpu_s():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def machine():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)

with open(dir + ".samples.csv", "w") as out:
    out.write("t_s,cpu_pct_one_core,fds,nofile_soft,rss_mib,load1,machine_busy_pct\n")
    t0 = last_t = time.monotonic()
    try:
        last_cpu, (last_busy, last_total) = cpu_s(), machine()
        while True:
            time.sleep(5)
            now, cpu, (busy, total) = time.monotonic(), cpu_s(), machine()
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            limits = open(f"/proc/{pid}/limits").read()
            nofile = next(l.split()[3] for l in limits.splitlines() if l.startswith("Max open files"))
            rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
            load1 = open("/proc/loadavg").read().split()[0]
            out.write(f"{now - t0:.1f},{100 * (cpu - last_cpu) / (now - last_t):.0f},{fds},{nofile},"
                      f"{rss / 1024:.0f},{load1},{100 * (busy - last_busy) / max(1, total - last_total):.0f}\n")
            out.flush()
            last_t, last_cpu, last_busy, last_total = now, cpu, busy, total
    except (OSError, StopIteration):
        pass  # the process ended
PY
}

# samples_line DIR: one line about DIR.samples.csv, for the log.
samples_line() {
  python3 - "$1.samples.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
if not rows:
    sys.exit(0)
col = lambda k: [float(r[k]) for r in rows]
print(f"    samples (n={len(rows)}, every 5 s): surge CPU median {statistics.median(col('cpu_pct_one_core')):.0f} %"
      f" / max {max(col('cpu_pct_one_core')):.0f} % of one core; open fds max {max(col('fds')):.0f}"
      f" of {rows[0]['nofile_soft']}; machine busy median {statistics.median(col('machine_busy_pct')):.0f} %;"
      f" load average {min(col('load1')):.2f}-{max(col('load1')):.2f}")
PY
}

# run_surge NAME DIR [report extras...] -- ARGS...: one surge run under /usr/bin/time -v, bounded by
# `timeout` ($RUN_TIMEOUT, default 15m), appended to results.jsonl; with SAMPLE=1, sampled as above.
# A run that stops early (exit 130) is still recorded.
run_surge() {
  local name=$1 dir=$2; shift 2
  local extras=()
  while [ "$1" != "--" ]; do extras+=("$1"); shift; done
  shift
  log "$name: surge run $* --quiet --out $dir"
  local rc=0 job sampler=""
  # `sh -c … exec` leaves surge's own pid in $dir.pid for the sampler; /usr/bin/time still measures surge.
  timeout --signal=INT --kill-after=30s "${RUN_TIMEOUT:-15m}" \
    /usr/bin/time -v -o "$dir.time" sh -c 'echo $$ > "$0"; exec "$@"' "$dir.pid" \
    "$SURGE" run "$@" --quiet --out "$dir" > "$dir.stdout" 2> "$dir.stderr" &
  job=$!
  if [ "${SAMPLE:-0}" = 1 ]; then sample "$dir" & sampler=$!; fi
  wait "$job" || rc=$?
  if [ -n "$sampler" ]; then wait "$sampler" || true; fi
  log "$name: exit $rc, load average $(cut -d' ' -f1 /proc/loadavg)"
  $REPORT run "$name" "$dir" "$dir.time" rc=$rc "${extras[@]}" >> "$RESULTS"
  tail -n 1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("   ", {k: r.get(k) for k in ("wall_s","rss_mib","req_per_s","valid","lateness_p99_ms","worst_window_dev","max_in_flight_timeline","connect")})'
  if [ -n "$sampler" ]; then samples_line "$dir" | tee -a "$OUT/run.log" || true; fi
}

# with_exchange NAME: start `surge exchange` on a free loopback port in the background; sets
# EXCHANGE_URL (empty if it did not start) and EXCHANGE_PID (`timeout`'s pid; the exchange is its child).
with_exchange() {
  local out="$OUT/$1.exchange"
  timeout 20m "$SURGE" exchange --bind 127.0.0.1:0 > "$out.out" 2> "$out.err" &
  EXCHANGE_PID=$!
  EXCHANGE_URL=""
  for _ in $(seq 1 50); do
    EXCHANGE_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$out.out" 2>/dev/null | head -n 1 || true)
    [ -n "$EXCHANGE_URL" ] && break
    sleep 0.2
  done
  [ -n "$EXCHANGE_URL" ] || log "$1: the exchange did not start"
}

# stop_exchange NAME: record the exchange's peak RSS (its own VmHWM) and stop it.
stop_exchange() {
  local ex_pid ex_rss
  ex_pid=$(pgrep -P "$EXCHANGE_PID" -x surge | head -n 1 || true)
  ex_rss=$(awk '/VmHWM/ {print $2}' "/proc/${ex_pid:-0}/status" 2>/dev/null || echo 0)
  echo "{\"name\": \"exchange-process-$1\", \"rss_mib\": $(( ${ex_rss:-0} / 1024 ))}" >> "$RESULTS"
  log "$1: exchange process peak RSS $(( ${ex_rss:-0} / 1024 )) MiB"
  kill "$EXCHANGE_PID" 2>/dev/null || true
  wait "$EXCHANGE_PID" 2>/dev/null || true
}

flat_name() {
  python3 -c 'import re,sys; print(re.search(r"^name = \"(.*)\"", open(sys.argv[1]).read(), re.M).group(1))' "bench/$1.toml"
}

# 1. Pacing accuracy
step_pacing() {
  local runs i
  runs=$([ $QUICK = 1 ] && echo 1 || echo 3)
  for i in $(seq 1 "$runs"); do
    run_surge pacing "$OUT/pacing-$i" -- scenarios/ci.toml
  done
}

# 2. Recording overhead (plain Goose vs surge's recording path, alternating, in one process)
step_overhead() {
  if [ $QUICK = 1 ]; then export BENCH_ROUNDS=2 BENCH_SECS=5; else export BENCH_ROUNDS=3 BENCH_SECS=10; fi
  log "overhead: cargo bench --bench overhead (BENCH_ROUNDS=$BENCH_ROUNDS BENCH_SECS=$BENCH_SECS)"
  timeout --kill-after=30s 10m cargo bench --locked --bench overhead > "$OUT/overhead.log" 2> "$OUT/overhead.stderr" || log "overhead: exit $?"
  grep -v '^RESULT' "$OUT/overhead.log" | tee -a "$OUT/run.log" || true
}

# 4. RSS flat with run length (alternating short, long)
flat_files() {
  if [ $QUICK = 1 ]; then FLAT=(flat-short flat); ROUNDS=1; else FLAT=(flat flat-long); ROUNDS=2; fi
}
step_flat() {
  local i f name
  flat_files
  for i in $(seq 1 "$ROUNDS"); do
    for f in "${FLAT[@]}"; do
      name=$(flat_name "$f")
      run_surge "$name" "$OUT/$name-$i" -- "bench/$f.toml"
    done
  done
}

# 4b. The same, against a separate `surge exchange`: the harness's RSS without the exchange's state.
step_flat_ext() {
  local f name
  flat_files
  for f in "${FLAT[@]}"; do
    name=$(flat_name "$f")
    with_exchange "$name-ext"
    if [ -n "$EXCHANGE_URL" ]; then
      run_surge "$name-ext" "$OUT/$name-ext" -- "bench/$f.toml" --target "$EXCHANGE_URL"
    fi
    stop_exchange "$name-ext"
  done
}

# 5. Visits in flight (alternating 5k, 50k)
step_in_flight() {
  local rounds i
  rounds=$([ $QUICK = 1 ] && echo 1 || echo 2)
  for i in $(seq 1 "$rounds"); do
    run_surge in-flight-5k "$OUT/in-flight-5k-$i" -- bench/in-flight.toml --visits 5000
    run_surge in-flight-50k "$OUT/in-flight-50k-$i" -- bench/in-flight.toml
  done
}

# 5b. The 50k run again with the exchange in its own process (`surge exchange`), so the harness's
# sockets and the exchange's do not share one process's `ulimit -n`. Peak RSS of both.
step_in_flight_ext() {
  with_exchange in-flight-50k-ext
  if [ -n "$EXCHANGE_URL" ]; then
    run_surge in-flight-50k-ext "$OUT/in-flight-50k-ext" -- bench/in-flight.toml --target "$EXCHANGE_URL"
  fi
  stop_exchange 50k
}

step_in_flight_one() {
  log "in-flight-one: 1,000 then 50,000 visits in flight in one process (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  timeout --kill-after=30s 15m python3 bench/shards.py in-flight-one "$SURGE" bench/in-flight-spread.toml \
    | tee "$OUT/in-flight-one.json" | tee -a "$OUT/run.log" || true
}

# 3a. The whole first morning as shipped (60x), then the report drawn again from its run directory.
step_first_morning_60() {
  local dir="$OUT/first-morning-60"
  SAMPLE=1 RUN_TIMEOUT=20m run_surge first-morning-60 "$dir" time_scale=60 -- scenarios/first-morning.toml
  python3 - "$dir" <<'PY' | tee -a "$OUT/run.log" || true
import csv, json, sys
d = sys.argv[1]
s = json.load(open(f"{d}/summary.json"))
rows = list(csv.DictReader(open(f"{d}/timeline.csv")))
requests = sum(v["requests"] for v in s["steps"].values())
peak, prev = 0.0, 0.0
for r in rows:
    t = float(r["elapsed_s"])
    peak = max(peak, int(r["requests"]) / max(t - prev, 1e-3))
    prev = t
held = next((r["clock"] for r in rows if int(r["held"]) > 0), "")
w = s["waiting_room"]
print(f"    first morning 60x: valid {s['generator']['valid']}, {s['visits']['late']} late, lateness p99 "
      f"{s['visits']['lateness_p99_ms']} ms, {s['duration_s']:.0f} s; {requests} requests, "
      f"{requests / s['duration_s']:.0f}/s on average, {peak:.0f}/s in the busiest interval; "
      f"{w['waits']} waits in the waiting room (first ended at {held}), {w['gave_up']} gave up; "
      f"{len(rows)} intervals")
PY
  log "report: surge report $dir"
  /usr/bin/time -v -o "$dir.report.time" "$SURGE" report "$dir" > "$dir.report.stdout" 2> "$dir.report.stderr" || log "report: exit $?"
  python3 - "$dir.report.time" <<'PY' | tee -a "$OUT/run.log" || true
import re, sys
t = open(sys.argv[1]).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", t).group(1)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
print(f"    surge report (every chart, SVG and PNG, and both pages): {wall} wall, peak RSS {rss:.0f} MiB")
PY
}

# 3. The first morning at 120x (sampled: CPU, fds, load), then the highest time_scale that stays valid.
step_first_morning() {
  SAMPLE=1 run_surge first-morning "$OUT/first-morning-120" time_scale=120 -- scenarios/first-morning.toml --time-scale 120
  run_surge first-morning-ts "$OUT/first-morning-240" time_scale=240 -- scenarios/first-morning.toml --time-scale 240
  if python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; sys.exit(0 if r.get("valid") else 1)' "$RESULTS"; then
    run_surge first-morning-ts "$OUT/first-morning-480" time_scale=480 -- scenarios/first-morning.toml --time-scale 480
  else
    run_surge first-morning-ts "$OUT/first-morning-180" time_scale=180 -- scenarios/first-morning.toml --time-scale 180
  fi
}

# The binaries of an A/B step, in the order they run each round: old, new (or only new).
ab_bins() {
  if [ -n "$SURGE_OLD" ]; then echo "old:$SURGE_OLD new:$SURGE"; else echo "new:$SURGE"; fi
}

# engine_run STEP NAME DRIVER ARGS...: one driver of bench/engine.py, its JSON line appended to results.jsonl.
engine_run() {
  local step=$1 name=$2; shift 2
  log "$step: $name: $* (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  if timeout --kill-after=30s "${RUN_TIMEOUT:-10m}" $ENGINE "$@" > "$OUT/$name.json" 2> "$OUT/$name.driver.err"; then
    cat "$OUT/$name.json" >> "$RESULTS"
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("   ", {k: v for k, v in r.items() if k not in ("dir", "surge", "files", "rss_series_mib")})' < "$OUT/$name.json" | tee -a "$OUT/run.log"
  else
    log "$step: $name: driver failed (exit $?): $(tail -n 3 "$OUT/$name.driver.err")"
  fi
}

# 6. An idle pool: 30,000 visits scheduled ahead, none due for 40 s (old, new, old, new), then pool 300.
step_idle() {
  local rounds i b tag bin
  rounds=$([ $QUICK = 1 ] && echo 1 || echo "${IDLE_ROUNDS:-2}")
  sed 's/^pool = 30000$/pool = 300/' bench/idle.toml > "$OUT/idle-pool300.toml"
  # and without `pool`: whatever the binary does by default (a derived pool, or an elastic run)
  grep -v '^pool = ' bench/idle.toml > "$OUT/idle-nopool.toml"
  for i in $(seq 1 "$rounds"); do
    for b in $(ab_bins); do
      tag=${b%%:*} bin=${b#*:}
      engine_run idle "idle-$tag-30000-$i" idle "$OUT/idle-$tag-30000-$i" "idle-$tag-30000" "$bin" bench/idle.toml "$EXCHANGE"
    done
  done
  for b in $(ab_bins); do
    tag=${b%%:*} bin=${b#*:}
    engine_run idle "idle-$tag-300-1" idle "$OUT/idle-$tag-300-1" "idle-$tag-300" "$bin" "$OUT/idle-pool300.toml" "$EXCHANGE"
  done
  for b in $(ab_bins); do
    tag=${b%%:*} bin=${b#*:}
    engine_run idle "idle-$tag-nopool-1" idle "$OUT/idle-$tag-nopool-1" "idle-$tag-nopool" "$bin" "$OUT/idle-nopool.toml" "$EXCHANGE"
  done
}

# 7. CPU per request on scenarios/ci.toml, harness and exchange in separate processes (old, new, ...).
# There is no plain-Goose baseline at this request rate: benches/overhead.rs compares at saturation only.
step_ci_cpu() {
  local rounds i b tag bin
  rounds=$([ $QUICK = 1 ] && echo 1 || echo "${CPU_ROUNDS:-3}")
  for i in $(seq 1 "$rounds"); do
    for b in $(ab_bins); do
      tag=${b%%:*} bin=${b#*:}
      engine_run ci-cpu "ci-cpu-$tag-$i" ci-cpu "$OUT/ci-cpu-$tag-$i" "ci-cpu-$tag" "$bin" scenarios/ci.toml "$EXCHANGE"
    done
  done
}

# 7b. The exchange's CPU per request on scenarios/ci.toml: EXCHANGE_OLD_BIN, EXCHANGE_BIN, ... (one harness).
step_exchange_cpu() {
  local rounds i b tag bin
  [ -n "$EXCHANGE_OLD" ] || { log "exchange-cpu: needs EXCHANGE_OLD_BIN"; return; }
  rounds=$([ $QUICK = 1 ] && echo 1 || echo "${CPU_ROUNDS:-3}")
  for i in $(seq 1 "$rounds"); do
    for b in "old:$EXCHANGE_OLD" "new:$EXCHANGE"; do
      tag=${b%%:*} bin=${b#*:}
      engine_run exchange-cpu "ci-cpu-exchange-$tag-$i" ci-cpu "$OUT/ci-cpu-exchange-$tag-$i" "ci-cpu-exchange-$tag" "$SURGE" scenarios/ci.toml "$bin"
    done
  done
}

# 12. The first morning at 60x, FM_RUNS times, then FM120_RUNS times at 120x (SURGE_BIN, embedded exchange).
step_first_morning_runs() {
  local i
  for i in $(seq 1 "${FM_RUNS:-3}"); do
    SAMPLE=1 RUN_TIMEOUT=20m run_surge first-morning-60 "$OUT/fm60-$i" time_scale=60 -- scenarios/first-morning.toml
  done
  for i in $(seq 1 "${FM120_RUNS:-0}"); do
    SAMPLE=1 RUN_TIMEOUT=12m run_surge first-morning-120 "$OUT/fm120-$i" time_scale=120 -- scenarios/first-morning.toml --time-scale 120
  done
}

# 8. The first morning at 60x and at 120x (SURGE_BIN, embedded exchange), side by side.
step_first_morning_speeds() {
  SAMPLE=1 RUN_TIMEOUT=20m run_surge first-morning-speeds "$OUT/fm60" time_scale=60 -- scenarios/first-morning.toml
  SAMPLE=1 RUN_TIMEOUT=12m run_surge first-morning-speeds "$OUT/fm120" time_scale=120 -- scenarios/first-morning.toml --time-scale 120
  $ENGINE morning "$OUT/fm60" "$OUT/fm120" | tee "$OUT/first-morning-speeds.md" | tee -a "$OUT/run.log"
}

# 9. Two billion visits: how soon the first one starts, and at what RSS (Poisson and uniform arrivals);
# the old binary's RSS growth for 10 s; a count past the limit (refused before any traffic).
# Each arrival kind runs as the scenario is (`pool` as smoke.toml sets it, or not) and with `pool = 64`.
step_huge_visits() {
  local rc=0 f
  for f in scenarios/smoke.toml bench/huge-uniform.toml; do
    grep -v '^pool = ' "$f" | sed 's/^seed = 2013$/seed = 2013\npool = 64/' > "$OUT/$(basename "$f" .toml)-pool64.toml"
  done
  # After SIGTERM: 30 s for an exit (SIGKILL then), 120 s with pool = 64 (the stop has to count the
  # rest of the schedule's intended visits before it writes the summary).
  RUN_TIMEOUT=5m engine_run huge-visits huge-poisson huge "$OUT/huge" huge-poisson "$SURGE" scenarios/smoke.toml 2000000000 30
  RUN_TIMEOUT=5m engine_run huge-visits huge-uniform huge "$OUT/huge-uniform" huge-uniform "$SURGE" bench/huge-uniform.toml 2000000000 30
  RUN_TIMEOUT=6m engine_run huge-visits huge-poisson-pool64 huge "$OUT/huge-pool64" huge-poisson-pool64 "$SURGE" "$OUT/smoke-pool64.toml" 2000000000 120
  RUN_TIMEOUT=6m engine_run huge-visits huge-uniform-pool64 huge "$OUT/huge-uniform-pool64" huge-uniform-pool64 "$SURGE" "$OUT/huge-uniform-pool64.toml" 2000000000 120
  if [ -n "$SURGE_OLD" ]; then
    RUN_TIMEOUT=2m engine_run huge-visits huge-old-rss rss-growth "$OUT/huge-old" huge-old-rss "$SURGE_OLD" scenarios/smoke.toml 2000000000
  fi
  log "huge-visits: surge run scenarios/smoke.toml --visits 1000000000000"
  timeout --kill-after=10s 60s "$SURGE" run scenarios/smoke.toml --visits 1000000000000 --quiet --out "$OUT/absurd" --force \
    > "$OUT/absurd.stdout" 2> "$OUT/absurd.stderr" || rc=$?
  log "huge-visits: --visits 1000000000000: exit $rc: $(head -c 400 "$OUT/absurd.stderr")"
  echo "{\"name\": \"huge-absurd\", \"exit\": $rc, \"stderr\": $(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$OUT/absurd.stderr")}" >> "$RESULTS"
}

# 10. CPU per request at the same rate: surge on scenarios/ci.toml and plain Goose, alternating, one exchange.
step_goose_baseline() {
  local rounds
  rounds=$([ $QUICK = 1 ] && echo 1 || echo "${GOOSE_ROUNDS:-3}")
  log "goose-baseline: $rounds rounds, Goose ${GOOSE_USERS:-20} users waiting ${GOOSE_WAIT_MS:-21-30} ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  timeout --kill-after=30s 30m $ENGINE goose-baseline "$OUT/goose-baseline" "$SURGE" "$GOOSE" "$EXCHANGE" \
    scenarios/ci.toml "$rounds" "${GOOSE_USERS:-20}" "${GOOSE_WAIT_MS:-21-30}" "${GOOSE_RUN_S:-48}" \
    "${GOOSE_MIX_USERS:-5}" "${GOOSE_MIX_WAIT_MS:-16-26}" \
    > "$OUT/goose-baseline.jsonl" 2> "$OUT/goose-baseline.driver.err" || log "goose-baseline: driver exit $?"
  cat "$OUT/goose-baseline.jsonl" >> "$RESULTS"
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l); print("   ", {k: r.get(k) for k in ("name","round","exit","requests","req_per_s","cpu_s","cpu_us_per_req","exchange_cpu_us_per_req","valid","load_start","ratio_of_medians","paired_ratios","mix_ratio_of_medians","mix_paired_ratios","exchange_us_per_req") if k in r})' "$OUT/goose-baseline.jsonl" | tee -a "$OUT/run.log"
}

# 11. Saturation on one endpoint, pinned cores: requests per CPU-second of the generator.
step_goose_saturation() {
  local rounds
  rounds=$([ $QUICK = 1 ] && echo 1 || echo "${SAT_ROUNDS:-3}")
  log "goose-saturation: $rounds rounds of ${SAT_RUN_S:-20} s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  timeout --kill-after=30s 30m $ENGINE saturation "$OUT/goose-saturation" "$SURGE" "$GOOSE" "$EXCHANGE" \
    bench/saturation.toml "$rounds" "${SAT_RUN_S:-20}" \
    > "$OUT/goose-saturation.jsonl" 2> "$OUT/goose-saturation.driver.err" || log "goose-saturation: driver exit $?"
  cat "$OUT/goose-saturation.jsonl" >> "$RESULTS"
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l); print("   ", {k: r.get(k) for k in ("name","round","exit","requests","req_per_s","cpu_s","req_per_cpu_s","exchange_cpu_us_per_req","load_start","req_per_cpu_s","surge_browse_over_goose_browse","surge_browse_over_goose_get") if k in r})' "$OUT/goose-saturation.jsonl" | tee -a "$OUT/run.log"
}

for step in "${STEPS[@]}"; do
  "step_${step//-/_}"
done

echo
echo "== results ($(nproc) cores, shared machine; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
{ $REPORT table "$RESULTS" "$OUT/overhead.log"; $ENGINE table "$RESULTS"; } | tee "$OUT/table.txt"
echo "raw outputs: $OUT"
