#!/usr/bin/env python3
"""The unattended nightly job never skips, deletes or drops what it could not read (issue 40):
- a folder the run cannot read (as an unprivileged user: root reads everything), a broken
  symbolic link and a FIFO inside the tree are each rejected with the reason, named on stderr and
  in `rejects`; the good files load; a FIFO is never opened, so the run ends;
- a FIFO, a broken link and a symbolic link loop named on the command line are refused with what
  they are (not "no such file or directory"); an unreadable folder named directly says
  "Permission denied" (not "no input found");
- --prune does not run when an input could not be read: the filers of an unreadable folder stay;
  once readable again, the folder and the file are no longer listed by `rejects`;
- --prune refuses (exit 2, one line, nothing deleted) to delete more than --max-prune-fraction of
  the loaded filers, a snapshot that shrank; an explicit --max-prune-fraction 1 deletes them;
- status and rejects read a read-only SQLite file, and one in a folder they cannot write, and
  create or write nothing anywhere (another SQLite database, a PostgreSQL schema that does not
  exist); a run into a folder it cannot write says so, naming the database and the folder (SQLite
  alone says "attempt to write a readonly database" or "unable to open database file").

Usage: unreadable_test.py BIN_DIR DATA_DIR
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from sinktest import check, verdict

NOBODY = 65534


def as_user(uid):
    """The command prefix that runs a process as `uid` (root reads every folder: the unreadable
    folder case needs another user)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def edgarpipe(bin_dir, *args, user=None, timeout=120):
    cmd = (as_user(user) if user is not None else []) + [os.path.join(bin_dir, "edgarpipe"), *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout} s"
    return r.returncode, r.stdout, r.stderr


