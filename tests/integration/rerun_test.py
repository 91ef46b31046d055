#!/usr/bin/env python3
"""A rerun reads only what changed (issue 33): an input whose key is loaded with the same source
stamp (a zip member's CRC-32 and sizes from the central directory; a file's size and modification
time) is skipped without being read. On SQLite, and on PostgreSQL when EDGARPIPE_TEST_PG is set:
- a rerun of an unchanged zip reads 0 bytes and skips every member;
- a member with one byte changed and the same size is found by its CRC-32: read, and its filer
  replaced, ending equal to a clean load of the new archive;
- a folder copied elsewhere (new modification times) is read once, found unchanged by content, and
  the next rerun reads nothing; --verify reads everything again; --force still reloads;
- a database of schema version 2 (no source_stamp) is upgraded in place and reads once.

Usage: rerun_test.py BIN_DIR DATA_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from sinktest import TABLES, check, on_every_sink, verdict


def run(bin_dir, url, path, *extra, work):
    summary = os.path.join(work, "summary.json")
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "run", path, "--sink", url, "--progress", "never",
                        "--summary-json", summary, *extra], capture_output=True, text=True, timeout=300)
    s = {}
    if os.path.exists(summary):
        with open(summary) as f:
            s = json.load(f)
        os.remove(summary)
    return r.returncode, r.stderr, s


def make_zip(data_dir, path, change=None):
    """The samples as one archive; `change` edits one member's bytes, keeping its size."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in sorted(os.walk(data_dir)):
            for name in sorted(files):
                if not name.endswith(".json"):
                    continue
                full = os.path.join(root, name)
                arc = os.path.relpath(full, data_dir)
                with open(full, "rb") as f:
                    body = f.read()
                if change and arc == change[0]:
                    body = change[1](body)
                z.writestr(zipfile.ZipInfo(arc, date_time=(2026, 12, 1, 0, 0, 0)), body, zipfile.ZIP_DEFLATED)


def one_digit_changed(body):
    """The first '"val":' number with its last digit changed: the same size, a different fact."""
    at = body.index(b'"val":') + len(b'"val":')
    while not (48 <= body[at] <= 57):
        at += 1
    while 48 <= body[at + 1] <= 57:
        at += 1
    digit = body[at]
    return body[:at] + bytes([48 + (digit - 48 + 1) % 10]) + body[at + 1:]


def same_tables(sink, a, b, what):
    for table in TABLES:
        if table == "ingest_files":
            continue
        x, y = sink.dump(a, table), sink.dump(b, table)
        check(x == y, f"{sink.name}, {what}: {table} differs from a clean load ({len(x)} rows vs {len(y)})")


def scenario(sink, bin_dir, data_dir, work):
    name = sink.name
    archive, changed = os.path.join(work, "a.zip"), os.path.join(work, "b.zip")
    member = "companyfacts/CIK0000320193.json"
    make_zip(data_dir, archive)
    make_zip(data_dir, changed, (member, one_digit_changed))
    with zipfile.ZipFile(archive) as a, zipfile.ZipFile(changed) as b:
        check(a.getinfo(member).file_size == b.getinfo(member).file_size and
              a.getinfo(member).CRC != b.getinfo(member).CRC, "the fixture changes one member at the same size")
        members = len(a.namelist())
        member_bytes = b.getinfo(member).file_size

    db = sink.fresh()
    code, err, s = run(bin_dir, db, archive, work=work)
    check(code == 0 and s.get("files_loaded") == members, f"{name}: first load: exit {code}: {err[-600:]}")
    code, err, s = run(bin_dir, db, archive, work=work)
    check(code == 0 and s.get("files_skipped") == members and s.get("bytes") == 0,
          f"{name}: an unchanged zip is skipped unread: exit {code}, {s.get('files_skipped')} skipped, "
          f"{s.get('bytes')} bytes read: {err[-600:]}")
    check("unchanged since they loaded" in err, f"{name}: the rerun says why it read nothing: {err[-600:]}")

    code, err, s = run(bin_dir, db, changed, work=work)
    check(code == 0 and s.get("files_loaded") == 1 and s.get("bytes") == member_bytes,
          f"{name}: one byte changed at the same size is found by its CRC-32: exit {code}, "
          f"{s.get('files_loaded')} loaded, {s.get('bytes')} bytes read (the member has {member_bytes}): {err[-600:]}")
    clean = sink.fresh()
    run(bin_dir, clean, changed, work=work)
    same_tables(sink, db, clean, "the changed member over the first archive")

    # A copy of the folder: new modification times, the same content.
    folder = os.path.join(work, "copy")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(data_dir, folder, copy_function=shutil.copyfile)
    db = sink.fresh()
    run(bin_dir, db, data_dir, work=work)
    code, err, s = run(bin_dir, db, folder, work=work)
    check(code == 0 and s.get("files_skipped") == s.get("files_seen") and s.get("bytes", 0) > 0,
          f"{name}: a copied folder is read and found unchanged by content: exit {code}, {s}: {err[-600:]}")
    code, err, s = run(bin_dir, db, folder, work=work)
    check(code == 0 and s.get("bytes") == 0, f"{name}: ...and its next rerun reads nothing: {s.get('bytes')} bytes")
    code, err, s = run(bin_dir, db, folder, "--verify", work=work)
    check(code == 0 and s.get("bytes", 0) > 0 and s.get("files_skipped") == s.get("files_seen"),
          f"{name}: --verify reads and hashes every input: {s.get('bytes')} bytes: {err[-600:]}")
    code, err, s = run(bin_dir, db, folder, "--force", work=work)
    check(code == 0 and s.get("files_loaded", 0) > 0, f"{name}: --force still loads: exit {code}: {err[-600:]}")

    # A database of schema version 2.
    db = sink.fresh()
    run(bin_dir, db, archive, work=work)
    sink.query(db, "ALTER TABLE ingest_files DROP COLUMN source_stamp")
    sink.query(db, "UPDATE edgarpipe_schema SET version = 2")
    code, err, s = run(bin_dir, db, archive, work=work)
    check(code == 0 and "upgraded ingest_files to schema version 4" in err and s.get("files_skipped") == members,
          f"{name}: a version 2 database is upgraded and skips by content: exit {code}: {err[-600:]}")
    code, err, s = run(bin_dir, db, archive, work=work)
    check(code == 0 and s.get("bytes") == 0, f"{name}: ...then by stamp: {s.get('bytes')} bytes read")


def main():
    bin_dir, data_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="edgarpipe-rerun-")
    try:
        on_every_sink(work, "edgarpipe_rerun", lambda sink: scenario(sink, bin_dir, data_dir, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("rerun_test")


if __name__ == "__main__":
    sys.exit(main())
