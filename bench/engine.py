#!/usr/bin/env python3
"""Drivers for bench/run.sh's engine steps (idle, ci-cpu, huge-visits, first-morning-speeds). Standard library only.
Each driver runs one surge process, bounded in time, measures it from /proc, and prints one JSON line.

  engine.py idle DIR NAME SURGE SCENARIO EXCHANGE_BIN     an idle pool against its own `surge exchange`: CPU from
                                                          t=5 s to t=30 s, RSS at t=30 s, then SIGTERM (SIGKILL 15 s on)
  engine.py ci-cpu DIR NAME SURGE SCENARIO EXCHANGE_BIN   one whole run against its own `surge exchange`: CPU-seconds
                                                          of both processes per request
  engine.py huge DIR NAME SURGE SCENARIO VISITS           --visits VISITS: time until timeline.csv shows a started
                                                          visit (polled every 100 ms), RSS then; SIGTERM
  engine.py rss-growth DIR NAME SURGE SCENARIO VISITS     RSS every 0.5 s for 10 s or until 4 GiB, then SIGKILL
  engine.py goose-baseline DIR SURGE GOOSE EXCHANGE_BIN SCENARIO ROUNDS USERS WAIT_MS RUN_S [MIX_USERS MIX_WAIT_MS]
                                                          one separate `surge exchange`; ROUNDS times: SURGE on
                                                          SCENARIO (--target), then plain Goose (GOOSE: the
                                                          plain_goose example) on one GET with USERS users waiting
                                                          WAIT_MS ms (MIN-MAX) for RUN_S s, then (with MIX_USERS)
                                                          plain Goose on ci.toml's four journeys written by hand
                                                          (PLAIN_GOOSE_JOURNEY=mix), MIX_USERS users waiting
                                                          MIX_WAIT_MS ms: CPU per request of each
  engine.py saturation DIR SURGE GOOSE EXCHANGE_BIN SCENARIO ROUNDS RUN_S
                                                          the exchange pinned to core 0, the generator to core 1;
                                                          ROUNDS times: plain Goose, 50 users, no wait, one GET;
                                                          plain Goose, the browse requests (1 page); SURGE on
                                                          SCENARIO (browse only, 1 page, a cap): requests per
                                                          CPU-second of the generator
  engine.py morning DIR...                                the first-morning runs side by side (markdown)
  engine.py table RESULTS.jsonl                           medians of the engine figures

Every record carries /proc/loadavg at start and end and how busy the whole machine was (from /proc/stat): the
machine is shared. DIR is the run directory (surge's --out); the driver's own files are DIR.stdout, DIR.stderr,
DIR.samples.csv.
"""
import csv
import json
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count()


def cpu_s(pid):
    """utime + stime of a process (all its threads), in seconds; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def status(pid, key):
    """A kB figure of /proc/PID/status (VmRSS, VmHWM) in MiB, or Threads as a count."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                v = int(line.split()[1])
                return v if key == "Threads" else v / 1024
    except OSError:
        pass
    return None


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine():
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


def busy_pct(a, b):
    return round(100 * (b[0] - a[0]) / max(1, b[1] - a[1]), 1)


def supports_force(surge):
    out = subprocess.run([surge, "run", "--help"], capture_output=True, text=True, timeout=10).stdout
    return "--force" in out


def surge_cmd(surge, scenario, run_dir, *extra):
    cmd = [surge, "run", scenario, *extra, "--quiet", "--out", run_dir]
    return cmd + (["--force"] if supports_force(surge) else [])


def start(cmd, run_dir):
    out = open(run_dir + ".stdout", "w")
    err = open(run_dir + ".stderr", "w")
    return subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)


