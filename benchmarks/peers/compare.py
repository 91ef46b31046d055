#!/usr/bin/env python3
"""edgarpipe against DuckDB on the same submissions corpus, alternated in one session (issue 33).

Each round loads the corpus, in turn, with DuckDB (duckdb_load.mjs: `relational`, the tables
edgarpipe writes plus the same analyst indexes, and `raw`, read_json into one nested table) and
with edgarpipe into SQLite and, with --pg, PostgreSQL (as shipped: the secondary indexes built
after the first load). Every load goes into a fresh database. The corpus is read once before
the first round so that every load finds it in the page cache. Prints the median seconds of
each system, its index phase, and the ratio DuckDB relational / system (above 1: faster than
DuckDB). Machines here are shared and noisy: compare within one run, never across runs.

Usage:
  npm install --prefix /tmp/peers @duckdb/node-api
  build/bin/edgarpipe-gen --seed 11 --submissions 100000 --out /tmp/b100k/corpus
  benchmarks/peers/compare.py --bin build/bin --corpus /tmp/b100k/corpus --workdir /tmp/b100k/work \\
      --peers-dir /tmp/peers [--pg postgresql://...] [--rounds 3]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pipeline"))
from pipeline_bench import warm  # noqa: E402  (reads a corpus into the page cache)


def duckdb(args, shape):
    db = os.path.join(args.workdir, f"peer-{shape}.duckdb")
    submissions = os.path.join(args.corpus, "submissions")  # edgarpipe-gen's layout
    folder = submissions if os.path.isdir(submissions) else args.corpus
    r = subprocess.run(["node", os.path.join(HERE, "duckdb_load.mjs"), shape, folder, db], capture_output=True,
                       text=True, env=dict(os.environ, PEERS_DIR=args.peers_dir))
    if r.returncode != 0:
        sys.exit(f"duckdb {shape} failed: {r.stderr[-800:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    os.remove(db)
    return {"seconds": out["seconds"], "index_seconds": None, "rows": sum(out["rows"].values())}


def edgarpipe(args, sink, extra):
    summary = os.path.join(args.workdir, "summary.json")
    if sink == "sqlite":
        db = os.path.join(args.workdir, "edgar.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        url = f"sqlite:{db}"
    else:
        url = args.pg + ("&" if "?" in args.pg else "?") + "schema=edgarpipe_compare"
        subprocess.run(["psql", "-X", "-q", args.pg, "-c", "DROP SCHEMA IF EXISTS edgarpipe_compare CASCADE"],
                       check=True, capture_output=True)
    started = time.monotonic()
    r = subprocess.run([os.path.join(args.bin, "edgarpipe"), "run", args.corpus, "--sink", url, "--progress", "never",
                        "--summary-json", summary, "--dataset", "submissions", *extra], capture_output=True,
                       text=True)
    seconds = time.monotonic() - started
    if r.returncode != 0:
        sys.exit(f"edgarpipe into {sink} failed: exit {r.returncode}: {r.stderr[-800:]}")
    with open(summary, encoding="utf-8") as f:
        s = json.load(f)
    return {"seconds": seconds, "index_seconds": s.get("index_seconds"), "rows": s["rows_total"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--peers-dir", required=True, help="where npm installed @duckdb/node-api")
    p.add_argument("--pg", help="a PostgreSQL URL (a scratch schema edgarpipe_compare is used)")
    p.add_argument("--pg-writers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args()
    args.corpus = os.path.abspath(args.corpus)
    os.makedirs(args.workdir, exist_ok=True)
    systems = {
        "DuckDB relational + indexes": lambda: duckdb(args, "relational"),
        "DuckDB raw read_json": lambda: duckdb(args, "raw"),
        "edgarpipe SQLite": lambda: edgarpipe(args, "sqlite", []),
    }
    if args.pg:
        systems[f"edgarpipe PostgreSQL, {args.pg_writers} writers"] = lambda: edgarpipe(
            args, "pg", ["--writers", str(args.pg_writers)])
    warm(args.corpus)
    results = {name: [] for name in systems}
    names = list(systems)
    for round_no in range(args.rounds):
        order = names if round_no % 2 == 0 else names[::-1]
        for name in order:
            results[name].append(systems[name]())
            print(f"round {round_no + 1}: {name}: {results[name][-1]['seconds']:.1f} s", file=sys.stderr)
    reference = statistics.median(r["seconds"] for r in results[names[0]])
    # The same rows, or the comparison means nothing (raw DuckDB holds one row per filer).
    relational_rows = {results[name][0]["rows"] for name in names if "raw" not in name}
    if len(relational_rows) != 1:
        sys.exit(f"the systems wrote different row counts: {relational_rows}")
    print(f"| system | seconds | index phase | rows | x DuckDB relational |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        seconds = statistics.median(r["seconds"] for r in results[name])
        index = [r["index_seconds"] for r in results[name] if r["index_seconds"] is not None]
        index_text = f"{statistics.median(index):.1f} s ({100 * statistics.median(index) / seconds:.0f}%)" if index \
            else "-"
        print(f"| {name} | {seconds:.1f} | {index_text} | {results[name][0]['rows']} | {reference / seconds:.2f} |")
    shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
