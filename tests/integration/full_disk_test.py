#!/usr/bin/env python3
"""SQLite on a full disk: a clean failure, no corrupt database, and a rerun after freeing space
completes with exactly one clean load.

The test mounts a small tmpfs (root only; elsewhere it is skipped with exit code 77), loads the
samples into a database on it until the disk fills, checks the database (PRAGMA integrity_check,
every file marked loaded has exactly its rows of a clean load), then grows the filesystem, reruns,
and compares every table with a clean load.

Usage: full_disk_test.py BIN_DIR DATA_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

from sinktest import TABLES, Sqlite, check, verdict

SKIP = 77


def run(bin_dir, data_dir, url, slow=False):
    # Slowed down (100 ms per file in the writer), the load commits several times (every 2 s)
    # before the disk fills, so the failure meets committed files and an open transaction.
    env = dict(os.environ, EDGARPIPE_TEST_FAULT="slow:writer:100") if slow else None
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "run", data_dir, "--sink", url, "--progress", "never",
                        "--max-restarts", "1"], capture_output=True, text=True, timeout=600, env=env)
    return r.returncode, r.stderr


def main():
    bin_dir, data_dir = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        print("not root: cannot mount a small filesystem; skipped", file=sys.stderr)
        return SKIP
    work = tempfile.mkdtemp(prefix="edgarpipe-fulldisk-")
    disk = os.path.join(work, "disk")
    os.mkdir(disk)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", disk]).returncode != 0:
        print("mount -t tmpfs failed (no privilege in this environment); skipped", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        return SKIP
    try:
        sink = Sqlite(work)
        clean = sink.fresh()
        code, err = run(bin_dir, data_dir, clean)
        check(code == 0, f"clean load exited {code}: {err[-600:]}")

        full = "sqlite:" + os.path.join(disk, "full.db")
        code, err = run(bin_dir, data_dir, full, slow=True)
        check(code == 1, f"a load onto a full disk exited {code}, not 1: {err[-800:]}")
        check("full" in err, f"the failure does not say the disk is full: {err[-800:]}")
        integrity = sink.query(full, "PRAGMA integrity_check")
        check(integrity == [("ok",)], f"integrity_check after the failure: {integrity}")
        # Whole files only: each file marked loaded has its clean-load row count.
        loaded = sink.query(full, "SELECT source_file, rows FROM ingest_files WHERE status = 'loaded'")
        expected = dict(sink.query(clean, "SELECT source_file, rows FROM ingest_files"))
        check(all(expected.get(f) == n for f, n in loaded), f"partly loaded files: {loaded}")
        check(len(loaded) < len(expected), "the disk never filled: make the filesystem smaller")
        print(f"{len(loaded)} files committed before the disk filled", file=sys.stderr)

        subprocess.run(["mount", "-o", "remount,size=256m", disk], check=True)
        code, err = run(bin_dir, data_dir, full)
        check(code == 0, f"the rerun after freeing space exited {code}: {err[-800:]}")
        for table in TABLES:
            a, b = sink.dump(full, table), sink.dump(clean, table)
            check(a == b, f"after the rerun, {table} differs from a clean load ({len(a)} rows vs {len(b)})")
        check(sink.query(full, "PRAGMA integrity_check") == [("ok",)], "integrity_check after the rerun")
    finally:
        subprocess.run(["umount", disk])
        shutil.rmtree(work, ignore_errors=True)
    return verdict("full disk")


if __name__ == "__main__":
    sys.exit(main())