def reap(p, wait_s):
    """Wait up to wait_s for p; returns (exit code or -signal, user+sys CPU s, peak RSS MiB) or None."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(st)
            return p.returncode, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024
        time.sleep(0.05)
    return None


def stop(p, term_wait=15.0):
    """SIGTERM, then SIGKILL if it has not exited after term_wait s. Returns a dict about the stop."""
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    got = reap(p, term_wait)
    how = "SIGTERM"
    if got is None:
        p.kill()
        got = reap(p, 30)
        how = f"SIGKILL (no exit {term_wait:.0f} s after SIGTERM)"
    code, cpu, hwm = got if got else (None, None, None)
    return {"stopped_by": how, "exit": code, "exit_after_s": round(time.monotonic() - t0, 2),
            "cpu_total_s": cpu, "rss_peak_mib": hwm}


class Exchange:
    """A standalone `surge exchange` on a free loopback port (its URL is the first line of its stdout)."""

    def __init__(self, binary, run_dir, cpus=None):
        self.err = open(run_dir + ".exchange.stderr", "w")
        pin = ["taskset", "-c", cpus] if cpus else []
        self.p = subprocess.Popen(pin + [binary, "exchange", "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE,
                                  stderr=self.err, stdin=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.p.stdout], [], [], 10)
        line = self.p.stdout.readline() if ready else ""
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not m:
            self.close()
            raise SystemExit(f"the exchange did not start: {line!r}")
        self.url = m.group(0)

    def cpu(self):
        return cpu_s(self.p.pid)

    def rss(self):
        return status(self.p.pid, "VmHWM")

    def close(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)


def summary(run_dir):
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def after_stop(run_dir):
    """What the run directory holds after a stop."""
    s = summary(run_dir)
    files = sorted(p.name for p in Path(run_dir).iterdir()) if Path(run_dir).is_dir() else []
    return {"summary_json": s is not None, "ending": s and s.get("ending"),
            "valid": s and s["generator"]["valid"], "run_error": s and s.get("run_error"), "files": files}


def write_samples(run_dir, rows):
    if not rows:
        return
    with open(run_dir + ".samples.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# --------------------------------------------------------------------------------------------- idle

def idle(run_dir, name, surge, scenario, exchange_bin):
    m = re.search(r"^pool = (\d+)", Path(scenario).read_text(), re.M)
    pool = int(m.group(1)) if m else None  # None: the scenario sets no pool (the binary's default)
    ex = Exchange(exchange_bin, run_dir)
    rec = {"name": name, "dir": run_dir, "surge": surge, "pool": pool, "load_start": loadavg()}
    try:
        ex_cpu0 = ex.cpu()
        t0 = time.monotonic()
        p = start(surge_cmd(surge, scenario, run_dir, "--target", ex.url), run_dir)
        rows, marks = [], {}
        m0 = machine()
        for second in range(1, 31):
            time.sleep(max(0.0, t0 + second - time.monotonic()))
            c = cpu_s(p.pid)
            if c is None or p.poll() is not None:
                rec["exited_early_at_s"] = second
                break
            now = time.monotonic() - t0
            rows.append({"t_s": round(now, 2), "cpu_s": c, "rss_mib": round(status(p.pid, "VmRSS"), 1),
                         "threads": status(p.pid, "Threads"), "load1": loadavg().split()[0]})
            if second in (5, 10, 30):
                marks[second] = (now, c, machine())
            if second == 30:
                rec["rss_30_mib"] = round(status(p.pid, "VmRSS"), 1)
                rec["hwm_30_mib"] = round(status(p.pid, "VmHWM"), 1)
                rec["threads_30"] = status(p.pid, "Threads")
        if 5 in marks and 30 in marks:
            (ta, ca, ma), (tb, cb, mb) = marks[5], marks[30]
            rec["cpu_5_30_core"] = round((cb - ca) / (tb - ta), 4)
            rec["cpu_10_30_core"] = round((cb - marks[10][1]) / (tb - marks[10][0]), 4)
            rec["cpu_0_5_s"] = ca
            rec["machine_busy_5_30_pct"] = busy_pct(ma, mb)
        rec["load_30"] = loadavg()
        rec["machine_busy_0_30_pct"] = busy_pct(m0, machine())
        rec.update(stop(p) if p.poll() is None else {"exit": p.returncode})
        rec["exchange_cpu_s"] = round(ex.cpu() - ex_cpu0, 2)
        write_samples(run_dir, rows)
    finally:
        ex.close()
    rec.update(after_stop(run_dir))
    rec.pop("files", None)
    rec["load_end"] = loadavg()
    print(json.dumps(rec))


# ------------------------------------------------------------------------------------------ ci-cpu

def ci_cpu(run_dir, name, surge, scenario, exchange_bin, limit_s=300):
    ex = Exchange(exchange_bin, run_dir)
    rec = {"name": name, "dir": run_dir, "surge": surge, "load_start": loadavg()}
    try:
        time.sleep(1)
        ex_cpu0 = ex.cpu()
        m0 = machine()
        t0 = time.monotonic()
        p = start(surge_cmd(surge, scenario, run_dir, "--target", ex.url), run_dir)
        rows, got = [], None
        timeline = Path(run_dir) / "timeline.csv"
        while time.monotonic() - t0 < limit_s:
            got = reap(p, 0.5)
            if got:
                break
            c = cpu_s(p.pid)
            size = timeline.stat().st_size if timeline.exists() else 0
            rows.append({"t_s": round(time.monotonic() - t0, 2), "cpu_s": c, "timeline_bytes": size,
                         "exchange_cpu_s": ex.cpu()})
        if not got:
            rec["timed_out"] = True
            got = (stop(p)["exit"], None, None)
        wall = time.monotonic() - t0
        rec["load_end"] = loadavg()
        rec["machine_busy_pct"] = busy_pct(m0, machine())
        rec["exit"], rec["cpu_s"], rec["rss_peak_mib"] = got
        rec["wall_s"] = round(wall, 2)
        time.sleep(0.5)
        rec["exchange_cpu_s"] = round(ex.cpu() - ex_cpu0, 3)
        rec["exchange_rss_peak_mib"] = round(ex.rss(), 1)
        # The CPU spent after the last timeline row (writing the tables, charts and pages), from the samples.
        if rows:
            final = rows[-1]["timeline_bytes"]
            first_final = next(r for r in rows if r["timeline_bytes"] == final)
            rec["cpu_after_last_interval_s"] = round(rec["cpu_s"] - first_final["cpu_s"], 2) if rec["cpu_s"] else None
        write_samples(run_dir, rows)
    finally:
        ex.close()
    s = summary(run_dir)
    if s:
        steps = s["steps"]
        rec["requests"] = sum(v["requests"] for v in steps.values())
        rec["failures"] = sum(v["failures"] for v in steps.values())
        rec["visits"] = s["visits"]["started"]
        rec["valid"] = s["generator"]["valid"]
        rec["lateness_p99_ms"] = s["visits"]["lateness_p99_ms"]
        rec["duration_s"] = s["duration_s"]
        if rec.get("cpu_s"):
            rec["harness_cpu_ms_per_req"] = round(1000 * rec["cpu_s"] / rec["requests"], 4)
            rec["exchange_cpu_ms_per_req"] = round(1000 * rec["exchange_cpu_s"] / rec["requests"], 4)
    print(json.dumps(rec))


# ------------------------------------------------------------------------------------------- huge

def first_started(timeline):
    """(elapsed_s, started) of the first timeline row with started > 0, or None."""
    try:
        with open(timeline) as f:
            for row in csv.DictReader(f):
                if row.get("started") and int(row["started"]) > 0:
                    return float(row["elapsed_s"]), int(row["started"])
    except (OSError, ValueError):
        pass
    return None


def connections(pid):
    """TCP sockets of a process that are not listening (the embedded exchange's listeners are left out):
    the first one is the first visit's first request."""
    connected = set()  # TCP sockets in any state but LISTEN (0A); unix sockets are not in these tables
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] != "0A":
                    connected.add(f[9])
        except OSError:
            pass
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in connected:
                n += 1
    except OSError:
        return None
    return n


