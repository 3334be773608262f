#!/usr/bin/env python3
"""Issue 11: requests per CPU-second of the data-driven journeys against the compiled journeys.

    python3 bench/journeys.py OLD_BIN NEW_BIN [ROUNDS] [OUT_DIR]

OLD_BIN is surge built at 9276b40 (the commit before journeys became data: `git worktree add
/tmp/old 9276b40 && cargo build --release` there), NEW_BIN the build to measure. Both run
scenarios/ci.toml (about 5,800 visits, 38,000 requests), alternating old, new, old, new, … for ROUNDS
rounds (default 3), two ways:

- separate: against one `surge exchange` (NEW_BIN's, fresh each run), counting the harness's CPU
  only (rusage of the child at its exit): what the journeys cost;
- embedded: the exchange in the same process, as `surge run` is used by default; the whole
  process's CPU. The exchange changed between the two builds too (issue 10 cut its CPU), so this
  figure mixes both changes.

Requests are the sum of `steps.*.requests` in summary.json. Prints one JSON line per run and the
medians, with the ratio new/old of requests per CPU-second (issue 11 asks at least 0.9).
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from shards import exchange  # bench/ is on the path when a script of it runs


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def requests(run_dir):
    s = json.loads((Path(run_dir) / "summary.json").read_text())
    return sum(v["requests"] for v in s["steps"].values()), s["generator"]["valid"]


def run(binary, out, target=None):
    cmd = [binary, "run", "scenarios/ci.toml", "--quiet", "--out", str(out), "--force"]
    if target:
        cmd += ["--target", target]
    before = child_cpu()
    t0 = time.monotonic()
    code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300).returncode
    cpu = child_cpu() - before
    n, valid = requests(out)
    return {"exit": code, "cpu_s": round(cpu, 3), "wall_s": round(time.monotonic() - t0, 2),
            "requests": n, "valid": valid, "req_per_cpu_s": round(n / cpu, 1)}


def main():
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    out = Path(sys.argv[4] if len(sys.argv) > 4 else f"reports/bench-journeys-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    out.mkdir(parents=True, exist_ok=True)
    results = {(mode, build): [] for mode in ("separate", "embedded") for build in ("old", "new")}
    for r in range(1, rounds + 1):
        for mode in ("separate", "embedded"):
            for build, binary in (("old", old), ("new", new)):
                rec = {"round": r, "mode": mode, "build": build, "load_start": loadavg()}
                if mode == "separate":
                    ex, url = exchange(new)
                    try:
                        rec.update(run(binary, out / f"{mode}-{build}-{r}", url))
                    finally:
                        ex.kill()
                        ex.wait()
                else:
                    rec.update(run(binary, out / f"{mode}-{build}-{r}"))
                rec["load_end"] = loadavg()
                print(json.dumps(rec), flush=True)
                results[(mode, build)].append(rec["req_per_cpu_s"])
    for mode in ("separate", "embedded"):
        o, n = results[(mode, "old")], results[(mode, "new")]
        ratios = [b / a for a, b in zip(o, n)]
        print(f"{mode}: requests per CPU-second old median {statistics.median(o):.0f} ({min(o):.0f}-{max(o):.0f}), "
              f"new median {statistics.median(n):.0f} ({min(n):.0f}-{max(n):.0f}); "
              f"new/old per round {', '.join(f'{x:.2f}' for x in ratios)}, median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    main()
