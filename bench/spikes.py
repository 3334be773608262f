#!/usr/bin/env python3
"""Issue 12: what exemplars, failures.csv and spike detection cost a run.

    python3 bench/spikes.py OLD_BIN NEW_BIN [ROUNDS] [SCENARIO] [OUT_DIR]

OLD_BIN is surge built at 8e15a78 (before exemplars and spike windows: `git worktree add /tmp/old12
8e15a78 && cargo build --release` there), NEW_BIN the build to measure. Both run SCENARIO (default
scenarios/first-morning.toml, twelve minutes a run) with the embedded exchange, alternating old, new,
old, new, … for ROUNDS rounds (default 1). Per run: CPU seconds and peak RSS of the process (rusage of
the child at its exit), requests, whether the generator was valid; for NEW, the size of
exemplars.jsonl and failures.csv and the examples per interval, from which the size for a run ten
times longer follows (the caps are per interval, with 50,000 examples a run at most).

Prints one JSON line per run, then the medians and the ratios new/old of CPU per request and of peak
RSS (issue 12 asks CPU within 2 % and peak RSS within 5 %).
"""
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

MAX_PER_RUN = 50_000


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(binary, scenario, out):
    cmd = [binary, "run", scenario, "--quiet", "--out", str(out), "--force"]
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # This child's own rusage (RUSAGE_CHILDREN's maxrss would be the largest of every run so far).
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    code = child.returncode
    cpu = usage.ru_utime + usage.ru_stime
    summary = json.loads((Path(out) / "summary.json").read_text())
    requests = sum(v["requests"] for v in summary["steps"].values())
    rec = {"exit": code, "wall_s": round(time.monotonic() - t0, 1), "cpu_s": round(cpu, 2),
           "requests": requests, "cpu_us_per_request": round(1e6 * cpu / max(requests, 1), 1),
           "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "valid": summary["generator"]["valid"],
           "spikes": len(summary.get("spikes", []))}
    exemplars = Path(out) / "exemplars.jsonl"
    if exemplars.exists():
        lines = sum(1 for _ in exemplars.open())
        intervals = sum(1 for _ in (Path(out) / "timeline.csv").open()) - 1
        rec.update({"exemplars_bytes": exemplars.stat().st_size, "exemplars": lines,
                    "intervals": intervals,
                    "failures_csv_bytes": (Path(out) / "failures.csv").stat().st_size,
                    # Ten times the intervals, the same examples per interval, within the run cap.
                    "exemplars_10x_bytes_bound": round(min(10 * lines, MAX_PER_RUN)
                                                       * exemplars.stat().st_size / max(lines, 1))})
    return rec


def main():
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    scenario = sys.argv[4] if len(sys.argv) > 4 else "scenarios/first-morning.toml"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = Path(sys.argv[5] if len(sys.argv) > 5 else f"reports/bench-spikes-{stamp}")
    out.mkdir(parents=True, exist_ok=True)
    results = {"old": [], "new": []}
    for r in range(1, rounds + 1):
        for build, binary in (("old", old), ("new", new)):
            rec = {"round": r, "build": build, "load_start": loadavg()}
            rec.update(run(binary, scenario, out / f"{build}-{r}"))
            rec["load_end"] = loadavg()
            print(json.dumps(rec), flush=True)
            results[build].append(rec)
    med = lambda build, key: statistics.median(r[key] for r in results[build])
    for key in ("cpu_us_per_request", "peak_rss_mib"):
        o, n = med("old", key), med("new", key)
        print(f"{key}: old median {o}, new median {n}, new/old {n / o:.3f}")


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    main()