def huge(run_dir, name, surge, scenario, visits, term_wait_s="30", limit_s=150):
    """The first visit's start is seen two ways, every 100 ms: the process's first TCP socket that is not a
    listener (the first visit's first request connects to the embedded exchange), and the first timeline row
    with started > 0, which is written only when the monitor has counted the interval's intended visits
    (hundreds of millions a second here), so it can come many seconds after the visit."""
    rec = {"name": name, "dir": run_dir, "surge": surge, "visits": int(visits), "load_start": loadavg()}
    term_wait_s = float(term_wait_s)
    m0 = machine()
    t0 = time.monotonic()
    p = start(surge_cmd(surge, scenario, run_dir, "--visits", str(visits)), run_dir)
    timeline = Path(run_dir) / "timeline.csv"
    rows, seen, peak = [], None, 0.0
    while time.monotonic() - t0 < limit_s and p.poll() is None:
        time.sleep(0.1)
        rss = status(p.pid, "VmRSS") or 0
        peak = max(peak, rss)
        t = round(time.monotonic() - t0, 2)
        if "first_connection_s" not in rec and connections(p.pid):
            rec["first_connection_s"] = t
            rec["rss_at_first_connection_mib"] = round(rss, 1)
            rec["cpu_at_first_connection_s"] = cpu_s(p.pid)
        if not rows or t - rows[-1]["t_s"] >= 0.5:
            rows.append({"t_s": t, "rss_mib": round(rss, 1), "cpu_s": cpu_s(p.pid)})
        if timeline.exists() and rec.get("timeline_appeared_s") is None:
            rec["timeline_appeared_s"] = t
        seen = first_started(timeline)
        if seen:
            rec["first_started_seen_s"] = t
            rec["first_row_elapsed_s"] = seen[0]
            rec["first_row_started"] = seen[1]
            # The row covers the interval ending `elapsed_s` after the run's origin: the origin was at about
            # seen - elapsed (to the 100 ms of the polling and the time the row takes to be written).
            rec["origin_approx_s"] = round(t - seen[0], 2)
            rec["rss_at_first_mib"] = round(rss, 1)
            rec["cpu_at_first_s"] = cpu_s(p.pid)
            break
    rec["rss_max_sampled_mib"] = round(peak, 1)
    rec["machine_busy_pct"] = busy_pct(m0, machine())
    rec["load_at_stop"] = loadavg()
    if p.poll() is None:
        time.sleep(1)  # let the next interval be written, then stop it as an operator would
        rec["rss_at_stop_mib"] = round(status(p.pid, "VmRSS") or 0, 1)
        rec.update(stop(p, term_wait=term_wait_s))
    else:
        rec["exit"] = p.returncode
        rec["exited_by_itself_at_s"] = round(time.monotonic() - t0, 2)
    write_samples(run_dir, rows)
    rec.update(after_stop(run_dir))
    rec["load_end"] = loadavg()
    print(json.dumps(rec))


