#!/usr/bin/env python3
"""kill -9 of any process at a random instant, then a rerun: the database holds one clean load.

Each trial starts a run over a generated corpus (with a few malformed files, so rejections are
part of what must come out exactly once) and, after a random delay within a clean run's
duration, kills one process with SIGKILL: a reader, a parser, a writer, or the supervisor.
- A stage killed: the supervisor restarts the stages, so the run itself must end as a clean run
  ends (same exit status) with every table equal to a clean load, and a rerun loads nothing.
- The supervisor killed: its stage processes must exit by themselves (they die with it), and the
  rerun must complete, mark the dead run 'interrupted', remove its shared memory, and end with
  every table equal to a clean load.
Trials are seeded (victims and instants follow --seed), so a failure can be replayed.
Runs on SQLite, and on PostgreSQL when EDGARPIPE_TEST_PG is set.

Usage: fault_test.py BIN_DIR [--trials N] [--seed S]
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from sinktest import TABLES, Sqlite, check, on_every_sink, verdict

ROLES = ["reader", "parser", "writer", "supervisor"]


def children(pid):
    """Stage processes whose parent is `pid`: {pid: role}."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        name = os.path.basename(argv0)
        if ppid == pid and name.startswith("edgarpipe-"):
            found[int(entry)] = name[len("edgarpipe-"):]
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def start(bin_dir, corpus, url, writers):
    return subprocess.Popen([os.path.join(bin_dir, "edgarpipe"), "run", corpus, "--sink", url, "--parsers", "2",
                             "--writers", str(writers), "--progress", "never"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=300):
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def same_as_clean(sink, url, clean, what):
    for table in TABLES:
        a, b = sink.dump(url, table), sink.dump(clean, table)
        check(a == b, f"{sink.name}, {what}: {table} differs from a clean load ({len(a)} rows vs {len(b)})")


def trial(sink, bin_dir, corpus, clean, clean_code, clean_seconds, writers, rng, number):
    victim = ROLES[number % len(ROLES)] if number < len(ROLES) else rng.choice(ROLES)
    # Readers and parsers finish their share early (writers, the database, are slower).
    delay = rng.uniform(*((0.05, 0.5) if victim in ("reader", "parser") else (0.1, 0.9))) * clean_seconds
    what = f"trial {number} (kill -9 {victim} after {delay:.2f} s)"
    url = sink.fresh()
    proc = start(bin_dir, corpus, url, writers)
    time.sleep(delay)
    stages = children(proc.pid)
    killed = None
    if victim == "supervisor":
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed = proc.pid
    else:
        # The victim role may be between attempts or not started yet: look again briefly.
        deadline = time.monotonic() + 1.0
        while proc.poll() is None and time.monotonic() < deadline:
            pids = [p for p, role in children(proc.pid).items() if role == victim]
            if pids:
                killed = rng.choice(sorted(pids))
                os.kill(killed, signal.SIGKILL)
                break
            time.sleep(0.01)
    code, err = finish(proc)
    if killed is None:
        print(f"{sink.name}, {what}: the run had finished before the kill", file=sys.stderr)

    if victim != "supervisor" or killed is None:
        check(code == clean_code, f"{sink.name}, {what}: the run exited {code}, a clean run {clean_code}: {err[-600:]}")
        if killed is not None:
            check("restart 1 of at most" in err, f"{sink.name}, {what}: no restart reported: {err[-600:]}")
        same_as_clean(sink, url, clean, what + ", the run itself")
        code, err = finish(start(bin_dir, corpus, url, writers))
        check(code == clean_code and " 0 loaded" in err, f"{sink.name}, {what}: the rerun loaded again: {err[-600:]}")
        same_as_clean(sink, url, clean, what + ", after a rerun")
        return

    after_dead_supervisor(sink, bin_dir, corpus, url, clean, clean_code, writers, stages, killed, what)


def after_dead_supervisor(sink, bin_dir, corpus, url, clean, clean_code, writers, stages, killed, what):
    # The supervisor is gone: its stages must follow it by themselves.
    deadline = time.monotonic() + 10
    while any(alive(p) for p in stages) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(not any(alive(p) for p in stages), f"{sink.name}, {what}: stage processes outlived the supervisor")
    dead_runs = sink.query(url, "SELECT run_id FROM ingest_runs WHERE status = 'running'") if tables_exist(
        sink, url) else []
    code, err = finish(start(bin_dir, corpus, url, writers))
    check(code == clean_code, f"{sink.name}, {what}: the rerun exited {code}: {err[-600:]}")
    same_as_clean(sink, url, clean, what + ", after a rerun")
    if dead_runs:
        check("marked interrupted" in err, f"{sink.name}, {what}: the dead run was not reported: {err[-600:]}")
        statuses = sink.query(url, f"SELECT status FROM ingest_runs WHERE run_id = {dead_runs[0][0]}")
        check(statuses == [("interrupted",)], f"{sink.name}, {what}: the dead run is {statuses}")
    check(sink.query(url, "SELECT count(*) FROM ingest_runs WHERE status = 'running'") in ([(0,)], [("0",)]),
          f"{sink.name}, {what}: a run is still marked running")
    left = [n for n in os.listdir("/dev/shm") if n.startswith(f"edgarpipe-{killed}-")]
    check(not left, f"{sink.name}, {what}: the rerun left the dead run's segments: {left}")
    return err


def killed_building_indexes(sink, bin_dir, corpus, clean, clean_code, writers):
    """kill -9 of the supervisor as it starts the index build of a fresh database's first load:
    the rerun marks the run interrupted and builds the indexes itself."""
    what = "kill -9 supervisor as it builds the indexes"
    url = sink.fresh()
    proc = start(bin_dir, corpus, url, writers)
    watchdog = threading.Timer(300, proc.kill)  # a run that never gets there fails, not hangs
    watchdog.start()
    for line in proc.stderr:
        if "building the secondary indexes" in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    watchdog.cancel()
    finish(proc)
    check(proc.returncode == -signal.SIGKILL, f"{sink.name}, {what}: the run never said it builds the indexes")
    err = after_dead_supervisor(sink, bin_dir, corpus, url, clean, clean_code, writers, [], proc.pid, what)
    check("secondary indexes in " in err, f"{sink.name}, {what}: the rerun did not build the indexes: {err[-600:]}")


def dead_run_lock_held_briefly(sink, bin_dir, corpus, clean, clean_code, writers, other_schema=False):
    """A dead run whose run lock outlives it for a moment, as a killed supervisor's PostgreSQL
    backend holds it until its statement (a CREATE INDEX of minutes) ends: the rerun must wait
    for it and mark the run interrupted, not take it for a live run and leave it 'running'.
    other_schema: instead, a real run into another schema of the same database (schema=), slowed
    to outlast the rerun's wait, is alive meanwhile: it must not count as a run of this one."""
    what = "a live run's lock in another schema" if other_schema else "a dead run's lock held for 1.5 s after it"
    url = sink.fresh()
    code, err = finish(start(bin_dir, corpus, url, writers))
    check(code == clean_code, f"{sink.name}, {what}: the first load exited {code}: {err[-600:]}")
    sink.query(url, "UPDATE ingest_runs SET status = 'running' WHERE run_id = (SELECT max(run_id) FROM ingest_runs)")
    if other_schema:
        neighbour_url = url + ("&" if "?" in url else "?") + "schema=neighbour"
        neighbour = subprocess.Popen([os.path.join(bin_dir, "edgarpipe"), "run", corpus, "--sink", neighbour_url,
                                      "--progress", "never", "--max-restarts", "0"],
                                     env={**os.environ, "EDGARPIPE_TEST_FAULT": "slow:writer:20"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until it holds its run lock (its run is recorded)
            try:
                if sink.query(url, "SELECT count(*) FROM neighbour.ingest_runs WHERE status = 'running'") == [("1",)]:
                    break
            except Exception:
                pass
            time.sleep(0.1)
        after_dead_supervisor(sink, bin_dir, corpus, url, clean, clean_code, writers, [], 0, what)
        check(neighbour.poll() is None, f"{sink.name}, {what}: the neighbour run ended before the check")
        neighbour.kill()
        neighbour.communicate()
        return
    holder = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    holder.stdin.write("SELECT pg_advisory_lock_shared(1162891346, hashtext(current_schema()));\n")  # kRunLock
    holder.stdin.flush()
    holder.stdout.readline()  # the lock is held once psql answers
    release = lambda: holder.communicate("")
    threading.Timer(1.5, release).start()
    after_dead_supervisor(sink, bin_dir, corpus, url, clean, clean_code, writers, [], 0, what)


def tables_exist(sink, url):
    try:
        sink.query(url, "SELECT count(*) FROM ingest_runs")
        return True
    except Exception:  # killed before it made the schema
        return False


def campaign(sink, bin_dir, corpus, writers, trials, seed):
    clean = sink.fresh()
    began = time.monotonic()
    clean_code, err = finish(start(bin_dir, corpus, clean, writers))
    clean_seconds = time.monotonic() - began
    check(clean_code in (0, 3), f"{sink.name}: the clean load exited {clean_code}: {err[-600:]}")
    rng = random.Random(seed)
    for n in range(trials):
        trial(sink, bin_dir, corpus, clean, clean_code, clean_seconds, writers, rng, n)
    killed_building_indexes(sink, bin_dir, corpus, clean, clean_code, writers)
    if not isinstance(sink, Sqlite):  # a dead process's flock goes with it: no such window
        dead_run_lock_held_briefly(sink, bin_dir, corpus, clean, clean_code, writers)
        dead_run_lock_held_briefly(sink, bin_dir, corpus, clean, clean_code, writers, other_schema=True)
    print(f"{sink.name}: {trials} trials, clean load {clean_seconds:.2f} s", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="edgarpipe-fault-")
    try:
        corpus = os.path.join(work, "corpus")
        subprocess.run([os.path.join(args.bin_dir, "edgarpipe-gen"), "--out", corpus, "--seed", "11",
                        "--submissions", "900", "--companyfacts", "30", "--malformed", "4"],
                       check=True, stdout=subprocess.DEVNULL)
        on_every_sink(work, "fault_test", lambda sink: campaign(
            sink, args.bin_dir, corpus, 1 if isinstance(sink, Sqlite) else 2, args.trials, args.seed))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("faults", f" (replay with --seed {args.seed})")


if __name__ == "__main__":
    sys.exit(main())
