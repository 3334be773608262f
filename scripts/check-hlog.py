#!/usr/bin/env python3
"""Decode a run's latency.hlog with HdrHistogram's Python library (another language's reader) and
check that it gives the percentiles summary.json reports.

Usage: scripts/check-hlog.py RUN_DIR      (pip install hdrhistogram)
Exits 0 when every step's count and percentiles agree, 1 otherwise.
"""
import json
import sys
from pathlib import Path

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

run_dir = Path(sys.argv[1])
summary = json.loads((run_dir / "summary.json").read_text())

merged = {}
reader = HistogramLogReader(str(run_dir / "latency.hlog"), HdrHistogram(1, 3_600_000_000, 3))
while True:
    interval = reader.get_next_interval_histogram()
    if interval is None:
        break
    tag = interval.get_tag()
    merged.setdefault(tag, HdrHistogram(1, 3_600_000_000, 3)).add(interval)

expected = dict(summary["steps"])
expected["visit"] = dict(summary["visit_latency"], requests=summary["visit_latency"]["count"])
failures = 0
for tag, stats in expected.items():
    histogram = merged.get(tag)
    count = histogram.get_total_count() if histogram else 0
    if count != stats["requests"]:
        print(f"{tag}: {count} values in the log, {stats['requests']} in the summary")
        failures += 1
        continue
    if count == 0:
        continue
    for percentile, key in [(50, "p50_ms"), (95, "p95_ms"), (99, "p99_ms")]:
        from_log = histogram.get_value_at_percentile(percentile) / 1000.0
        reported = stats[key]
        # Both sides report a value of the same 3-significant-digit bucket.
        if abs(from_log - reported) > max(0.001, reported * 0.001):
            print(f"{tag}: {key} is {from_log} ms in the log, {reported} ms in the summary")
            failures += 1
    print(f"{tag:12} {count:>9} values  p50 {histogram.get_value_at_percentile(50) / 1000:.3f} ms"
          f"  p99 {histogram.get_value_at_percentile(99) / 1000:.3f} ms")

if failures:
    print(f"latency.hlog disagrees with summary.json in {failures} place(s)")
    sys.exit(1)
print("latency.hlog (read by HdrHistogram_py) agrees with summary.json")