def rss_growth(run_dir, name, surge, scenario, visits, secs=10.0, cap_mib=4096):
    rec = {"name": name, "dir": run_dir, "surge": surge, "visits": int(visits), "load_start": loadavg()}
    t0 = time.monotonic()
    p = start(surge_cmd(surge, scenario, run_dir, "--visits", str(visits)), run_dir)
    rows = []
    while p.poll() is None and time.monotonic() - t0 < secs:
        time.sleep(0.5)
        rss = status(p.pid, "VmRSS")
        if rss is None:
            break
        rows.append({"t_s": round(time.monotonic() - t0, 2), "rss_mib": round(rss, 1), "cpu_s": cpu_s(p.pid)})
        if rss > cap_mib:
            rec["cap_reached"] = True
            break
    rec["rss_series_mib"] = [(r["t_s"], r["rss_mib"]) for r in rows]
    rec["rss_last_mib"] = rows[-1]["rss_mib"] if rows else None
    if len(rows) >= 2:
        rec["growth_mib_per_s"] = round((rows[-1]["rss_mib"] - rows[0]["rss_mib"]) / (rows[-1]["t_s"] - rows[0]["t_s"]), 1)
    if p.poll() is None:
        p.kill()
        got = reap(p, 30)
        rec["exit"] = got[0] if got else None
        rec["stopped_by"] = "SIGKILL"
    else:
        rec["exit"] = p.returncode
    rec["load_end"] = loadavg()
    write_samples(run_dir, rows)
    print(json.dumps(rec))


# ------------------------------------------------------------------------------ goose baseline

def run_measured(cmd, out_path, limit_s, env=None):
    """Run cmd to its end (SIGTERM at limit_s, SIGKILL 15 s later); (exit, CPU s from rusage, peak RSS MiB, wall s)."""
    t0 = time.monotonic()
    with open(out_path + ".stdout", "w") as out, open(out_path + ".stderr", "w") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        got = reap(p, limit_s)
        if got is None:
            got = (stop(p)["exit"], None, None)
    return got[0], got[1], got[2], round(time.monotonic() - t0, 2)


def goose_result(out_path):
    """The RESULT line plain_goose prints: requests, failures, Goose's measured duration."""
    try:
        for line in Path(out_path + ".stdout").read_text().splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[7:])
    except (OSError, ValueError):
        pass
    return {}


