#!/usr/bin/env python3
"""No sequence of runs can wedge a database: a seeded property test.

From any state edgarpipe itself can leave a database in, one plain run over a snapshot (with
--prune) ends equal to a clean load of that snapshot, and so does one --force run after it
(../shared/edgar-tables.md; issue: "nothing can wedge"). Each sequence applies random operations
to a fresh database:
- runs over snapshot A (the samples) or B (a newer one: changed, new and absent filers, a new
  overflow page, a truly bad file), in random forms: the folder, its parent folder, a zip of it,
  the folder and the zip together, or only its submissions;
- with random flags: none, --force, --retry-rejected, --shard I/N, --prune (whole snapshots);
- kill -9 of the supervisor or of a stage process at a random instant of a run;
then checks the two final runs against clean loads, table by table. The one documented
difference: concepts are shared by all filers and never deleted, so those of the other snapshot
may stay (docs/operations.md). Exit statuses must match the clean load's.

Sequences are seeded: a failure names its seed and operations, and --seed replays it.
Runs on SQLite, and on PostgreSQL when EDGARPIPE_TEST_PG is set.

Usage: convergence_test.py BIN_DIR DATA_DIR [--sequences N] [--length L] [--seed S]
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

from fault_test import alive, children
from sinktest import TABLES, Sqlite, check, on_every_sink, verdict
from snapshot_test import make_snapshots

FORMS = ["dir", "parent", "zip", "dir+zip", "submissions"]
FLAGS = ["", "", "--force", "--retry-rejected", "--shard", "--prune"]


def make_forms(snapshot, work, name):
    parent = os.path.join(work, f"{name}-parent")
    shutil.copytree(snapshot, os.path.join(parent, "snapshot"))
    archive = os.path.join(work, f"{name}.zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(snapshot):
            for f in sorted(files):
                path = os.path.join(root, f)
                z.write(path, os.path.relpath(path, snapshot))
    return {"dir": [snapshot], "parent": [parent], "zip": [archive], "dir+zip": [snapshot, archive],
            "submissions": [os.path.join(snapshot, "submissions")]}


def edgarpipe_run(bin_dir, url, paths, options, writers):
    return subprocess.Popen([os.path.join(bin_dir, "edgarpipe"), "run", *paths, "--sink", url, "--progress", "never",
                             "--writers", str(writers), *options],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc):
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def wait_gone(pids):
    """Stage processes follow a killed supervisor by themselves; the next run starts after them."""
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def random_operation(rng, snapshots):
    name = rng.choice(sorted(snapshots))
    form = rng.choice(FORMS)
    flag = rng.choice(FLAGS)
    options = []
    if flag == "--shard":
        n = rng.choice([2, 3])
        options = ["--shard", f"{rng.randrange(n)}/{n}"]
    elif flag == "--prune" and form == "submissions":
        options = []  # a part of a snapshot must never be pruned against
    elif flag == "--prune":  # the fixture's snapshots differ by more filers than the 5% default allows
        options = [flag, "--max-prune-fraction", "1"]
    elif flag:
        options = [flag]
    kill = rng.random() < 0.35
    victim = rng.choice(["supervisor", "reader", "parser", "writer"]) if kill else None
    return {"snapshot": name, "form": form, "options": options, "victim": victim, "delay": rng.uniform(0.02, 0.6)}


def describe(op):
    text = f"{op['snapshot']}:{op['form']} {' '.join(op['options'])}".strip()
    return text + (f" (kill -9 {op['victim']} after {op['delay']:.2f} s)" if op["victim"] else "")


def apply(sink, bin_dir, url, op, snapshots, writers, rng):
    proc = edgarpipe_run(bin_dir, url, snapshots[op["snapshot"]][op["form"]], op["options"], writers)
    if not op["victim"]:
        return finish(proc)
    time.sleep(op["delay"])
    stages = children(proc.pid)
    if op["victim"] == "supervisor":
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    else:
        pids = [p for p, role in stages.items() if role == op["victim"]]
        if pids and proc.poll() is None:
            try:
                os.kill(rng.choice(sorted(pids)), signal.SIGKILL)
            except ProcessLookupError:
                pass
    code, err = finish(proc)
    wait_gone(list(stages))
    return code, err


def compare(sink, got, want, other_concepts, what):
    for table in TABLES:
        a, b = sink.dump(got, table), sink.dump(want, table)
        if table == "concepts":
            extra = set(a) - set(b)
            check(set(b) <= set(a) and extra <= other_concepts,
                  f"{sink.name}, {what}: concepts {len(a)} vs {len(b)}, {len(extra - other_concepts)} unexplained")
            continue
        check(a == b, f"{sink.name}, {what}: {table} differs from a clean load ({len(a)} rows vs {len(b)})")


def campaign(sink, bin_dir, snapshots, args, writers):
    clean, clean_code, concepts = {}, {}, {}
    for name in snapshots:
        clean[name] = sink.fresh()
        clean_code[name], err = finish(edgarpipe_run(bin_dir, clean[name], snapshots[name]["dir"], [], writers))
        check(clean_code[name] in (0, 3), f"{sink.name}: clean load of {name} exited {clean_code[name]}: {err[-400:]}")
        concepts[name] = set(sink.dump(clean[name], "concepts"))
    operations = 0
    for n in range(args.sequences):
        seed = args.seed + n
        rng = random.Random(seed)
        url = sink.fresh()
        ops = [random_operation(rng, snapshots) for _ in range(rng.randint(1, args.length))]
        for op in ops:
            apply(sink, bin_dir, url, op, snapshots, writers, rng)
        operations += len(ops)
        target = rng.choice(sorted(snapshots))
        other = set().union(*(concepts[s] for s in snapshots if s != target)) - concepts[target]
        history = f"seed {seed}: " + "; ".join(describe(op) for op in ops)
        for final in (["--prune", "--max-prune-fraction", "1"], ["--force", "--prune", "--max-prune-fraction", "1"]):
            code, err = finish(edgarpipe_run(bin_dir, url, snapshots[target]["dir"], final + ["--max-restarts", "0"],
                                             writers))
            what = f"{history}; then {target} {' '.join(final)}"
            check(code == clean_code[target], f"{sink.name}, {what}: exit {code}, a clean load {clean_code[target]}: "
                                              f"{err[-600:]}")
            compare(sink, url, clean[target], other, what)
    print(f"{sink.name}: {args.sequences} sequences, {operations} operations, seeds {args.seed}.."
          f"{args.seed + args.sequences - 1}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("data_dir")
    parser.add_argument("--sequences", type=int, default=6)
    parser.add_argument("--length", type=int, default=5, help="operations per sequence, at most")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="edgarpipe-converge-")
    try:
        a, b = make_snapshots(args.data_dir, work)
        snapshots = {"A": make_forms(a, work, "A"), "B": make_forms(b, work, "B")}
        on_every_sink(work, "convergence_test", lambda sink: campaign(
            sink, args.bin_dir, snapshots, args, 1 if isinstance(sink, Sqlite) else 2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("convergence", f" (replay with --seed {args.seed})")


if __name__ == "__main__":
    sys.exit(main())
