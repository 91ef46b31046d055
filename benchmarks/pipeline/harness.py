#!/usr/bin/env python3
"""Throughput experiments from declarative scenarios: CSV results and PNG plots (gnuplot).

A scenario file is JSON, one object or a list of them:

  {"name": "null-ratios",                  # names the output files
   "corpus": {"submissions": 3000, "companyfacts": 60, "seed": 7},   # edgarpipe-gen options
   "sink": "null",                         # null | sqlite | postgres
   "ratios": [[1, 1, 1], [1, 2, 1], [2, 2, 1]],   # readers, parsers, writers: the sweep
   "runs": 3,                              # counted runs per ratio (after one warm-up)
   "timeline": {"ratio": [1, 2, 1],        # one run sampled over time (optional), over its own
                "corpus": {...}}}          # corpus if given (a longer run shows more)

For every ratio: one warm-up run, then `runs` counted runs; the median is reported. Each
scenario measures its reference in the same session, and every ratio is reported against it:
  null      the parse limit: build/bin/edgarpipe_parse_limit (simdjson visiting every value of the
            same files in memory) with as many threads as the ratio has parsers;
  sqlite    SQLite's own copy of the same rows: INSERT INTO ... SELECT from a finished load,
            into a fresh database with the same schema, in one transaction;
  postgres  PostgreSQL's own COPY FROM of pre-made binary files holding exactly the rows
            (EDGARPIPE_TEST_PG, or a throw-away server from deploy/pg-cluster.sh).
The timeline run samples every 0.25 s the CPU use and private memory of each stage (summed
over its processes, from /proc; for postgres also the CPU of the local server's processes), the
shared memory in use, and the supervisor's --metrics-file (bytes read, rows committed), like a
load-test report.

Outputs in --out (default benchmarks/results): results.csv (one line per scenario and ratio),
timeline-<name>.csv, throughput-<name>.png (MB/s per ratio, with the reference), and
timeline-<name>.png (throughput, CPU and memory of each stage over time).

  benchmarks/pipeline/harness.py benchmarks/pipeline/scenarios/ratios-null.json --out /tmp/results
"""
import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from pipeline_bench import checkpoint, private_kib  # private_kib: smaps without the shared segments (counted once, as shm)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")
CLK = os.sysconf("SC_CLK_TCK")
ROLES = ["supervisor", "reader", "parser", "writer"]
CPU_ROLES = ROLES + ["database"]  # the PostgreSQL server's processes, where it runs here


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


