#!/usr/bin/env python3
"""Helpers for bench/run.sh: read one surge run directory (+ its /usr/bin/time -v output) into a JSON
line, and print the final table from all lines. Standard library only.

  report.py run NAME RUN_DIR TIME_FILE [key=value ...] >> results.jsonl   one surge run
  report.py table results.jsonl [overhead.log]            the figures with targets and ratios
"""
import csv
import json
import math
import re
import statistics
import sys
from pathlib import Path

WINDOW_S = 10
MIN_INTENDED = 100


def parse_time(path):
    """Wall seconds, peak RSS (MiB), user+sys CPU seconds and exit status from `/usr/bin/time -v`."""
    text = Path(path).read_text(errors="replace")
    out = {}
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    out["rss_mib"] = int(m.group(1)) / 1024 if m else None
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if m:
        secs = 0.0
        for part in m.group(1).split(":"):
            secs = secs * 60 + float(part)
        out["wall_s"] = secs
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    syst = re.search(r"System time \(seconds\): ([\d.]+)", text)
    if user and syst:
        out["cpu_s"] = float(user.group(1)) + float(syst.group(1))
    m = re.search(r"Exit status: (\d+)", text)
    out["exit"] = int(m.group(1)) if m else None
    return out


def pacing(timeline):
    """Worst |started/intended - 1| over 10 s windows of elapsed time with >= 100 intended arrivals."""
    windows = {}
    max_in_flight = 0
    with open(timeline) as f:
        for row in csv.DictReader(f):
            elapsed = float(row["elapsed_s"])
            # A row ends at `elapsed`; 1 s rows ending at 1..10 s belong to window 0.
            w = max(0, math.ceil(elapsed - 1e-6) - 1) // WINDOW_S
            i, s = windows.get(w, (0, 0))
            windows[w] = (i + int(row["intended"] or 0), s + int(row["started"] or 0))
            max_in_flight = max(max_in_flight, int(row["in_flight"] or 0))
    counted = [(w, i, s) for w, (i, s) in sorted(windows.items()) if i >= MIN_INTENDED]
    worst = None
    for w, i, s in counted:
        dev = abs(s / i - 1)
        if worst is None or dev > worst[0]:
            worst = (dev, w, i, s)
    return {
        "windows": len(counted),
        "worst_window_dev": worst[0] if worst else None,
        "worst_window": f"{worst[1] * WINDOW_S}-{(worst[1] + 1) * WINDOW_S} s: {worst[3]} started / {worst[2]} intended"
        if worst
        else "",
        "max_in_flight_timeline": max_in_flight,
    }


def run(name, run_dir, time_file, *extras):
    run_dir = Path(run_dir)
    out = {"name": name, "dir": str(run_dir)}
    for extra in extras:  # key=value, numbers kept as numbers
        key, _, value = extra.partition("=")
        try:
            out[key] = float(value) if "." in value else int(value)
        except ValueError:
            out[key] = value
    out.update(parse_time(time_file))
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        s = json.loads(summary_path.read_text())
        steps = s["steps"]
        requests = sum(v["requests"] for v in steps.values())
        out.update(
            {
                "duration_s": s["duration_s"],
                "ending": s["ending"],
                "planned": s["visits"]["planned"],
                "started": s["visits"]["started"],
                "completed": s["visits"]["completed"],
                "late": s["visits"]["late"],
                "lateness_p99_ms": s["visits"]["lateness_p99_ms"],
                "valid": s["generator"]["valid"],
                "reason": s["generator"]["reason"],
                "pool": s["generator"]["pool"],
                "max_in_flight": s["generator"]["max_in_flight"],
                "requests": requests,
                "req_per_s": requests / s["duration_s"] if s["duration_s"] else None,
                "failures": sum(v["failures"] for v in steps.values()),
                "connect": sum(v["outcomes"].get("connect", 0) for v in steps.values()),
                "timeout": sum(v["outcomes"].get("timeout", 0) for v in steps.values()),
                "visit_p99_ms": s["visit_latency"]["p99_ms"],
            }
        )
    else:
        out["error"] = "no summary.json"
    timeline = run_dir / "timeline.csv"
    if timeline.exists():
        out.update(pacing(timeline))
    print(json.dumps(out))