def count(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def copy_data(data_dir, where):
    shutil.copytree(data_dir, where)
    return where


def check_unreadable_folder(bin_dir, data_dir, work):
    tree = copy_data(data_dir, os.path.join(work, "tree"))
    db = os.path.join(work, "unreadable.db")
    user = NOBODY if os.geteuid() == 0 else None
    if user is not None:
        for root, dirs, files in os.walk(work):
            for name in dirs + files:
                os.chown(os.path.join(root, name), NOBODY, NOBODY, follow_symlinks=False)
        os.chown(work, NOBODY, NOBODY)
    # First the whole snapshot, then the same with companyfacts/ unreadable: its filers must stay.
    code, _, err = edgarpipe(bin_dir, "run", tree, "--sink", f"sqlite:{db}", "--progress", "never", user=user)
    check(code == 0, f"the readable tree loads: exit {code}: {err[-600:]}")
    facts_before = count(db, "SELECT count(*) FROM facts")
    locked = os.path.join(tree, "companyfacts")
    os.chmod(locked, 0)
    try:
        code, _, err = edgarpipe(bin_dir, "run", tree, "--sink", f"sqlite:{db}", "--prune", "--progress", "never",
                                 user=user)
        check(code == 3, f"an unreadable folder makes the run exit 3 (rejects), not {code}: {err[-600:]}")
        check("companyfacts" in err and "Permission denied" in err,
              f"the unreadable folder is named with the reason: {err[-600:]}")
        check("--prune not run" in err, f"--prune says it did not run: {err[-600:]}")
        check(count(db, "SELECT count(*) FROM facts") == facts_before,
              "the unreadable folder's filers were pruned: facts went from "
              f"{facts_before} to {count(db, 'SELECT count(*) FROM facts')}")
        code, out, err = edgarpipe(bin_dir, "rejects", "--sink", f"sqlite:{db}", user=user)
        check(code == 0 and "Permission denied" in out and "companyfacts" in out,
              f"rejects lists the unreadable folder: exit {code}: {out[-600:]} {err[-300:]}")
        # Named directly: the reason, not "no input found".
        code, _, err = edgarpipe(bin_dir, "run", locked, "--sink", f"sqlite:{db}", "--progress", "never", user=user)
        check(code == 3 and "Permission denied" in err and "no input" not in err,
              f"an unreadable folder named directly: exit {code}: {err[-600:]}")
    finally:
        os.chmod(locked, 0o755)
    # One loaded file unreadable: unchanged by its size and modification time, so a rerun does not
    # read it; --verify reads it and rejects it by path, its filer's rows kept (not replaced by nothing).
    one = os.path.join(locked, "CIK0000320193.json")
    os.chmod(one, 0)
    try:
        code, _, err = edgarpipe(bin_dir, "run", tree, "--sink", f"sqlite:{db}", "--progress", "never", user=user)
        check(code == 0, f"an unreadable file with its loaded size and time is skipped unread: {code}: {err[-600:]}")
        code, _, err = edgarpipe(bin_dir, "run", tree, "--sink", f"sqlite:{db}", "--verify", "--progress", "never",
                                 user=user)
        check(code == 3 and "CIK0000320193.json" in err and "Permission denied" in err,
              f"an unreadable loaded file is rejected with the reason: exit {code}: {err[-600:]}")
        check(count(db, "SELECT count(*) FROM facts WHERE cik = 320193") > 0,
              "an unreadable file took its filer's loaded facts with it")
        check(count(db, "SELECT count(*) FROM ingest_files WHERE cik = 320193 AND dataset = 'companyfacts' "
                        "AND status = 'loaded'") == 1, "the unreadable file's 'loaded' row was replaced")
    finally:
        os.chmod(one, 0o644)
    code, _, err = edgarpipe(bin_dir, "run", tree, "--sink", f"sqlite:{db}", "--progress", "never", user=user)
    check(code == 0 and count(db, "SELECT count(*) FROM facts") == facts_before,
          f"readable again, the file is skipped as loaded: exit {code}: {err[-600:]}")
    # Read again, the folder and the file are no rejects any more, though nothing was loaded anew.
    code, out, err = edgarpipe(bin_dir, "rejects", "--sink", f"sqlite:{db}", user=user)
    check(code == 0 and len(out.strip().splitlines()) == 1,
          f"rejects still lists inputs read since: exit {code}: {out[-600:]} {err[-300:]}")


def check_special_files(bin_dir, data_dir, work):
    tree = copy_data(data_dir, os.path.join(work, "special"))
    sub = os.path.join(tree, "submissions")
    os.mkfifo(os.path.join(sub, "CIK0000000001.json"))
    os.symlink(os.path.join(work, "moved-volume", "CIK0000000002.json"), os.path.join(sub, "CIK0000000002.json"))
    os.symlink(os.path.join(work, "moved-volume", "more"), os.path.join(tree, "more"))
    good = len([n for n in os.listdir(sub) if n.endswith(".json") and os.path.isfile(os.path.join(sub, n))])
    good += len([n for n in os.listdir(os.path.join(tree, "companyfacts")) if n.endswith(".json")])
    db = os.path.join(work, "special.db")
    code, _, err = edgarpipe(bin_dir, "run", tree, "--sink", f"sqlite:{db}", "--progress", "never", timeout=60)
    check(code == 3, f"a FIFO and broken links in the tree: exit 3 expected, got {code}: {err[-800:]}")
    check("CIK0000000001.json" in err and "not a regular file" in err and "FIFO" in err,
          f"the FIFO is named as one: {err[-800:]}")
    check("CIK0000000002.json" in err and "broken symbolic link" in err,
          f"the broken link to a file is named: {err[-800:]}")
    check("more: broken symbolic link" in err or ("more" in err and err.count("broken symbolic link") >= 2),
          f"the broken link to a folder is named: {err[-800:]}")
    if code is not None:
        rejected = count(db, "SELECT count(*) FROM ingest_files WHERE status = 'rejected'")
        loaded = count(db, "SELECT count(*) FROM ingest_files WHERE status = 'loaded'")
        check(rejected == 3, f"3 rejects recorded (FIFO, two broken links), not {rejected}")
        check(loaded >= good - 2, f"the good files load beside them: {loaded} of {good}")
    # Named directly.
    fifo = os.path.join(work, "direct.json")
    os.mkfifo(fifo)
    code, _, err = edgarpipe(bin_dir, "run", fifo, "--sink", f"sqlite:{db}", "--progress", "never", timeout=60)
    check(code == 3 and "not a regular file" in err, f"a FIFO named directly: exit {code}: {err[-600:]}")
    loop = os.path.join(work, "loop.json")
    os.symlink(loop, loop)
    code, _, err = edgarpipe(bin_dir, "run", loop, "--sink", f"sqlite:{db}", "--progress", "never")
    check(code == 2 and "symbolic link" in err and "no such file" not in err,
          f"a symbolic link loop named directly: exit {code}: {err[-600:]}")
    broken = os.path.join(work, "broken")
    os.symlink(os.path.join(work, "nowhere"), broken)
    code, _, err = edgarpipe(bin_dir, "run", broken, "--sink", f"sqlite:{db}", "--progress", "never")
    check(code == 2 and "broken symbolic link" in err, f"a broken link named directly: exit {code}: {err[-600:]}")


def check_shrunken_snapshot(bin_dir, data_dir, work):
    tree = copy_data(data_dir, os.path.join(work, "full"))
    db = os.path.join(work, "shrink.db")
    code, _, err = edgarpipe(bin_dir, "run", tree, "--sink", f"sqlite:{db}", "--progress", "never")
    check(code == 0, f"the full snapshot loads: {code}: {err[-600:]}")
    filers = count(db, "SELECT count(*) FROM companies")
    # A snapshot that lost most of its submissions main files (a truncated download, say).
    small = os.path.join(work, "small")
    os.makedirs(os.path.join(small, "submissions"))
    main_files = sorted(n for n in os.listdir(os.path.join(tree, "submissions"))
                        if n.startswith("CIK") and "-submissions-" not in n)
    keep = main_files[:2]
    for name in keep:
        shutil.copy(os.path.join(tree, "submissions", name), os.path.join(small, "submissions", name))
    code, _, err = edgarpipe(bin_dir, "run", small, "--sink", f"sqlite:{db}", "--prune", "--progress", "never")
    check(code == 2, f"a prune of most filers is refused with exit 2, not {code}: {err[-600:]}")
    check("--max-prune-fraction" in err and "refused" in err, f"the refusal says why and what to do: {err[-600:]}")
    check(count(db, "SELECT count(*) FROM companies") == filers,
          f"nothing was deleted: {count(db, 'SELECT count(*) FROM companies')} of {filers} companies left")
    code, _, err = edgarpipe(bin_dir, "run", small, "--sink", f"sqlite:{db}", "--prune", "--max-prune-fraction", "1",
                             "--progress", "never")
    check(code == 0, f"--max-prune-fraction 1 lets a true shrink through: {code}: {err[-600:]}")
    check(count(db, "SELECT count(*) FROM companies") == len(keep),
          f"after the allowed prune {len(keep)} companies remain, not "
          f"{count(db, 'SELECT count(*) FROM companies')}")
    code, _, err = edgarpipe(bin_dir, "run", small, "--sink", f"sqlite:{db}", "--max-prune-fraction", "1.5")
    check(code == 2 and "--max-prune-fraction" in err, f"a fraction over 1 is a usage error: {code}: {err[-300:]}")


def check_read_only_commands(bin_dir, data_dir, work):
    """status and rejects read a database they may not write, and never create anything."""
    os.makedirs(work)
    db = os.path.join(work, "ro.db")
    code, _, err = edgarpipe(bin_dir, "run", data_dir, "--sink", f"sqlite:{db}", "--progress", "never")
    check(code == 0, f"the samples load: {code}: {err[-300:]}")
    user = NOBODY if os.geteuid() == 0 else None
    if user is not None:
        os.chown(work, NOBODY, NOBODY)
        os.chown(db, NOBODY, NOBODY)
    os.chmod(db, 0o444)  # the folder stays writable: SQLite may keep its shared-memory index there
    for command in (["status"], ["rejects"]):
        code, out, err = edgarpipe(bin_dir, *command, "--sink", f"sqlite:{db}", user=user)
        check(code == 0 and "readonly" not in err, f"{command[0]} on a read-only file: exit {code}: {err[-300:]}")
    check("completed" in edgarpipe(bin_dir, "status", "--sink", f"sqlite:{db}", user=user)[1],
          "status on a read-only file lists the run")
    if user is not None:
        # The database's folder is not writable (SQLite's WAL files go beside it): a run names the
        # file and the folder; status and rejects still read it; a new database there is refused.
        os.chown(work, 0, 0)
        os.chmod(db, 0o644)
        for leftover in ("ro.db-wal", "ro.db-shm"):  # left by the read-only reads above
            if os.path.exists(os.path.join(work, leftover)):
                os.remove(os.path.join(work, leftover))
        for target, words in ((db, "its folder " + work + " is not writable"),
                              (os.path.join(work, "new.db"), "cannot create it: its folder " + work)):
            code, _, err = edgarpipe(bin_dir, "run", data_dir, "--sink", f"sqlite:{target}", user=user)
            check(code == 1 and f"cannot write SQLite database {target}: " in err and words in err and
                  len(err.strip().splitlines()) == 1,
                  f"a run into a folder it cannot write: exit {code}: {err[-400:]}")
        for command in (["status"], ["rejects"]):
            code, out, err = edgarpipe(bin_dir, *command, "--sink", f"sqlite:{db}", user=user)
            check(code == 0 and err == "", f"{command[0]} in a folder it cannot write: exit {code}: {err[-300:]}")
        check(sorted(os.listdir(work)) == ["ro.db"], f"files made in a read-only folder: {os.listdir(work)}")
    # A file that is no database of ours: said so, and left as it was.
    other = os.path.join(work, "other.db")
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.close()
    before = os.path.getsize(other)
    code, _, err = edgarpipe(bin_dir, "status", "--sink", f"sqlite:{other}")
    check(code != 0 and "no edgarpipe tables" in err, f"status on another database: exit {code}: {err[-300:]}")
    con = sqlite3.connect(other)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
    con.close()
    check(tables == ["t"] and os.path.getsize(other) == before, f"status wrote into another database: {tables}")
    pg = os.environ.get("EDGARPIPE_TEST_PG")
    if pg:
        url = pg + ("&" if "?" in pg else "?") + "schema=edgarpipe_nosuchschema"
        subprocess.run(["psql", "-X", "-q", pg, "-c", "DROP SCHEMA IF EXISTS edgarpipe_nosuchschema CASCADE"],
                       capture_output=True, check=True)  # left by an older build's run, say
        code, _, err = edgarpipe(bin_dir, "status", "--sink", url)
        check(code != 0 and "no edgarpipe tables" in err, f"status on a missing schema: exit {code}: {err[-300:]}")
        schemas = subprocess.run(["psql", "-X", "-A", "-t", pg, "-c", "SELECT count(*) FROM information_schema.schemata "
                                  "WHERE schema_name = 'edgarpipe_nosuchschema'"], capture_output=True, text=True)
        check(schemas.stdout.strip() == "0", f"status created the schema: {schemas.stdout} {schemas.stderr}")


def main():
    bin_dir, data_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="edgarpipe-unreadable-")
    os.chmod(work, 0o755)
    try:
        check_unreadable_folder(bin_dir, data_dir, os.path.join(work, "u"))
        check_special_files(bin_dir, data_dir, os.path.join(work, "s"))
        check_shrunken_snapshot(bin_dir, data_dir, os.path.join(work, "p"))
        check_read_only_commands(bin_dir, data_dir, os.path.join(work, "r"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("unreadable_test")


if __name__ == "__main__":
    sys.exit(main())
