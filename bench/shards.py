#!/usr/bin/env python3
"""Issue 13: shards merged against one process, and 50,000 visits in flight over shards.

    python3 bench/shards.py merge BIN [ROUNDS] [SHARDS]
    python3 bench/shards.py in-flight BIN [SHARDS] [SCENARIO]
    python3 bench/shards.py in-flight-one BIN [SCENARIO]

`merge`: scenarios/ci.toml (about 5,800 visits) run by one process, then by SHARDS processes
(default 4) with `--shard K/N --start-at` and `surge merge`d, alternating, ROUNDS times (default 2).
Every run gets a fresh standalone `surge exchange` (its own process), so the insurers' 834 inboxes
hold that run's applicants only. Prints per run the visit counts, funnel, cracks and p50/p95/p99 per
step, then whether counts, funnel and cracks are identical and each step's percentiles side by side.

`in-flight`: SCENARIO (default bench/in-flight.toml: 50,000 visits arriving within 10 s, each
thinking 40 s) in SHARDS processes (default 4) against one standalone exchange. Each shard serves
--metrics-bind; every 0.5 s the bench scrapes the shards' surge_visits_in_flight and reads their RSS
from /proc, and reports the peak of the sums (coincident), every visit started or not, connect
failures, the open-file limit, and harness RSS per 1,000 visits in flight.

`in-flight-one`: SCENARIO (default bench/in-flight-spread.toml: 50,000 visits arriving over 30 s, each
thinking 60 s) in one process against a standalone exchange, first with `--visits 1000` (the idle
baseline: the process with a thousand visits in flight), then whole; prints both runs and the memory
per visit in flight above the baseline, in KiB: (RSS at the peak - RSS at the baseline's peak) /
(visits in flight at the peak - at the baseline's).
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from engine import status  # bench/ is on the path when a script of it runs

ROOT = Path(__file__).resolve().parent.parent


def exchange(binary):
    proc = subprocess.Popen([binary, "exchange", "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    url = line.removeprefix("surge exchange listening on ")
    assert url.startswith("http://127.0.0.1:"), line
    return proc, url


def start_at(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def summary(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())


def facts(s):
    steps = {name: (v["requests"], v["failures"]) for name, v in s["steps"].items()}
    cracks = {hios: {k: v for k, v in insurer.items() if k != "examples"}
              for hios, insurer in s["cracks"].get("insurers", {}).items()}
    return {"visits": s["visits"]["planned"], "started": s["visits"]["started"],
            "funnel": s["funnel"], "steps": steps, "cracks": cracks,
            "valid": s["generator"]["valid"]}


def percentiles(s):
    return {name: (v["p50_ms"], v["p95_ms"], v["p99_ms"]) for name, v in s["steps"].items()}


def run_single(binary, out):
    proc, url = exchange(binary)
    try:
        subprocess.run([binary, "run", "scenarios/ci.toml", "--quiet", "--target", url, "--out",
                        str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        proc.terminate()
        proc.wait()
    return summary(out)


def run_sharded(binary, shards, out):
    proc, url = exchange(binary)
    at = start_at(3)
    dirs = [out / f"shard-{k}" for k in range(shards)]
    try:
        children = [subprocess.Popen([binary, "run", "scenarios/ci.toml", "--quiet", "--target", url,
                                      "--shard", f"{k}/{shards}", "--start-at", at, "--out", str(d)],
                                     cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for k, d in enumerate(dirs)]
        for child in children:
            child.wait()
        subprocess.run([binary, "merge", str(out / "merged"), *map(str, dirs), "--quiet"], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        proc.terminate()
        proc.wait()
    return summary(out / "merged")


def merge_bench(binary, rounds=2, shards=4):
    work = Path(tempfile.mkdtemp(prefix="surge-bench-shards-"))
    print(f"run directories under {work}")
    singles, merged = [], []
    for r in range(rounds):
        s = run_single(binary, work / f"single-{r}")
        singles.append(s)
        print(json.dumps({"run": f"single {r}", **facts(s)}))
        m = run_sharded(binary, shards, work / f"sharded-{r}")
        merged.append(m)
        print(json.dumps({"run": f"{shards} shards merged {r}", **facts(m),
                          "shards_valid": [x["generator_valid"] for x in m["shards"]]}))
    same = all(facts(x) | {"valid": None} == facts(singles[0]) | {"valid": None}
               for x in singles + merged)
    print(f"\nvisit counts, funnel, requests and failures per step, cracks identical in all "
          f"{2 * rounds} runs: {same}")
    print(f"\n{'step':<12} " + "  ".join(f"{'single ' + str(r):>22}" for r in range(rounds)) + "  "
          + "  ".join(f"{'merged ' + str(r):>22}" for r in range(rounds)) + "   (p50/p95/p99 ms)")
    for step in singles[0]["step_order"]:
        cells = [percentiles(x)[step] for x in singles + merged]
        print(f"{step:<12} " + "  ".join(f"{a:>6.2f}/{b:>6.2f}/{c:>6.2f}" for a, b, c in cells))


def scrape(port):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    m = re.search(r"^surge_visits_in_flight\{[^}]*\} (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_flight_bench(binary, shards=4, scenario="bench/in-flight.toml", extra=()):
    work = Path(tempfile.mkdtemp(prefix="surge-bench-inflight-"))
    proc, url = exchange(binary)
    at = start_at(3)
    ports = [free_port() for _ in range(shards)]
    children = [subprocess.Popen([binary, "run", scenario, "--quiet", "--target", url, "--shard",
                                  f"{k}/{shards}", "--start-at", at, "--out", str(work / f"shard-{k}"),
                                  "--metrics-bind", f"127.0.0.1:{ports[k]}", "--metrics-linger", "0s",
                                  *extra],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for k in range(shards)]
    peak_in_flight, peak_rss, at_peak_rss = 0, 0, 0
    while any(c.poll() is None for c in children):
        flights = [scrape(p) or 0 for p in ports]
        rss = sum(status(c.pid, "VmRSS") or 0 for c in children)
        if sum(flights) > peak_in_flight:
            peak_in_flight, at_peak_rss = sum(flights), rss
        peak_rss = max(peak_rss, rss)
        time.sleep(0.5)
    exchange_rss = status(proc.pid, "VmRSS") or 0
    proc.terminate()
    proc.wait()
    sums = [summary(work / f"shard-{k}") for k in range(shards)]
    planned = sum(s["visits"]["planned"] for s in sums)
    started = sum(s["visits"]["started"] for s in sums)
    connect = sum(v["outcomes"].get("connect", 0) for s in sums for v in s["steps"].values())
    result = {
        "shards": shards, "planned": planned, "started": started,
        "connect_failures": connect,
        "peak_in_flight_sampled": peak_in_flight,
        "peak_in_flight_sum_of_shard_peaks": sum(s["generator"]["max_in_flight"] for s in sums),
        "harness_rss_mib_peak": round(peak_rss, 1),
        "harness_rss_mib_at_peak_in_flight": round(at_peak_rss, 1),
        "harness_rss_mib_per_1000_in_flight": round(at_peak_rss / max(peak_in_flight, 1) * 1000, 2),
        "exchange_rss_mib_at_end": round(exchange_rss, 1),
        "open_files_limit": [s.get("open_files", {}).get("limit") for s in sums],
        "open_files_bounded": any(s.get("open_files", {}).get("bounded") for s in sums),
        "valid": [s["generator"]["valid"] for s in sums],
        "endings": sorted({s["ending"] for s in sums}),
    }
    print(json.dumps(result, indent=1))
    return result


def in_flight_one(binary, scenario="bench/in-flight-spread.toml"):
    base = in_flight_bench(binary, 1, scenario, ("--visits", "1000"))
    full = in_flight_bench(binary, 1, scenario)
    visits = full["peak_in_flight_sampled"] - base["peak_in_flight_sampled"]
    mib = full["harness_rss_mib_at_peak_in_flight"] - base["harness_rss_mib_at_peak_in_flight"]
    print(json.dumps({
        "name": "in-flight-one",
        "peak_in_flight": full["peak_in_flight_sampled"],
        "harness_rss_mib_peak": full["harness_rss_mib_peak"],
        "baseline_rss_mib": base["harness_rss_mib_at_peak_in_flight"],
        "kib_per_visit_above_baseline": round(mib * 1024 / max(visits, 1), 2),
        "valid": base["valid"] + full["valid"],
        "connect_failures": full["connect_failures"],
    }, indent=1))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("merge", "in-flight", "in-flight-one"):
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[2])
    if sys.argv[1] == "merge":
        merge_bench(binary, *(int(a) for a in sys.argv[3:5]))
    elif sys.argv[1] == "in-flight-one":
        in_flight_one(binary, *sys.argv[3:4])
    else:
        in_flight_bench(binary, *(int(a) for a in sys.argv[3:4]), *sys.argv[4:5])


if __name__ == "__main__":
    main()
