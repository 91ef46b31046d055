#!/usr/bin/env python3
"""`edgarpipe tune` leaves the target database unchanged, tries several ratios, and writes an
options file that `edgarpipe run --options` takes.

On SQLite the target file's bytes are compared before and after, and no scratch file may remain
beside it; on PostgreSQL (EDGARPIPE_TEST_PG) every table of the target is compared and no
scratch schema may remain.

Usage: tune_test.py BIN_DIR
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from sinktest import TABLES, Sqlite, check, on_every_sink, verdict


def edgarpipe(bin_dir, *args):
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), *args], capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr


def snapshot(sink, url):
    """What must not change: the SQLite file's bytes, or every table and the schemas."""
    if isinstance(sink, Sqlite):
        path = url[len("sqlite:"):]
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest(), sorted(os.listdir(os.path.dirname(path)))
    tables = {t: sink.dump(url, t) for t in TABLES}
    tables["ingest_runs"] = sink.query(url, "SELECT * FROM ingest_runs ORDER BY run_id")
    # (PostgreSQL keeps the namespaces of temporary tables, pg_temp_N, once made: not ours.)
    schemas = sink.query(url, "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg%temp%' ORDER BY 1")
    return tables, schemas


def scenario(sink, bin_dir, corpus, work):
    target = sink.fresh()
    code, _, err = edgarpipe(bin_dir, "run", os.path.join(corpus, "submissions"), "--sink", target,
                             "--progress", "never")
    check(code == 0, f"{sink.name}: loading the target exited {code}: {err[-600:]}")
    before = snapshot(sink, target)
    options = os.path.join(work, f"tuned-{sink.name}.opts")
    code, out, err = edgarpipe(bin_dir, "tune", corpus, "--sink", target, "--sample-mb", "8", "--trials", "3",
                               "--write", options)
    check(code == 0, f"{sink.name}: tune exited {code}: {err[-600:]}")
    trials = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+\d+\s+\d+\s", line)]
    check(len(trials) >= 2, f"{sink.name}: tune ran {len(trials)} trials, expected at least 2:\n{out}")
    check(len({tuple(t.split()[1:4]) for t in trials}) == len(trials), f"{sink.name}: a ratio was tried twice:\n{out}")
    m = re.search(r"recommended for .*: --readers (\d+) --parsers (\d+) --writers (\d+)", out)
    check(m is not None, f"{sink.name}: no recommendation:\n{out}")
    after = snapshot(sink, target)
    if isinstance(sink, Sqlite):
        check(after == before, f"{sink.name}: tune changed the target database")
    else:
        for table in before[0]:
            check(after[0][table] == before[0][table], f"{sink.name}: tune changed {table} in the target")
        check(after[1] == before[1], f"{sink.name}: schemas before {before[1]}, after {after[1]}")

    # The options file is what `run --options` takes.
    fresh = sink.fresh()
    summary = os.path.join(work, "summary.json")
    code, _, err = edgarpipe(bin_dir, "run", os.path.join(corpus, "submissions"), "--sink", fresh, "--progress",
                             "never", "--options", options, "--summary-json", summary)
    check(code == 0, f"{sink.name}: run --options exited {code}: {err[-600:]}")
    if m and code == 0:
        with open(summary) as f:
            stages = json.load(f)["stages"]
        got = (stages["reader"]["processes"], stages["parser"]["processes"], stages["writer"]["processes"])
        check(got == tuple(int(g) for g in m.groups()), f"{sink.name}: run --options started {got}")


def main():
    bin_dir = sys.argv[1]
    work = tempfile.mkdtemp(prefix="edgarpipe-tune-")
    try:
        corpus = os.path.join(work, "corpus")
        subprocess.run([os.path.join(bin_dir, "edgarpipe-gen"), "--out", corpus, "--seed", "5",
                        "--submissions", "1500", "--companyfacts", "20"], check=True, stdout=subprocess.DEVNULL)
        dbs = os.path.join(work, "dbs")
        os.mkdir(dbs)
        on_every_sink(dbs, "tune_test", lambda sink: scenario(sink, bin_dir, corpus, work))
        code, _, err = edgarpipe(bin_dir, "tune", corpus, "--sink", "mssql://sa@127.0.0.1:1/x")
        check(code == 2 and "--scratch-sink" in err, f"tune on SQL Server without --scratch-sink exited {code}: {err}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("tune")


if __name__ == "__main__":
    sys.exit(main())
