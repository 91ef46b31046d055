#!/usr/bin/env python3
"""The nightly job at the real size: one generated snapshot as large as the SEC's, loaded by each sink.

Generates (once, kept in --workdir) `edgarpipe-gen --seed 11 --submissions 916000 --zip` (~971k
files, ~22 GB inflated, ~134M rows: the size of submissions.zip plus companyfacts.zip), then runs,
one after another, each with the peak memory of the whole process tree sampled every 50 ms
(private memory of the supervisor and its stages plus /dev/shm in use, as memory_bench.py counts):

  null        edgarpipe run ZIP --sink null:           (read and parse only)
  sqlite      a fresh SQLite database, the indexes built
  rerun       the same command again: every input unchanged, skipped by its zip CRC-32 and sizes
  pg1, pg2    a fresh PostgreSQL schema, 1 and 2 writers ($EDGARPIPE_TEST_PG; with --shard I/N)

Prints one Markdown table row per run (wall time, files/s, rows/s, the index phase, peak memory)
and writes them to --out as JSON. Disk: the zip ~4.4 GB, a whole SQLite database ~35 GB, a
PostgreSQL schema ~41 GB (each database is deleted after its run); check `df -h` first and shard
(--shard 0/2) when the disk is short. Takes about an hour on 2 cores.

  benchmarks/pipeline/fullsize.py --workdir /tmp/fullsize [--runs null sqlite rerun pg1 pg2] [--shard 0/2]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_bench import BIN, run_sampled  # noqa: E402



def make_corpus(workdir, filers):
    corpus = os.path.join(workdir, f"gen11-{filers}.zip")
    if not os.path.exists(corpus + ".expected.tsv"):
        started = time.monotonic()
        subprocess.run([os.path.join(BIN, "edgarpipe-gen"), "--seed", "11", "--submissions", str(filers),
                        "--zip", corpus], check=True)
        print(f"generated {corpus} in {time.monotonic() - started:.0f} s", flush=True)
    return corpus


def measured_run(args, summary):
    """Runs edgarpipe with --summary-json; returns (summary dict, peak bytes, wall seconds, stderr tail)."""
    cmd = [os.path.join(BIN, "edgarpipe"), "run", *args, "--progress", "never", "--summary-json", summary]
    code, err, peak, seconds = run_sampled(cmd, 0.05)
    tail = err.strip().splitlines()[-3:]
    if code not in (0, 3):  # 3: some files rejected (the generated corpus has none)
        sys.exit(f"{' '.join(cmd)} failed ({code}): {' / '.join(tail)}")
    with open(summary) as f:
        return json.load(f), peak, seconds, tail


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True, help="the corpus and databases (needs the room above)")
    ap.add_argument("--filers", type=int, default=916_000)
    ap.add_argument("--runs", nargs="+", default=["null", "sqlite", "rerun", "pg1", "pg2"])
    ap.add_argument("--shard", help="I/N: load this share of the corpus only (a short disk)")
    ap.add_argument("--out", help="the results as JSON (default: WORKDIR/fullsize.json)")
    ap.add_argument("--bin", help="the binaries to measure (default build/bin; a copy keeps an hour's runs safe "
                                  "from a rebuild)")
    args = ap.parse_args()
    if args.bin:
        global BIN
        BIN = args.bin
    os.makedirs(args.workdir, exist_ok=True)
    corpus = make_corpus(args.workdir, args.filers)
    shard = ["--shard", args.shard] if args.shard else []
    sqlite_db = os.path.join(args.workdir, "full.db")
    pg = os.environ.get("EDGARPIPE_TEST_PG")
    results = []
    print("| run | wall | files/s | rows/s | index phase | peak memory |", flush=True)
    print("|---|---|---|---|---|---|", flush=True)
    for run in args.runs:
        sink_args = []
        if run == "null":
            sink_args = ["--sink", "null:"]
        elif run in ("sqlite", "rerun"):
            if run == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(sqlite_db + suffix):
                        os.remove(sqlite_db + suffix)
            sink_args = ["--sink", f"sqlite:{sqlite_db}"]
        elif run in ("pg1", "pg2"):
            if not pg:
                print(f"{run}: skipped (EDGARPIPE_TEST_PG is not set)", flush=True)
                continue
            for suffix in ("", "-wal", "-shm"):  # room for the schema: the SQLite runs are done
                if os.path.exists(sqlite_db + suffix):
                    os.remove(sqlite_db + suffix)
            subprocess.run(["psql", "-q", pg, "-c", "DROP SCHEMA IF EXISTS fullsize CASCADE"], check=True)
            sink_args = ["--sink", f"{pg}?schema=fullsize", "--writers", run[-1]]
        else:
            sys.exit(f"unknown run {run}")
        s, peak, seconds, tail = measured_run([corpus, *sink_args, *shard],
                                              os.path.join(args.workdir, f"{run}.summary.json"))
        files = s["files_seen"]
        row = {"run": run, "seconds": round(seconds, 1), "files": files, "files_loaded": s["files_loaded"],
               "files_skipped": s["files_skipped"], "rows": s["rows_total"],
               "index_seconds": s.get("index_seconds", 0), "peak_bytes": peak, "log": tail}
        results.append(row)
        index = f"{row['index_seconds']:.0f} s ({row['index_seconds'] / seconds:.0%})" if row["index_seconds"] else "-"
        print(f"| {run} | {seconds:.0f} s | {files / seconds:,.0f} | {s['rows_total'] / seconds:,.0f} | {index} | "
              f"{peak / 2**30:.2f} GiB |", flush=True)
        if run == "pg1" or run == "pg2":
            subprocess.run(["psql", "-q", pg, "-c", "DROP SCHEMA IF EXISTS fullsize CASCADE"], check=True)
    with open(args.out or os.path.join(args.workdir, "fullsize.json"), "w") as f:
        json.dump({"corpus": corpus, "shard": args.shard, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
