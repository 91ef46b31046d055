#!/usr/bin/env python3
"""PostgreSQL end to end: edgarpipe into PostgreSQL against PostgreSQL's own COPY of the same rows.

Builds a corpus of COPIES copies of tests/data with distinct CIKs (copy k adds k x 10^8 to every
CIK, in names and contents, so rows never collide), then on one server, one database:
  1. loads it with edgarpipe once, and saves every table with psql's \copy ... TO (FORMAT binary):
     the pre-made binary files with exactly the rows edgarpipe produces;
  2. reference: truncates the tables and times psql's \copy ... FROM those files, table by table:
     COPY FROM STDIN over the same kind of connection edgarpipe uses, same indexes;
  3. for each writer count: truncates and times `edgarpipe run CORPUS --sink URL --writers W`;
  4. with --shards K...: K runs at once (`--shard I/K`, the first --writers each, as K machines
     or K Slurm tasks would run them) into a fresh database, as a first load is: the last shard to
     finish builds the secondary indexes, inside the time; with the CPU seconds of the clients and
     of the server.
Prints rows/s and MB/s, the ratio to the reference, and per-table reference rates. Medians of
--runs. Uses the server in EDGARPIPE_TEST_PG, or starts a throw-away one with deploy/pg-cluster.sh.

  benchmarks/pipeline/postgres_bench.py --copies 10 --writers 1 2 4 --runs 3 [--csv out.csv]
  benchmarks/pipeline/postgres_bench.py --generated 4000 --writers 1 2 4 --runs 3
  benchmarks/pipeline/postgres_bench.py --generated 8000 --writers 1 --shards 1 2 3 --runs 3
EDGARPIPE_BIN=DIR picks the edgarpipe binaries under test (default build/bin), e.g. to compare
two builds on the same server in one session.
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

from harness import CLK, cpu_ticks
from pipeline_bench import checkpoint  # every timed load starts from a CHECKPOINT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("EDGARPIPE_BIN", os.path.join(ROOT, "build", "bin"))
DATA = os.path.join(ROOT, "tests", "data")
TABLES = ["companies", "company_tickers", "former_names", "submission_pages", "filings", "entities", "concepts",
          "facts", "ingest_files"]
NAME = re.compile(r"^CIK(\d{10})(.*\.json)$")
CIK_FIELD = re.compile(rb'"cik"\s*:\s*("?)(\d+)("?)')


def make_corpus(where, copies):
    for k in range(1, copies + 1):
        for dirpath, _, names in os.walk(DATA):
            rel = os.path.relpath(dirpath, DATA)
            for n in names:
                m = NAME.match(n)
                if not m:
                    continue
                offset = k * 10**8
                dest_dir = os.path.join(where, f"copy{k:04d}", rel)
                os.makedirs(dest_dir, exist_ok=True)
                with open(os.path.join(dirpath, n), "rb") as f:
                    body = f.read()

                def shift(match):
                    q1, digits, q2 = match.group(1), match.group(2), match.group(3)
                    new = int(digits) + offset
                    text = f"{new:0{len(digits)}d}" if q1 else str(new)
                    return b'"cik":' + q1 + text.encode() + q2
                body = CIK_FIELD.sub(shift, body, count=1)
                new_name = f"CIK{int(m.group(1)) + offset:010d}{m.group(2)}"
                with open(os.path.join(dest_dir, new_name), "wb") as f:
                    f.write(body)
    return where


def psql(url, sql):
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def truncate(url):
    psql(url, "TRUNCATE " + ", ".join(TABLES) + ", ingest_runs")
    checkpoint(url)


def run_edgarpipe(corpus, url, writers, parsers, summary):
    cmd = [os.path.join(BIN, "edgarpipe"), "run", corpus, "--sink", url, "--parsers", str(parsers),
           "--writers", str(writers), "--progress", "never", "--summary-json", summary]
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"edgarpipe failed ({p.returncode}): {p.stderr}")
    with open(summary) as f:
        return elapsed, json.load(f)


def server_cpu(url):
    """CPU seconds the PostgreSQL server has used: the postmaster, its live processes, and the
    backends it has reaped (a finished session's CPU moves into the postmaster's)."""
    with open(os.path.join(psql(url, "SHOW data_directory"), "postmaster.pid")) as f:
        postmaster = int(f.readline())
    ticks = cpu_ticks(postmaster, reaped=True)
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == postmaster:
                ticks += cpu_ticks(entry)
        except OSError:
            pass
    return ticks / CLK


def run_shards(corpus, url, shards, writers, parsers, tmp):
    """`shards` runs at once, one shard each: wall seconds, rows, client and server CPU seconds."""
    server_before = server_cpu(url)
    clients_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    procs = []
    for i in range(shards):
        summary = os.path.join(tmp, f"shard{i}.json")
        procs.append((subprocess.Popen(
            [os.path.join(BIN, "edgarpipe"), "run", corpus, "--sink", url, "--shard", f"{i}/{shards}", "--parsers",
             str(parsers), "--writers", str(writers), "--progress", "never", "--summary-json", summary],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True), summary))
    rows = 0
    for p, summary in procs:
        err = p.communicate()[1]
        if p.returncode != 0:
            sys.exit(f"edgarpipe --shard failed ({p.returncode}): {err}")
        with open(summary) as f:
            rows += json.load(f)["rows_total"]
    elapsed = time.monotonic() - start
    clients = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (clients.ru_utime - clients_before.ru_utime) + (clients.ru_stime - clients_before.ru_stime)
    return elapsed, rows, client_cpu, server_cpu(url) - server_before


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--generated", type=int, metavar="SUBMISSIONS",
                    help="use an edgarpipe-gen corpus (seed 7, SUBMISSIONS filers, one companyfacts file per 50) "
                         "instead of copies of tests/data")
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--parsers", type=int, default=2)
    ap.add_argument("--shards", type=int, nargs="*", default=[], metavar="K",
                    help="also time K shard runs at once into the one server, for each K")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--csv")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="edgarpipe-pgbench-")
    os.chmod(tmp, 0o755)  # a throw-away server's data directory lives inside
    cluster = None
    try:
        url = os.environ.get("EDGARPIPE_TEST_PG")
        if not url:
            cluster = os.path.join(tmp, "pg")
            out = subprocess.run([os.path.join(ROOT, "deploy", "pg-cluster.sh"), "start", cluster], check=True,
                                 capture_output=True, text=True).stdout
            url = out.split("'")[1]
        corpus = os.path.join(tmp, "corpus")
        if args.generated:
            subprocess.run([os.path.join(BIN, "edgarpipe-gen"), "--out", corpus, "--seed", "7", "--submissions",
                            str(args.generated), "--companyfacts", str(max(1, args.generated // 50))],
                           check=True, capture_output=True)
        else:
            make_corpus(corpus, args.copies)
        summary = os.path.join(tmp, "summary.json")

        # 1. One load, then the pre-made binary files of exactly those rows.
        subprocess.run([os.path.join(BIN, "edgarpipe"), "schema", "--sink", url], check=True, capture_output=True)
        run_edgarpipe(corpus, url, 1, args.parsers, summary)
        truncate(url)
        _, s = run_edgarpipe(corpus, url, 1, args.parsers, summary)
        rows, bytes_ = s["rows_total"], s["bytes"]
        files = {}
        for t in TABLES:
            files[t] = os.path.join(tmp, f"{t}.bin")
            psql(url, f"\\copy {t} TO '{files[t]}' (FORMAT binary)")

        # 2. The reference: the database's own COPY of those files.
        # One psql session for all tables (no per-table process start), timed end to end, with
        # psql's own per-statement timing for the per-table figures.
        script = os.path.join(tmp, "reference.sql")
        with open(script, "w") as f:
            f.write("\\timing on\n")
            for t in TABLES:
                f.write(f"\\copy {t} FROM '{files[t]}' (FORMAT binary)\n")
        ref_runs, per_table = [], {t: [] for t in TABLES}
        for _ in range(args.runs):
            truncate(url)
            start = time.monotonic()
            out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-f", script], check=True, capture_output=True,
                                 text=True).stdout
            ref_runs.append(time.monotonic() - start)
            for t, ms in zip(TABLES, re.findall(r"Time: ([0-9.]+) ms", out)):
                per_table[t].append(float(ms) / 1000)
        ref = statistics.median(ref_runs)
        counts = {t: int(psql(url, f"SELECT count(*) FROM {t}")) for t in TABLES}

        what = f"edgarpipe-gen --submissions {args.generated}" if args.generated else f"{args.copies} copies"
        print(f"corpus: {what}, {s['files_loaded']} files, {bytes_ / 1e6:.0f} MB, {rows} rows")
        print(f"reference (psql \\copy FROM the binary files, one session): {ref:.2f} s, {rows / ref:,.0f} rows/s")
        for t in TABLES:
            secs = statistics.median(per_table[t])
            print(f"  {t:18s} {counts[t]:>9,} rows  {secs:6.3f} s  {counts[t] / max(secs, 1e-9):>12,.0f} rows/s  "
                  f"{os.path.getsize(files[t]) / 1e6 / max(secs, 1e-9):7.1f} MB/s")

        # 3. edgarpipe with 1, 2, 4 writers.
        results = []
        for w in args.writers:
            times = []
            for _ in range(args.runs):
                truncate(url)
                elapsed, s = run_edgarpipe(corpus, url, w, args.parsers, summary)
                if s["rows_total"] != rows:
                    sys.exit(f"row count differs: {s['rows_total']} != {rows}")
                times.append(elapsed)
            secs = statistics.median(times)
            results.append((w, secs))
            print(f"edgarpipe --writers {w}: {secs:.2f} s, {rows / secs:,.0f} rows/s, {bytes_ / 1e6 / secs:.1f} MB/s, "
                  f"ratio to reference {ref / secs:.2f}")
            # Tables load interleaved, so per table: its rows and binary COPY bytes over the run.
            for t in TABLES:
                if counts[t] >= 1000:
                    print(f"  {t:18s} {counts[t] / secs:>12,.0f} rows/s  {os.path.getsize(files[t]) / 1e6 / secs:7.1f} MB/s")
        # 4. K shards at once into the one server: where the time goes as K grows.
        for k in args.shards:
            measured = []
            for _ in range(args.runs):
                psql(url, "DROP DATABASE IF EXISTS edgarpipe_bench_shards")
                psql(url, "CREATE DATABASE edgarpipe_bench_shards")
                fresh = urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path="/edgarpipe_bench_shards"))
                elapsed, got, client_cpu, server = run_shards(corpus, fresh, k, args.writers[0], args.parsers, tmp)
                if got != rows:
                    sys.exit(f"{k} shards: row count differs: {got} != {rows}")
                measured.append((elapsed, client_cpu, server))
            psql(url, "DROP DATABASE edgarpipe_bench_shards")
            secs, client_cpu, server = sorted(measured)[len(measured) // 2]
            print(f"{k} shard(s) at once (--writers {args.writers[0]} each): {secs:.2f} s, {rows / secs:,.0f} rows/s, "
                  f"{bytes_ / 1e6 / secs:.1f} MB/s, ratio to reference {ref / secs:.2f}; CPU: clients {client_cpu:.1f} s "
                  f"({client_cpu / secs:.2f} cores), server {server:.1f} s ({server / secs:.2f} cores)")
        if args.csv:
            new = not os.path.exists(args.csv)
            with open(args.csv, "a") as f:
                if new:
                    f.write("copies,files,bytes,rows,reference_s,writers,parsers,pipeline_s,rows_per_s,ratio\n")
                corpus_name = f"gen{args.generated}" if args.generated else args.copies
                for w, secs in results:
                    f.write(f"{corpus_name},{s['files_loaded']},{bytes_},{rows},{ref:.4f},{w},{args.parsers},"
                            f"{secs:.4f},{rows / secs:.0f},{ref / secs:.3f}\n")
    finally:
        if cluster:
            subprocess.run([os.path.join(ROOT, "deploy", "pg-cluster.sh"), "stop", cluster], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