def goose_cmd(goose, url, users, run_s):
    users = int(users)
    return [goose, "--host", url, "--users", str(users), "--increase-rate", str(max(users * 10, 100)),
            "--run-time", f"{run_s}s", "--quiet", "--no-print-metrics", "--no-telnet", "--no-gzip", "--no-reset-metrics"]


def surge_record(rec, run_dir):
    s = summary(run_dir)
    if s:
        steps = s["steps"]
        rec["requests"] = sum(v["requests"] for v in steps.values())
        rec["failures"] = sum(v["failures"] for v in steps.values())
        rec["valid"] = s["generator"]["valid"]
        rec["lateness_p99_ms"] = s["visits"]["lateness_p99_ms"]
        rec["duration_s"] = s["duration_s"]
        rec["req_per_s"] = round(rec["requests"] / s["duration_s"], 1) if s["duration_s"] else None


def per_request(rec):
    if rec.get("cpu_s") and rec.get("requests"):
        rec["cpu_us_per_req"] = round(1e6 * rec["cpu_s"] / rec["requests"], 2)
        rec["req_per_cpu_s"] = round(rec["requests"] / rec["cpu_s"], 1)
    if rec.get("exchange_cpu_s") is not None and rec.get("requests"):
        rec["exchange_cpu_us_per_req"] = round(1e6 * rec["exchange_cpu_s"] / rec["requests"], 2)


def goose_baseline(out_dir, surge, goose, exchange_bin, scenario, rounds, users, wait_ms, run_s,
                   mix_users=None, mix_wait_ms=None):
    """Harness CPU per request of SURGE on SCENARIO against plain Goose at the same rate, one exchange: Goose on
    one GET, and (with MIX_USERS) Goose on the same four journeys as ci.toml, written by hand."""
    os.makedirs(out_dir, exist_ok=True)
    ex = Exchange(exchange_bin, out_dir + "/exchange")
    base = dict(os.environ)
    for name in ("PLAIN_GOOSE_JOURNEY", "PLAIN_GOOSE_PATH", "PLAIN_GOOSE_THINK_MS"):
        base.pop(name, None)
    goose_runs = {"goose": (users, dict(base, PLAIN_GOOSE_WAIT_MS=wait_ms))}
    if mix_users:
        goose_runs["goose-mix"] = (mix_users, dict(base, PLAIN_GOOSE_WAIT_MS=mix_wait_ms, PLAIN_GOOSE_JOURNEY="mix"))
    recs = []
    try:
        for i in range(1, int(rounds) + 1):
            for kind in ("surge", *goose_runs):
                run_dir = f"{out_dir}/{kind}-{i}"
                rec = {"name": f"goose-baseline-{kind}", "round": i, "dir": run_dir, "load_start": loadavg()}
                time.sleep(2)
                ex0, m0 = ex.cpu(), machine()
                if kind == "surge":
                    cmd = surge_cmd(surge, scenario, run_dir, "--target", ex.url)
                    rec["exit"], rec["cpu_s"], rec["rss_peak_mib"], rec["wall_s"] = run_measured(cmd, run_dir, 300)
                    surge_record(rec, run_dir)
                else:
                    users_of_kind, env = goose_runs[kind]
                    rec.update(users=int(users_of_kind), wait_ms=env["PLAIN_GOOSE_WAIT_MS"])
                    cmd = goose_cmd(goose, ex.url, users_of_kind, run_s)
                    rec["exit"], rec["cpu_s"], rec["rss_peak_mib"], rec["wall_s"] = run_measured(cmd, run_dir, int(run_s) + 60, env)
                    r = goose_result(run_dir)
                    rec["requests"], rec["failures"], rec["duration_s"] = r.get("requests"), r.get("failures"), r.get("duration_s")
                    if rec["requests"] and rec["duration_s"]:
                        rec["req_per_s"] = round(rec["requests"] / rec["duration_s"], 1)
                time.sleep(0.5)
                rec["exchange_cpu_s"] = round(ex.cpu() - ex0, 3)
                rec["machine_busy_pct"] = busy_pct(m0, machine())
                rec["load_end"] = loadavg()
                per_request(rec)
                recs.append(rec)
                print(json.dumps(rec), flush=True)
    finally:
        ex.close()
    def of(kind, key):
        return [r[key] for r in recs if r["name"] == f"goose-baseline-{kind}" and r.get(key)]
    s, g, m = of("surge", "cpu_us_per_req"), of("goose", "cpu_us_per_req"), of("goose-mix", "cpu_us_per_req")
    if s and g:
        ratio = {"name": "goose-baseline-ratio", "surge_us_per_req": s, "goose_us_per_req": g,
                 "surge_req_per_s": of("surge", "req_per_s"), "goose_req_per_s": of("goose", "req_per_s"),
                 "ratio_of_medians": round(statistics.median(s) / statistics.median(g), 3),
                 "paired_ratios": [round(a / b, 3) for a, b in zip(s, g)]}
        if m:
            # Against plain Goose sending ci.toml's own requests; the exchange's CPU per request shows
            # whether the two sent the same work.
            ratio.update(goose_mix_us_per_req=m, goose_mix_req_per_s=of("goose-mix", "req_per_s"),
                         exchange_us_per_req={k: of(k, "exchange_cpu_us_per_req") for k in ("surge", "goose", "goose-mix")},
                         mix_ratio_of_medians=round(statistics.median(s) / statistics.median(m), 3),
                         mix_paired_ratios=[round(a / b, 3) for a, b in zip(s, m)])
        print(json.dumps(ratio))


