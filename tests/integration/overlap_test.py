#!/usr/bin/env python3
"""Two runs over the same inputs at once (overlapping cron jobs; a requeued Slurm task beside its
old attempt) leave the database equal to one clean load.

Both runs read every file as not loaded; whichever commits a file second meets the first's rows.
That file must be skipped (loaded by the other run), not rejected: a reject row would take the
place of the other run's 'loaded' row while its rows stay, and every later run would stumble on
it. A slow writer (20 ms a file) keeps both runs loading side by side over a fresh database, so
they also create its schema at once. Checked, whatever the interleaving: every table equals a
single run's load, ingest_files holds no "database refused" reject, and the two runs loaded
each good file once between them. Then six first runs at once over one file of a fresh database:
all finish, one loads it. Runs on SQLite, and on PostgreSQL when EDGARPIPE_TEST_PG is set.

Usage: overlap_test.py BIN_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

from sinktest import TABLES, check, on_every_sink, verdict

ROUNDS = 2


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    edgarpipe = os.path.join(bin_dir, "edgarpipe")
    work = tempfile.mkdtemp(prefix="edgarpipe-overlap-")
    try:
        corpus = os.path.join(work, "corpus")
        subprocess.run([os.path.join(bin_dir, "edgarpipe-gen"), "--out", corpus, "--seed", "23",
                        "--submissions", "200", "--companyfacts", "6", "--malformed", "2"],
                       check=True, stdout=subprocess.DEVNULL)
        good = sum(f.endswith(".json") for _, _, files in os.walk(corpus) for f in files) - 2

        def run(url, env=None):
            return subprocess.Popen([edgarpipe, "run", corpus, "--sink", url, "--progress", "never"],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def scenario(sink):
            reference = sink.fresh()
            r = run(reference)
            _, err = r.communicate(timeout=600)
            check(r.returncode == 3, f"{sink.name}: the single run: exit {r.returncode}: {err[-400:]}")
            for round_ in range(ROUNDS):
                url = sink.fresh()
                slow = dict(os.environ, EDGARPIPE_TEST_FAULT="slow:writer:20")
                both = [run(url, slow), run(url, slow)]
                outs = [p.communicate(timeout=600) for p in both]
                what = f"{sink.name}, round {round_ + 1}"
                for p, (_, err) in zip(both, outs):
                    check(p.returncode == 3, f"{what}: a run exited {p.returncode}: {err[-600:]}")
                for table in TABLES:
                    a, b = sink.dump(url, table), sink.dump(reference, table)
                    check(a == b and a, f"{what}: {table} differs from a single run's load "
                                        f"({len(a)} vs {len(b)} rows; first only here: {sorted(set(a) - set(b))[:2]})")
                refused = sink.query(url, "SELECT source_file, error FROM ingest_files WHERE error LIKE "
                                          "'database refused%'")
                check(not refused, f"{what}: files rejected for meeting the other run's rows: {refused[:3]}")
                loaded = sink.query(url, "SELECT run_id, files_loaded, files_skipped, status FROM ingest_runs "
                                         "ORDER BY run_id")
                total = sum(int(n) for _, n, _, _ in loaded)
                check(total == good and all(s == "completed" for *_, s in loaded),
                      f"{what}: the runs loaded {total} files between them, not each of the {good} good ones "
                      f"once: {loaded}")
                print(f"{what}: runs (id, loaded, skipped, status): {loaded}")
            # Six first runs at once over one small file: each creates the schema (tables, views,
            # statement_lines) of the same fresh database; all must finish, and one loads the file.
            # (SQLite's schema outside a transaction failed this in 8 of 8 trials: "view ...
            # already exists", two runs' DROP and CREATE VIEW interleaved.)
            one = os.path.join(work, "one")
            os.makedirs(one, exist_ok=True)
            shutil.copy(next(os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in sorted(fs)
                             if f.startswith("CIK") and "-submissions-" not in f), one)
            url = sink.fresh()
            six = [subprocess.Popen([edgarpipe, "run", one, "--sink", url, "--progress", "never"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
            outs = [p.communicate(timeout=600) for p in six]
            check(all(p.returncode == 0 for p in six),
                  f"{sink.name}: six first runs at once: exits {[p.returncode for p in six]}: "
                  f"{[err[-300:] for p, (_, err) in zip(six, outs) if p.returncode != 0][:1]}")
            files = sink.query(url, "SELECT count(*) FROM ingest_files WHERE status = 'loaded'")
            lines = sink.query(url, "SELECT count(*) FROM statement_lines")
            check([tuple(map(str, r)) for r in files + lines] == [("1",), ("62",)],
                  f"{sink.name}: six first runs at once: loaded files {files}, statement_lines {lines}")

        on_every_sink(work, "overlap_test", scenario)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("overlap_test")


if __name__ == "__main__":
    sys.exit(main())