class Sink:
    """A fresh target per run, and the database's own reference for the rows of one load."""

    def __init__(self, kind, work):
        self.kind, self.work, self.n, self.cluster, self.url = kind, work, 0, None, None
        if kind == "postgres":
            self.url = os.environ.get("EDGARPIPE_TEST_PG")
            if not self.url:
                self.cluster = os.path.join(work, "pg")
                self.url = sh(os.path.join(ROOT, "deploy", "pg-cluster.sh"), "start", self.cluster).split("'")[1]

    def fresh(self):
        self.n += 1
        if self.kind == "null":
            return "null:"
        if self.kind == "sqlite":
            return "sqlite:" + os.path.join(self.work, f"run{self.n}.db")
        sh("psql", "-X", "-q", self.url, "-c", "DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench")
        checkpoint(self.url)
        return self.url + ("&" if "?" in self.url else "?") + "options=-csearch_path%3Dbench"

    def reference(self, corpus, parsers):
        """Seconds for the database's own bulk copy of a load's rows, or the parse limit."""
        if self.kind == "null":
            out = json.loads(sh(os.path.join(BIN, "edgarpipe_parse_limit"), "--threads", str(parsers), corpus))
            return out["seconds"]
        loaded = self.fresh()
        run(corpus, loaded, (1, 2, 1))
        ddl = sh(os.path.join(BIN, "edgarpipe"), "schema", "--sink", loaded)
        # The rows a load writes: not statement_lines, which the schema seeds (the DDL's INSERT).
        names = [n for n in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", ddl) if n != "statement_lines"]
        if self.kind == "sqlite":
            db = sqlite3.connect(self.fresh()[len("sqlite:"):])
            db.executescript(ddl)
            db.execute(f"ATTACH '{loaded[len('sqlite:'):]}' AS src")
            start = time.monotonic()
            db.execute("BEGIN")
            for name in names:
                db.execute(f"INSERT INTO main.{name} SELECT * FROM src.{name}")
            db.commit()
            seconds = time.monotonic() - start
            db.close()
            return seconds
        script = os.path.join(self.work, "reference.sql")
        with open(script, "w") as f:
            for name in names:
                f.write(f"\\copy {name} TO '{self.work}/{name}.bin' (FORMAT binary)\n")
        sh("psql", "-X", "-q", loaded, "-v", "ON_ERROR_STOP=1", "-f", script)
        with open(script, "w") as f:
            f.write("TRUNCATE " + ", ".join(names) + ";\n")
            for name in names:
                f.write(f"\\copy {name} FROM '{self.work}/{name}.bin' (FORMAT binary)\n")
        checkpoint(self.url)
        start = time.monotonic()
        sh("psql", "-X", "-q", loaded, "-v", "ON_ERROR_STOP=1", "-f", script)
        return time.monotonic() - start

    def close(self):
        if self.cluster:
            subprocess.run([os.path.join(ROOT, "deploy", "pg-cluster.sh"), "stop", self.cluster], capture_output=True)
        elif self.kind == "postgres":
            subprocess.run(["psql", "-X", "-q", self.url, "-c", "DROP SCHEMA IF EXISTS bench CASCADE"],
                           capture_output=True)


def run(corpus, sink_url, ratio, extra=(), sampler=None):
    summary = tempfile.mktemp(suffix=".json")
    cmd = [os.path.join(BIN, "edgarpipe"), "run", corpus, "--sink", sink_url, "--readers", str(ratio[0]),
           "--parsers", str(ratio[1]), "--writers", str(ratio[2]), "--progress", "never", "--summary-json", summary,
           *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if sampler:
        sampler(proc)
    _, err = proc.communicate()
    if proc.returncode not in (0, 3):
        sys.exit(f"edgarpipe run failed ({proc.returncode}): {err[-2000:]}")
    with open(summary) as f:
        s = json.load(f)
    os.remove(summary)
    return s


def processes_by_role(root, database=False):
    """{pid: role} for the supervisor and its stage processes (and the database server's)."""
    found = {root: "supervisor"}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                name = os.path.basename(f.read().split(b"\0")[0].decode())
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == root and name.startswith("edgarpipe-"):
            found[int(entry)] = name[len("edgarpipe-"):]
        elif database and stat[stat.index("(") + 1:stat.rindex(")")] == "postgres":
            found[int(entry)] = "database"
    return found


def cpu_ticks(pid, reaped=False):
    """utime + stime of a process; with reaped=True, of its waited-for children too."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15 if reaped else 13])


def shm_mib():
    st = os.statvfs("/dev/shm")
    return (st.f_blocks - st.f_bfree) * st.f_frsize / 2**20


def metrics(path):
    values = {"bytes": 0.0, "rows": 0.0}
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("edgarpipe_bytes_read_total "):
                    values["bytes"] = float(line.split()[1])
                elif line.startswith("edgarpipe_rows_total{"):
                    values["rows"] += float(line.split()[1])
    except OSError:
        pass
    return values


def timeline(corpus, sink, ratio, out_csv):
    metrics_file = tempfile.mktemp(suffix=".prom")
    rows = []

    def sample(proc):
        shm_before = shm_mib()
        start = last_t = time.monotonic()
        last_ticks = {}
        # The supervisor rewrites the metrics file 4 times a second: a rate is taken between two
        # different contents of it and held until the next.
        last_m, last_m_t, rate = {"bytes": 0.0, "rows": 0.0}, start, (0.0, 0.0)
        while proc.poll() is None:
            time.sleep(0.25)
            now = time.monotonic()
            cpu = {r: 0.0 for r in CPU_ROLES}
            mem = {r: 0.0 for r in ROLES}
            for pid, role in processes_by_role(proc.pid, sink.kind == "postgres").items():
                try:
                    ticks = cpu_ticks(pid)
                    if role != "database":
                        mem[role] += private_kib(pid) / 1024
                except OSError:
                    continue
                cpu[role] += 100.0 * (ticks - last_ticks.get(pid, ticks)) / CLK / (now - last_t)
                last_ticks[pid] = ticks
            last_t = now
            m = metrics(metrics_file)
            if m != last_m:
                rate = ((m["bytes"] - last_m["bytes"]) / 1e6 / (now - last_m_t), (m["rows"] - last_m["rows"]) / (now - last_m_t))
                last_m, last_m_t = m, now
            rows.append([now - start, *rate] + [cpu[r] for r in CPU_ROLES] + [mem[r] for r in ROLES] +
                        [max(0.0, shm_mib() - shm_before)])

    holder = {}

    def start_sampler(proc):
        holder["thread"] = threading.Thread(target=sample, args=(proc,))
        holder["thread"].start()

    run(corpus, sink.fresh(), ratio, extra=["--metrics-file", metrics_file], sampler=start_sampler)
    holder["thread"].join()
    with open(out_csv, "w") as f:
        f.write("seconds,mb_s,rows_s," + ",".join(f"cpu_{r}" for r in CPU_ROLES) + "," +
                ",".join(f"mem_mib_{r}" for r in ROLES) + ",shm_mib\n")
        for r in rows:
            f.write(",".join(f"{v:.3f}" for v in r) + "\n")
    if os.path.exists(metrics_file):
        os.remove(metrics_file)


def plot(out, name, results, reference_label, has_timeline):
    data = os.path.join(out, f"throughput-{name}.dat")
    with open(data, "w") as f:
        for r in results:
            f.write(f"\"{r['readers']}/{r['parsers']}/{r['writers']}\" {r['mb_s']:.2f} {r['reference_mb_s']:.2f}\n")
    script = f"""
set terminal pngcairo size 900,500 font "DejaVu Sans,10" noenhanced
set output "{out}/throughput-{name}.png"
set title "{name}: throughput by stage ratio (readers/parsers/writers), median of runs"
set ylabel "MB/s of JSON"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left
set yrange [0:*]
plot "{data}" using 2:xtic(1) title "edgarpipe", "" using 3 title "{reference_label}"
"""
    if has_timeline:
        csv = os.path.join(out, f"timeline-{name}.csv")
        script += f"""
set terminal pngcairo size 900,900 font "DejaVu Sans,10" noenhanced
set output "{out}/timeline-{name}.png"
unset title
set style fill empty
set yrange [0:*]
set datafile separator ","
set style data lines
set key outside right
set multiplot layout 3,1 title "{name}: one run over time"
set ylabel "MB/s read"
set y2label "rows/s written"
set y2tics
plot "{csv}" using 1:2 title "MB/s" axes x1y1 lw 2, "" using 1:3 title "rows/s" axes x1y2 lw 2
unset y2label
unset y2tics
set ylabel "CPU %"
plot for [i=4:8] "{csv}" using 1:i title columnheader(i) lw 2
set ylabel "MiB (private; shm: pools)"
set xlabel "seconds"
plot for [i=9:13] "{csv}" using 1:i title columnheader(i) lw 2
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(data)


def generate(where, gen):
    sh(os.path.join(BIN, "edgarpipe-gen"), "--out", where, "--seed", str(gen.get("seed", 1)),
       "--submissions", str(gen.get("submissions", 1000)), "--companyfacts", str(gen.get("companyfacts", 20)))
    return where


def scenario(spec, out, work):
    name = spec["name"]
    corpus = generate(os.path.join(work, name), spec.get("corpus", {}))
    sink = Sink(spec.get("sink", "null"), work)
    results, references = [], {}
    runs = spec.get("runs", 3)
    try:
        for ratio in [tuple(r) for r in spec["ratios"]]:
            run(corpus, sink.fresh(), ratio)  # warm-up (and the page cache)
            counted = [run(corpus, sink.fresh(), ratio) for _ in range(runs)]
            # The parse limit depends on the parser count; a database's own copy does not.
            key = ratio[1] if sink.kind == "null" else 0
            if key not in references:
                references[key] = statistics.median(sink.reference(corpus, ratio[1]) for _ in range(runs))
            secs = statistics.median(s["seconds"] for s in counted)
            ref = references[key]
            s = counted[0]
            r = {"scenario": name, "sink": sink.kind, "readers": ratio[0], "parsers": ratio[1], "writers": ratio[2],
                 "files": s["files_loaded"] + s["files_rejected"], "bytes": s["bytes"], "rows": s["rows_total"],
                 "seconds": secs, "mb_s": s["bytes"] / 1e6 / secs, "rows_s": s["rows_total"] / secs,
                 "reference_s": ref, "reference_mb_s": s["bytes"] / 1e6 / ref, "ratio": ref / secs,
                 "bottleneck": s.get("bottleneck", "")}
            results.append(r)
            print(f"{name}: {ratio[0]}/{ratio[1]}/{ratio[2]}  {secs:.2f} s  {r['mb_s']:.1f} MB/s  "
                  f"{r['rows_s']:,.0f} rows/s  reference {ref:.2f} s  ratio {r['ratio']:.2f}  "
                  f"bottleneck {r['bottleneck']}", flush=True)
        if spec.get("timeline"):
            t = spec["timeline"] if isinstance(spec["timeline"], dict) else {"ratio": spec["timeline"]}
            where = generate(os.path.join(work, name + "-timeline"), t["corpus"]) if "corpus" in t else corpus
            timeline(where, sink, tuple(t["ratio"]), os.path.join(out, f"timeline-{name}.csv"))
            shutil.rmtree(os.path.join(work, name + "-timeline"), ignore_errors=True)
    finally:
        sink.close()
        shutil.rmtree(corpus, ignore_errors=True)
    label = {"null": "parse limit (simdjson, same threads)", "sqlite": "SQLite INSERT ... SELECT of the same rows",
             "postgres": "PostgreSQL COPY of the same rows"}[sink.kind]
    plot(out, name, results, label, bool(spec.get("timeline")))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="+", help="scenario JSON files")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="edgarpipe-harness-")
    os.chmod(work, 0o755)  # a throw-away server's data directory may live inside
    try:
        results = []
        for path in args.scenarios:
            with open(path) as f:
                spec = json.load(f)
            for s in spec if isinstance(spec, list) else [spec]:
                results += scenario(s, args.out, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    csv = os.path.join(args.out, "results.csv")
    keys = list(results[0].keys())
    with open(csv, "w") as f:
        f.write(",".join(keys) + "\n")
        for r in results:
            f.write(",".join(f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n")
    print(f"results: {csv}; plots: {args.out}/*.png")


if __name__ == "__main__":
    main()