def saturation(out_dir, surge, goose, exchange_bin, scenario, rounds, run_s):
    """Requests per CPU-second of the generator at saturation, the exchange on core 0, the generator on core 1."""
    os.makedirs(out_dir, exist_ok=True)
    ex = Exchange(exchange_bin, out_dir + "/exchange", cpus="0")
    recs = []
    kinds = (("goose-get", None), ("goose-browse", "browse"), ("surge-browse", None))
    try:
        for i in range(1, int(rounds) + 1):
            for kind, journey in kinds:
                run_dir = f"{out_dir}/{kind}-{i}"
                rec = {"name": f"saturation-{kind}", "round": i, "dir": run_dir, "load_start": loadavg()}
                time.sleep(2)
                ex0, m0 = ex.cpu(), machine()
                if kind.startswith("surge"):
                    cmd = ["taskset", "-c", "1"] + surge_cmd(surge, scenario, run_dir, "--target", ex.url)
                    rec["exit"], rec["cpu_s"], rec["rss_peak_mib"], rec["wall_s"] = run_measured(cmd, run_dir, int(run_s) + 120)
                    surge_record(rec, run_dir)
                else:
                    env = dict(os.environ, PLAIN_GOOSE_WAIT_MS="0")
                    env.pop("PLAIN_GOOSE_PATH", None)
                    env.pop("PLAIN_GOOSE_JOURNEY", None)
                    if journey:
                        env["PLAIN_GOOSE_JOURNEY"] = journey
                    cmd = ["taskset", "-c", "1"] + goose_cmd(goose, ex.url, 50, run_s)
                    rec["exit"], rec["cpu_s"], rec["rss_peak_mib"], rec["wall_s"] = run_measured(cmd, run_dir, int(run_s) + 60, env)
                    r = goose_result(run_dir)
                    # Goose counts the browse journey's three requests one by one.
                    rec["requests"], rec["failures"], rec["duration_s"] = r.get("requests"), r.get("failures"), r.get("duration_s")
                    if rec["requests"] and rec["duration_s"]:
                        rec["req_per_s"] = round(rec["requests"] / rec["duration_s"], 1)
                time.sleep(0.5)
                rec["exchange_cpu_s"] = round(ex.cpu() - ex0, 3)
                rec["machine_busy_pct"] = busy_pct(m0, machine())
                rec["load_end"] = loadavg()
                per_request(rec)
                recs.append(rec)
                print(json.dumps(rec), flush=True)
    finally:
        ex.close()
    by = {k: [r["req_per_cpu_s"] for r in recs if r["name"] == f"saturation-{k}" and r.get("req_per_cpu_s")] for k, _ in kinds}
    if by["surge-browse"] and by["goose-browse"]:
        print(json.dumps({"name": "saturation-ratio", "req_per_cpu_s": by,
                          "surge_browse_over_goose_browse": round(statistics.median(by["surge-browse"]) / statistics.median(by["goose-browse"]), 3),
                          "surge_browse_over_goose_get": round(statistics.median(by["surge-browse"]) / statistics.median(by["goose-get"]), 3) if by["goose-get"] else None}))


