#!/usr/bin/env python3
"""The analyst query set (the *.sql files beside this script) timed on each sink after a load of
the same corpus, with and without the secondary indexes and with --storage analytic.

Loads one generated corpus (edgarpipe-gen: a few million facts) plus the real samples of
tests/data (the queries name real filers such as Apple) into each configuration, timing the load
(the index build included). Then runs every query with the sink's own client (sqlite3's .timer,
psql's \\timing), one warm-up and --runs timed runs, and reports the median. The results of every
query are compared across configurations (numbers by their decimal value): a configuration that
answers differently fails the benchmark. PostgreSQL is analysed after each load (the planner's
statistics, as autovacuum would gather them shortly after).

Usage:
  benchmarks/queries/run_queries.py --bin build/bin [--companyfacts 700] [--submissions 3000]
      [--runs 5] [--configs sqlite,sqlite-noindex,pg,pg-noindex,pg-analytic] [--csv FILE]

PostgreSQL: EDGARPIPE_TEST_PG names the server (a database per configuration is created on it),
or a throw-away server is started with deploy/pg-cluster.sh.
"""
import argparse
import csv
import decimal
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CONFIGS = {  # name -> (sink kind, extra run options)
    "sqlite": ("sqlite", []),
    "sqlite-noindex": ("sqlite", ["--no-indexes"]),
    "pg": ("pg", []),
    "pg-noindex": ("pg", ["--no-indexes"]),
    "pg-analytic": ("pg", ["--storage", "analytic"]),
}


def cell(v):
    """A value as the databases agree on it: numbers by their decimal value."""
    if re.fullmatch(r"-?\d+(\.\d+)?(e[-+]?\d+)?", v, re.I):
        return format(decimal.Decimal(v).normalize(), "f")
    return v


def sqlite_query(path, sql, timed):
    script = (".timer on\n" if timed else "") + sql.strip().rstrip(";") + ";\n"
    out = subprocess.run(["sqlite3", "-batch", "-bail", "-separator", "\x1f", "-nullvalue", "<NULL>", path],
                         input=script, capture_output=True, text=True, check=True).stdout
    seconds = [float(m.group(1)) for m in re.finditer(r"^Run Time: real ([0-9.]+)", out, re.M)]
    rows = [line for line in out.splitlines() if not line.startswith("Run Time:")]
    return rows, sum(seconds)


def pg_query(url, sql, timed):
    out = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\x1f", "-P", "null=<NULL>", "-v", "ON_ERROR_STOP=1", url,
                          *(["-c", "\\timing on"] if timed else []), "-c", sql],
                         capture_output=True, text=True, check=True).stdout
    seconds = [float(m.group(1)) / 1000 for m in re.finditer(r"^Time: ([0-9.]+) ms", out, re.M)]
    rows = [line for line in out.splitlines() if not line.startswith(("Time:", "Timing is on"))]
    return rows, sum(seconds)


def normalized(rows):
    return sorted(tuple(cell(v) for v in line.split("\x1f")) for line in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--companyfacts", type=int, default=700)
    ap.add_argument("--submissions", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--csv")
    args = ap.parse_args()
    configs = args.configs.split(",")
    for c in configs:
        if c not in CONFIGS:
            sys.exit(f"run_queries.py: unknown configuration {c} (known: {', '.join(CONFIGS)})")
    queries = {n: open(os.path.join(HERE, n)).read() for n in sorted(os.listdir(HERE)) if n.endswith(".sql")}

    work = tempfile.mkdtemp(prefix="edgarpipe-queries-")
    cluster = None
    try:
        corpus = os.path.join(work, "corpus")
        subprocess.run([os.path.join(args.bin, "edgarpipe-gen"), "--out", corpus, "--seed", str(args.seed),
                        "--submissions", str(args.submissions), "--companyfacts", str(args.companyfacts)], check=True)
        pg_base = os.environ.get("EDGARPIPE_TEST_PG")
        if any(CONFIGS[c][0] == "pg" for c in configs) and not pg_base:
            cluster = os.path.join(work, "pg")
            out = subprocess.run([os.path.join(ROOT, "deploy", "pg-cluster.sh"), "start", cluster],
                                 capture_output=True, text=True, check=True).stdout
            pg_base = re.search(r"EDGARPIPE_TEST_PG='([^']+)'", out).group(1)

        results, loads, times, facts = {}, {}, {}, {}
        for c in configs:
            kind, extra = CONFIGS[c]
            if kind == "sqlite":
                target = os.path.join(work, f"{c}.db")
                url = "sqlite:" + target
                query = lambda sql, timed, t=target: sqlite_query(t, sql, timed)
            else:
                name = f"edgarpipe_queries_{c.replace('-', '_')}"
                subprocess.run(["psql", "-X", "-q", pg_base, "-c", f"DROP DATABASE IF EXISTS {name}", "-c",
                                f"CREATE DATABASE {name}"], check=True, capture_output=True)
                url = urllib.parse.urlunsplit(urllib.parse.urlsplit(pg_base)._replace(path="/" + name))
                query = lambda sql, timed, u=url: pg_query(u, sql, timed)
            started = time.monotonic()
            r = subprocess.run([os.path.join(args.bin, "edgarpipe"), "run", corpus, os.path.join(ROOT, "tests", "data"),
                                "--sink", url, "--progress", "never", "-q", *extra], capture_output=True, text=True)
            loads[c] = time.monotonic() - started
            if r.returncode != 0:
                sys.exit(f"run_queries.py: the load into {c} failed (exit {r.returncode}): {r.stderr[-800:]}")
            if kind == "pg":
                query("ANALYZE", False)
            facts[c] = int(query("SELECT count(*) FROM facts", False)[0][0])
            print(f"{c}: loaded in {loads[c]:.1f} s ({facts[c]:,} facts)", file=sys.stderr)
            for q, sql in queries.items():
                rows, _ = query(sql, False)  # warm-up
                results[(c, q)] = normalized(rows)
                times[(c, q)] = statistics.median(query(sql, True)[1] for _ in range(args.runs))

        failed = False
        for q in queries:
            first = results[(configs[0], q)]
            for c in configs[1:]:
                if results[(c, q)] != first:
                    failed = True
                    print(f"run_queries.py: {q}: {c} returns {len(results[(c, q)])} rows, {configs[0]} "
                          f"{len(first)}, or other values", file=sys.stderr)

        print(f"\n{facts[configs[0]]:,} facts; median of {args.runs} runs after a warm-up, in ms\n")
        print("| query | rows | " + " | ".join(configs) + " |")
        print("|---|---:|" + "---:|" * len(configs))
        for q in queries:
            cells = " | ".join(f"{1000 * times[(c, q)]:.1f}" for c in configs)
            print(f"| {q[:-4]} | {len(results[(configs[0], q)])} | {cells} |")
        print("| load (s), index build included | | " + " | ".join(f"{loads[c]:.1f}" for c in configs) + " |")
        if args.csv:
            new = not os.path.exists(args.csv)
            with open(args.csv, "a", newline="") as f:
                w = csv.writer(f)
                if new:
                    w.writerow(["config", "query", "rows", "median_ms", "facts", "load_s"])
                for c in configs:
                    for q in queries:
                        w.writerow([c, q, len(results[(c, q)]), f"{1000 * times[(c, q)]:.3f}", facts[c],
                                    f"{loads[c]:.2f}"])
        return 1 if failed else 0
    finally:
        if cluster:
            subprocess.run([os.path.join(ROOT, "deploy", "pg-cluster.sh"), "stop", cluster], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