def med_range(values, fmt="{:.1f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))}, n={len(values)})"


def yes(ok):
    return "MET" if ok else "NOT MET"


def table(results_path, overhead_log=None):
    rows = [json.loads(l) for l in Path(results_path).read_text().splitlines() if l.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["name"], []).append(r)
    lines = []

    def add(figure, value, target, verdict=""):
        lines.append((figure, value, target, verdict))

    # 1. Pacing
    p = by.get("pacing", [])
    if p:
        devs = [r.get("worst_window_dev") for r in p]
        lat = [r.get("lateness_p99_ms") for r in p]
        valid = [r.get("valid") for r in p]
        add("1 pacing: worst |started/intended-1| per 10 s window (ci.toml)",
            med_range([d * 100 for d in devs if d is not None], "{:.2f}") + " %",
            "< 1 % in every window", yes(all(d is not None and d < 0.01 for d in devs)))
        add("1 pacing: visits.lateness_p99_ms", med_range(lat, "{:.1f}") + " ms", "<= 100 ms (late_after)",
            yes(all(x is not None and x <= 100 for x in lat)))
        add("1 pacing: generator.valid", " ".join(str(v) for v in valid), "true", yes(all(valid)))

    # 2. Overhead
    if overhead_log and Path(overhead_log).exists():
        res = [json.loads(l[7:]) for l in Path(overhead_log).read_text().splitlines() if l.startswith("RESULT ")]
        plain = [r["req_per_s"] for r in res if r.get("kind") == "plain"]
        surge = [r["req_per_s"] for r in res if r.get("kind") == "surge"]
        summ = [r for r in res if r.get("summary")]
        add("2 overhead: plain Goose req/s (50 users, per-user clients)", med_range(plain, "{:.0f}"), "baseline")
        add("2 overhead: surge recording path req/s (shared client, journeys::call)", med_range(surge, "{:.0f}"),
            ">= plain")
        if summ:
            s = summ[0]
            add("2 overhead: ratio surge/plain, paired by round", f"{s['ratio_median']:.3f} ({s['ratio_min']:.3f}-{s['ratio_max']:.3f})",
                ">= 1.00", yes(s["ratio_median"] >= 1.0) + (" (within noise)" if s["ratio_min"] < 1.0 <= s["ratio_max"] else ""))

    # 3. First morning
    for r in by.get("first-morning", []) + by.get("first-morning-ts", []):
        tag = r["name"] + (f" x{r.get('time_scale')}" if r.get("time_scale") else "")
        add(f"3 {tag}: wall / peak RSS / HTTP req/s",
            f"{r.get('wall_s', 0):.0f} s / {r.get('rss_mib', 0):.0f} MiB / {r.get('req_per_s') or 0:.0f}",
            "RSS < 1024 MiB", yes((r.get("rss_mib") or 1e9) < 1024))
        add(f"3 {tag}: generator.valid, lateness p99",
            f"{r.get('valid')} ({r.get('reason') or 'ok'}), {r.get('lateness_p99_ms')} ms; {r.get('started')}/{r.get('planned')} started, "
            f"{r.get('failures')} failures, {r.get('connect')} connect",
            "valid", yes(bool(r.get("valid"))))
    ts = by.get("first-morning-ts", [])
    fm = by.get("first-morning", [])
    if fm:
        best = max([120] * bool(fm[0].get("valid")) + [r["time_scale"] for r in ts if r.get("valid")] or [0])
        add("3 highest time_scale tried that stayed valid", str(best) if best else "none", ">= 120", yes(best >= 120))

    # 4. Flat RSS
    for short, long in (("flat-15s", "flat-60s"), ("flat-60s", "flat-240s")):
        a, b = by.get(short, []), by.get(long, [])
        if a and b:
            ra = [r.get("rss_mib") for r in a]
            rb = [r.get("rss_mib") for r in b]
            ratios = [y / x for x, y in zip(ra, rb) if x and y]
            add(f"4 peak RSS {short} (baseline)", med_range(ra) + " MiB", "")
            add(f"4 peak RSS {long}", med_range(rb) + " MiB", "same as baseline")
            add(f"4 ratio {long}/{short}, paired by round", med_range(ratios, "{:.3f}"), "~1.00 (flat)",
                yes(all(x < 1.10 for x in ratios)) + " (< 1.10)")
            for r in a + b:
                if not r.get("valid"):
                    add(f"4 note: {r['name']} generator not valid", r.get("reason", ""), "")

    # 5. In flight
    a, b = by.get("in-flight-5k", []), by.get("in-flight-50k", [])
    if a and b:
        ra = [r.get("rss_mib") for r in a]
        rb = [r.get("rss_mib") for r in b]
        per = [(y - x) * 1024 / 45000 for x, y in zip(ra, rb) if x and y]
        add("5 in-flight 5k: peak RSS", med_range(ra) + " MiB", "")
        add("5 in-flight 50k: peak RSS", med_range(rb) + " MiB", "< 1024 MiB", yes(all(x < 1024 for x in rb)))
        add("5 in-flight 50k: max in_flight (timeline.csv)", med_range([r.get("max_in_flight_timeline") for r in b], "{:.0f}"),
            "~50000")
        add("5 memory per visit in flight (RSS50k-RSS5k)/45000", med_range(per, "{:.1f}") + " KiB", "")
        for r in a + b:
            add(f"5 {r['name']}: valid, lateness p99, connect/timeout failures",
                f"{r.get('valid')} ({r.get('reason') or 'ok'}), {r.get('lateness_p99_ms')} ms, {r.get('connect')}/{r.get('timeout')}", "")

    for r in by.get("in-flight-50k-ext", []):
        ex = by.get("exchange-process-50k", [{}])[0].get("rss_mib")
        add("5b in-flight 50k, exchange in its own process: surge peak RSS / exchange peak RSS",
            f"{r.get('rss_mib', 0):.0f} MiB / {ex or 0:.0f} MiB", "surge < 1024 MiB", yes((r.get("rss_mib") or 1e9) < 1024))
        add("5b in-flight 50k ext: max in_flight, valid, lateness p99, connect failures",
            f"{r.get('max_in_flight_timeline')}, {r.get('valid')}, {r.get('lateness_p99_ms')} ms, {r.get('connect')}", "")
        if a and r.get("rss_mib") and r.get("max_in_flight_timeline"):
            base = statistics.median([x.get("rss_mib") for x in a])
            add("5b memory per visit in flight, ext: (RSS_ext - RSS5k)/(max_in_flight - 5000)",
                f"{(r['rss_mib'] - base) * 1024 / max(1, r['max_in_flight_timeline'] - 5000):.1f} KiB", "")

    w = max(len(l[0]) for l in lines) if lines else 10
    for fig, val, tgt, ver in lines:
        print(f"{fig:<{w}}  {val}  [target: {tgt or '-'}]  {ver}")


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(*sys.argv[2:])
    elif sys.argv[1] == "table":
        table(*sys.argv[2:4])
    else:
        sys.exit(__doc__)