# ---------------------------------------------------------------------------------------- morning

FUNNEL = ["visits", "browsed", "eligibility", "selected", "redirected", "paid", "effectuated"]


def clock_of_first(timeline, column, share_of=None, share=0.0):
    """Clock and elapsed time of the first interval where `column` > 0 (or, with share_of, where it is
    at least `share` of that column and above 0)."""
    with open(timeline) as f:
        for row in csv.DictReader(f):
            v = int(row[column] or 0)
            if v > 0 and (share_of is None or v >= share * int(row[share_of] or 0)):
                return row["clock"], row["elapsed_s"]
    return None, None


def time_v(path):
    """Exit status, wall time and peak RSS from `/usr/bin/time -v` output, if there is one."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return {}
    out = {}
    for key, pattern in (("exit", r"Exit status: (\d+)"), ("wall", r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)"),
                         ("rss_kib", r"Maximum resident set size \(kbytes\): (\d+)"), ("user", r"User time \(seconds\): ([\d.]+)"),
                         ("sys", r"System time \(seconds\): ([\d.]+)")):
        m = re.search(pattern, text)
        if m:
            out[key] = m.group(1)
    return out


def morning(*dirs):
    runs = []
    for d in dirs:
        s = summary(d)
        if not s:
            print(f"{d}: no summary.json")
            continue
        t = Path(d) / "timeline.csv"
        knee = (clock_of_first(t, "browse_failures"),
                clock_of_first(t, "browse_failures", "browse_requests", 0.01))
        held = clock_of_first(t, "held")
        s["_time"] = time_v(d.rstrip("/") + ".time")
        runs.append((d, s, knee, held))
    if not runs:
        return
    head = "| | " + " | ".join(f"×{s['time_scale']:g}" for _, s, _, _ in runs) + " |"
    print(head)
    print("|---" * (len(runs) + 1) + "|")

    def row(label, fn):
        print(f"| {label} | " + " | ".join(fn(d, s, k, h) for d, s, k, h in runs) + " |")

    row("exit code (`time -v`)", lambda d, s, k, h: s["_time"].get("exit", "?"))
    row("wall time, peak RSS (`time -v`)", lambda d, s, k, h: f"{s['_time'].get('wall', '?')}, "
        + (f"{int(s['_time']['rss_kib']) / 1024:.0f} MiB" if "rss_kib" in s["_time"] else "?"))
    row("CPU user + sys (`time -v`)", lambda d, s, k, h: f"{float(s['_time'].get('user', 0)) + float(s['_time'].get('sys', 0)):.0f} s")
    row("ending, duration", lambda d, s, k, h: f"{s['ending']}, {s['duration_s']:.0f} s")
    row("generator.valid", lambda d, s, k, h: f"{s['generator']['valid']}" + (f" ({s['generator']['reason']})" if s['generator']['reason'] else ""))
    row("visits late, lateness p99", lambda d, s, k, h: f"{s['visits']['late']:,}, {s['visits']['lateness_p99_ms']} ms")
    row("max in flight (pool)", lambda d, s, k, h: f"{s['generator']['max_in_flight']:,} ({s['generator']['pool']:,})")
    f = lambda d, s, k, h: None
    for i, stage in enumerate(FUNNEL):
        def cell(d, s, k, h, i=i, stage=stage):
            n = s["funnel"][stage]
            if i == 0:
                return f"{n:,}"
            prev = s["funnel"][FUNNEL[i - 1]]
            return f"{n:,} ({100 * n / prev:.1f} %)" if prev else f"{n:,}"
        row(f"funnel: {stage}" + (" (of previous)" if i else ""), cell)
    steps = sorted({k for _, s, _, _ in runs for k in s["steps"]},
                   key=lambda k: ["browse", "eligibility", "select", "redirect", "pay", "confirm"].index(k)
                   if k in ["browse", "eligibility", "select", "redirect", "pay", "confirm"] else 99)
    for st in steps:
        def cell(d, s, k, h, st=st):
            v = s["steps"].get(st)
            if not v:
                return "-"
            return f"{v['requests']:,} req, {100 * v['error_rate']:.2f} % errors, p50 {v['p50_ms']:,.0f} / p95 {v['p95_ms']:,.0f} ms"
        row(f"step {st}", cell)
    row("requests (all steps)", lambda d, s, k, h: f"{sum(v['requests'] for v in s['steps'].values()):,}")
    row("visit latency p50 / p95", lambda d, s, k, h: f"{s['visit_latency']['p50_ms']:,.0f} / {s['visit_latency']['p95_ms']:,.0f} ms")
    row("waiting room: waits, gave up", lambda d, s, k, h: f"{s['waiting_room']['waits']:,}, {s['waiting_room']['gave_up']:,}")
    row("waiting room: wait p50 / p95", lambda d, s, k, h: f"{s['waiting_room']['wait_p50_ms'] / 1000:.1f} / {s['waiting_room']['wait_p95_ms'] / 1000:.1f} s")
    row("knee: first interval with browse failures (clock)", lambda d, s, k, h: f"{k[0][0]} (elapsed {k[0][1]} s)")
    row("knee: first interval with ≥ 1 % of browse requests failing", lambda d, s, k, h: f"{k[1][0]} (elapsed {k[1][1]} s)")
    row("waiting room: first interval with held > 0 (clock)", lambda d, s, k, h: f"{h[0]} (elapsed {h[1]} s)")


# ------------------------------------------------------------------------------------------ table

def med(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    m = fmt.format(statistics.median(values))
    if len(values) == 1:
        return f"{m} (n=1)"
    return f"{m} ({fmt.format(min(values))}–{fmt.format(max(values))}, n={len(values)})"


def table(results):
    rows = [json.loads(l) for l in Path(results).read_text().splitlines() if l.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["name"], []).append(r)
    for name in sorted(n for n in by if n.startswith("idle-")):
        rs = by[name]
        print(f"{name}: CPU t=5-30 s {med([r.get('cpu_5_30_core') for r in rs], '{:.4f}')} core, "
              f"t=10-30 s {med([r.get('cpu_10_30_core') for r in rs], '{:.4f}')} core; RSS at 30 s "
              f"{med([r.get('rss_30_mib') for r in rs], '{:.0f}')} MiB; stop: "
              + "; ".join(f"{r.get('stopped_by')} exit {r.get('exit')} after {r.get('exit_after_s')} s, summary.json {r.get('summary_json')}" for r in rs)
              + "; load " + ", ".join(r.get("load_start", "").split()[0] for r in rs))
    for name in sorted(n for n in by if n.startswith("ci-cpu-")):
        rs = by[name]
        print(f"{name}: harness {med([r.get('harness_cpu_ms_per_req') for r in rs], '{:.4f}')} ms CPU/request "
              f"({med([r.get('cpu_s') for r in rs], '{:.2f}')} s over {med([r.get('requests') for r in rs], '{:.0f}')} requests), "
              f"exchange {med([r.get('exchange_cpu_ms_per_req') for r in rs], '{:.4f}')} ms CPU/request; "
              f"valid {[r.get('valid') for r in rs]}, exit {[r.get('exit') for r in rs]}; load "
              + ", ".join(r.get("load_start", "").split()[0] for r in rs))
    for name in sorted(n for n in by if n.startswith("huge-")):
        for r in by[name]:
            if "stderr" in r:
                print(f"{name}: exit {r.get('exit')}: {r['stderr'].strip()[:200]}")
            elif "rss_series_mib" in r:
                print(f"{name}: RSS {r.get('rss_last_mib')} MiB after {r['rss_series_mib'][-1][0] if r['rss_series_mib'] else '?'} s "
                      f"({r.get('growth_mib_per_s')} MiB/s), exit {r.get('exit')}")
            else:
                print(f"{name}: first connection at {r.get('first_connection_s')} s (RSS {r.get('rss_at_first_connection_mib')} MiB); "
                      f"first row with started > 0 seen at {r.get('first_started_seen_s')} s (RSS {r.get('rss_at_first_mib')} MiB); "
                      f"{r.get('stopped_by')} exit {r.get('exit')} after {r.get('exit_after_s')} s, "
                      f"summary.json {r.get('summary_json')}, ending {r.get('ending')!r}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"idle": idle, "ci-cpu": ci_cpu, "huge": huge, "rss-growth": rss_growth, "morning": morning,
     "goose-baseline": goose_baseline, "saturation": saturation, "table": table}.get(cmd, lambda *a: sys.exit(__doc__))(*args)
