#!/usr/bin/env python3
"""A file is known by its SEC key (dataset, CIK, page), not by where it was found
(../shared/edgar-tables.md), so ordinary operator actions always converge to one clean load:
- load a folder, then its parent folder: the files already loaded are skipped, the rest load;
- the same snapshot twice in one run (a folder and the zip made from it): loaded once, the copies
  counted as duplicates; a key given twice with different content: every copy rejected with a
  reason naming their paths, everything else loaded (exit 3), never a database constraint error;
- a renamed file takes its key from its content; a letter-case variant of a name is the same key;
  one name in two archives that name no dataset is two keys when the contents are of two kinds;
  a renamed overflow page (no key in its content) is rejected, saying why, and is not recorded
  twice by a rerun;
- `--dataset D` loads the inputs of D alone and leaves the others out with one line, told apart by
  folder, archive and overflow-page names, else by their first keys (renamed files, archives that
  name no dataset): never keyed as D, never a "given 2 times" reject;
- a zip naming a member twice holds one key twice: those copies are rejected, the rest loads;
- `status PATH` counts by dataset and key;
- a database of the previous layout (ingest_files keyed by dataset and source name, including
  the two rows a wedged database held for one document) is upgraded in place, with a line saying
  so, and then loads nothing twice.
Every database is compared table by table with a clean load. Runs on SQLite, and on PostgreSQL
when EDGARPIPE_TEST_PG is set.

Usage: identity_test.py BIN_DIR DATA_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from sinktest import TABLES, Sqlite, check, on_every_sink, verdict


def edgarpipe(bin_dir, *args):
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), *args], capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr


def run(bin_dir, url, *paths_and_options, summary=None):
    extra = ["--summary-json", summary] if summary else []
    code, _, err = edgarpipe(bin_dir, "run", *paths_and_options, "--sink", url, "--progress", "never",
                             "--max-restarts", "0", *extra)
    return code, err


def same_tables(sink, got, want, what):
    for table in TABLES:
        a, b = sink.dump(got, table), sink.dump(want, table)
        check(a == b, f"{sink.name}, {what}: {table} differs from a clean load ({len(a)} rows vs {len(b)})")


def summary_of(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def make_inputs(bin_dir, data_dir, work):
    data = os.path.join(work, "data")
    shutil.copytree(data_dir, data, ignore=shutil.ignore_patterns("*.md", "reformatted"))
    # A corpus and the zip made from it, by the same seed.
    gen = os.path.join(bin_dir, "edgarpipe-gen")
    corpus, archive = os.path.join(work, "corpus"), os.path.join(work, "corpus.zip")
    for out in (["--out", corpus], ["--zip", archive]):
        subprocess.run([gen, *out, "--seed", "5", "--submissions", "60", "--companyfacts", "4"], check=True,
                       capture_output=True)
    # The fund's main file with other content, under the same name in another folder.
    other = os.path.join(work, "other", "submissions")
    os.makedirs(other)
    with open(os.path.join(data, "submissions", "CIK0001800903.json"), encoding="utf-8") as f:
        fund = json.load(f)
    fund["name"] = "A FUND, AS ANOTHER SNAPSHOT HAS IT"
    with open(os.path.join(other, "CIK0001800903.json"), "w", encoding="utf-8") as f:
        json.dump(fund, f)
    # Renamed copies: a companyfacts file with no SEC name and outside any dataset folder, a main
    # file whose name differs in letter case, an overflow page with no SEC name.
    renamed = os.path.join(work, "renamed")
    os.makedirs(os.path.join(renamed, "case"))
    shutil.copy(os.path.join(data, "companyfacts", "CIK0000320193.json"), os.path.join(renamed, "apple-facts.json"))
    shutil.copy(os.path.join(data, "submissions", "CIK0000320193.json"),
                os.path.join(renamed, "case", "cik0000320193.JSON"))
    # Archives whose names say no dataset, holding a main file and a companyfacts file of one filer
    # under the same name: their content tells them apart.
    unnamed = os.path.join(work, "unnamed")
    os.makedirs(unnamed)
    for name, dataset in (("one.zip", "submissions"), ("two.zip", "companyfacts")):
        with zipfile.ZipFile(os.path.join(unnamed, name), "w", zipfile.ZIP_DEFLATED) as z:
            z.write(os.path.join(data, dataset, "CIK0000320193.json"), "CIK0000320193.json")
    # One archive naming a member twice (zip tools allow it): two copies of one key, with other content.
    with open(os.path.join(data, "submissions", "CIK0001800903.json"), "rb") as f:
        fund_bytes = f.read()
    twice = os.path.join(work, "twice.zip")
    with zipfile.ZipFile(twice, "w") as z:
        z.writestr("CIK0001800903.json", fund_bytes)
        z.writestr("CIK0000320193.json", open(os.path.join(data, "submissions", "CIK0000320193.json"), "rb").read())
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name"
            z.writestr("CIK0001800903.json", fund_bytes.replace(b'"name":', b'"name" :', 1))
    page = os.path.join(work, "page")
    os.makedirs(page)
    shutil.copy(os.path.join(data, "submissions", "CIK0001318605-submissions-001.json"),
                os.path.join(page, "tesla-page.json"))
    return data, corpus, archive, os.path.dirname(other), renamed, page, unnamed, twice


def to_layout_1(sink, url):
    """Rewrites a database's ingest_files into the previous layout: keyed by (dataset, source_file),
    the name as found below a directory argument, plus the rows a wedged database held: each
    submissions file a second time, under its name below the parent folder, rejected."""
    statements = [
        "CREATE TABLE ingest_old AS SELECT dataset, dataset || '/' || source_file AS source_file, cik, bytes, "
        "content_hash, status, rows, error, run_id, loaded_at FROM ingest_files",
        "INSERT INTO ingest_old SELECT dataset, source_file, cik, bytes, content_hash, 'rejected', 0, "
        "'database refused a companies row: UNIQUE constraint failed: companies.cik', run_id + 1, loaded_at "
        "FROM ingest_files WHERE dataset = 'submissions'",
        # A reject the previous layout kept under a name with no SEC key and no cik.
        "INSERT INTO ingest_old SELECT 'unknown', 'notes/readme.json', NULL, 5, NULL, 'rejected', 0, "
        "'invalid JSON (at byte 0)', run_id, loaded_at FROM ingest_files WHERE source_file = 'CIK0000320193.json' "
        "AND dataset = 'submissions'",
        "DROP TABLE ingest_files",
        "DROP TABLE edgarpipe_schema",
        "ALTER TABLE ingest_old RENAME TO ingest_files",
    ]
    for sql in statements:
        sink.query(url, sql)


def scenario(sink, bin_dir, work, inputs):
    data, corpus, archive, other, renamed, page, unnamed, twice = inputs
    sub, facts = os.path.join(data, "submissions"), os.path.join(data, "companyfacts")
    clean_data, clean_corpus = sink.fresh(), sink.fresh()
    check(run(bin_dir, clean_data, data)[0] == 0, f"{sink.name}: clean load of the samples")
    check(run(bin_dir, clean_corpus, corpus)[0] == 0, f"{sink.name}: clean load of the corpus")

    # A folder, then its parent folder.
    db = sink.fresh()
    check(run(bin_dir, db, sub)[0] == 0, f"{sink.name}: loading submissions/")
    summary = os.path.join(work, "parent.json")
    code, err = run(bin_dir, db, data, summary=summary)
    s = summary_of(summary)
    check(code == 0 and s["files_skipped"] == 23 and s["files_loaded"] == 5 and s["files_rejected"] == 0,
          f"{sink.name}: the parent folder after submissions/: exit {code}: {err[-600:]}")
    same_tables(sink, db, clean_data, "a folder, then its parent")
    code, err = run(bin_dir, db, data, summary=summary)
    check(code == 0 and summary_of(summary)["files_skipped"] == 28, f"{sink.name}: a rerun loaded something: {err}")

    # status PATH counts by dataset and key: companyfacts files were never loaded here.
    only_sub = sink.fresh()
    run(bin_dir, only_sub, sub)
    _, out, _ = edgarpipe(bin_dir, "status", "--sink", only_sub, facts, sub)
    check("companyfacts  0       0        5    0" in out and "submissions   23      0        0    0" in out,
          f"{sink.name}: status by key after loading submissions only:\n{out}")

    # The same snapshot twice in one run: the folder and the zip made from it.
    db = sink.fresh()
    summary = os.path.join(work, "twice.json")
    code, err = run(bin_dir, db, corpus, archive, summary=summary)
    s = summary_of(summary)
    n = s["files_loaded"]
    check(code == 0 and s["files_duplicate"] == n and s["files_seen"] == 2 * n and s["files_rejected"] == 0,
          f"{sink.name}: a folder and its zip in one run: exit {code}, {s}: {err[-600:]}")
    check("is given 2 times with the same content" in err, f"{sink.name}: duplicates not reported: {err[-600:]}")
    same_tables(sink, db, clean_corpus, "a folder and its zip in one run")
    code, err = run(bin_dir, db, archive, summary=summary)
    check(code == 0 and summary_of(summary)["files_skipped"] == n, f"{sink.name}: the zip after both: {err[-600:]}")

    # One key with different content in one run: every copy rejected, the rest loaded.
    db = sink.fresh()
    summary = os.path.join(work, "conflict.json")
    code, err = run(bin_dir, db, sub, other, summary=summary)
    s = summary_of(summary)
    check(code == 3 and s["files_rejected"] == 2 and s["files_loaded"] == 22 and s["files_seen"] == 24,
          f"{sink.name}: one key with two contents: exit {code}, {s}: {err[-600:]}")
    error = sink.query(db, "SELECT error FROM ingest_files WHERE cik = 1800903")
    check(len(error) == 1 and "given 2 times with different content" in str(error[0][0]) and
          os.path.join(other, "submissions", "CIK0001800903.json") in str(error[0][0]) and
          os.path.join(sub, "CIK0001800903.json") in str(error[0][0]),
          f"{sink.name}: the reason must name both paths: {error}")
    check(sink.query(db, "SELECT count(*) FROM companies WHERE cik = 1800903")[0][0] in (0, "0"),
          f"{sink.name}: a conflicting key loaded rows")
    check("constraint" not in err.lower(), f"{sink.name}: a database constraint error: {err[-600:]}")
    check(run(bin_dir, db, sub)[0] == 0, f"{sink.name}: the snapshot alone after the conflict")
    clean_sub = sink.fresh()
    run(bin_dir, clean_sub, sub)
    same_tables(sink, db, clean_sub, "after a conflicting key, the snapshot alone")

    # Renamed files and letter case: the same keys, skipped; a renamed page has no key.
    db = sink.fresh()
    run(bin_dir, db, data)
    code, err = run(bin_dir, db, renamed, summary=summary)
    s = summary_of(summary)
    check(code == 0 and s["files_skipped"] == 2, f"{sink.name}: renamed copies were not skipped: {s}: {err[-600:]}")
    same_tables(sink, db, clean_data, "renamed copies")
    for attempt in (1, 2):
        code, err = run(bin_dir, db, page)
        check(code == 3 and "tesla-page.json" in err, f"{sink.name}: a renamed page: exit {code}: {err[-600:]}")
    rows = sink.query(db, "SELECT source_file, error FROM ingest_files WHERE cik IS NULL")
    check(len(rows) == 1 and rows[0][0] == "tesla-page.json", f"{sink.name}: key-less rejects: {rows}")

    # One name in two archives that name no dataset: two keys, told apart by their content.
    db = sink.fresh()
    code, err = run(bin_dir, db, os.path.join(unnamed, "one.zip"), os.path.join(unnamed, "two.zip"), summary=summary)
    keys = sink.query(db, "SELECT dataset, cik, page, status FROM ingest_files ORDER BY dataset")
    check(code == 0 and [tuple(str(v) for v in k) for k in keys] ==
          [("companyfacts", "320193", "0", "loaded"), ("submissions", "320193", "0", "loaded")],
          f"{sink.name}: a main file and a companyfacts file under one name: {keys}: {err[-600:]}")

    # --dataset: the other dataset's inputs are left out, whatever tells them apart.
    for dataset, loaded, left in (("companyfacts", 5, 23), ("submissions", 23, 5)):
        db = sink.fresh()
        code, err = run(bin_dir, db, data, "--dataset", dataset, summary=summary)
        s = summary_of(summary)
        check(code == 0 and s["files_loaded"] == loaded and s["files_rejected"] == 0 and
              f"--dataset {dataset}: {left} " in err,
              f"{sink.name}: --dataset {dataset} over both datasets: exit {code}: {err[-600:]}")
        kinds = sink.query(db, "SELECT DISTINCT dataset FROM ingest_files")
        check([str(k[0]) for k in kinds] == [dataset], f"{sink.name}: --dataset {dataset} recorded {kinds}")
        code, err = run(bin_dir, db, data, summary=summary)  # then the rest, without --dataset
        check(code == 0 and summary_of(summary)["files_skipped"] == loaded,
              f"{sink.name}: the rest after --dataset {dataset}: exit {code}: {err[-600:]}")
        same_tables(sink, db, clean_data, f"--dataset {dataset}, then the rest")
    db = sink.fresh()
    code, err = run(bin_dir, db, unnamed, os.path.join(renamed, "apple-facts.json"), "--dataset", "submissions",
                    summary=summary)
    keys = sink.query(db, "SELECT dataset, cik, status FROM ingest_files")
    check(code == 0 and summary_of(summary)["files_loaded"] == 1 and "2 companyfacts inputs left out" in err and
          [tuple(map(str, k)) for k in keys] == [("submissions", "320193", "loaded")],
          f"{sink.name}: --dataset submissions over inputs told by content: exit {code}: {keys}: {err[-600:]}")
    code, err = run(bin_dir, db, os.path.join(sub, "CIK0001318605-submissions-001.json"), "--dataset", "companyfacts")
    check(code == 2 and "no companyfacts input found" in err and "1 submissions input left out" in err,
          f"{sink.name}: --dataset companyfacts over an overflow page alone: exit {code}: {err[-400:]}")

    # A member named twice in one archive is a key given twice: those copies rejected, the rest
    # loaded (not the whole archive refused).
    db = sink.fresh()
    code, err = run(bin_dir, db, twice, summary=summary)
    s = summary_of(summary)
    check(code == 3 and s["files_loaded"] == 1 and s["files_rejected"] == 2 and "given 2 times with different" in err,
          f"{sink.name}: a zip naming a member twice: exit {code}: {err[-600:]}")

    # A database of the previous layout, wedged by a load of the parent folder.
    db = sink.fresh()
    run(bin_dir, db, data)
    to_layout_1(sink, db)
    code, err = run(bin_dir, db, data, summary=summary)
    check(code == 0 and summary_of(summary)["files_skipped"] == 28,
          f"{sink.name}: run over an upgraded database: exit {code}: {err[-800:]}")
    check("upgraded ingest_files to schema version 4" in err and "52 rows became 29 (23 merged" in err,
          f"{sink.name}: the upgrade line: {err[-800:]}")
    keyless = sink.query(db, "SELECT dataset, source_file, source_path, status FROM ingest_files WHERE cik IS NULL")
    check([tuple(map(str, r)) for r in keyless] == [("unknown", "readme.json", "notes/readme.json", "rejected")],
          f"{sink.name}: the key-less reject after the upgrade: {keyless}")
    sink.query(db, "DELETE FROM ingest_files WHERE cik IS NULL")  # the clean load never saw it
    same_tables(sink, db, clean_data, "an upgraded database")
    version = sink.query(db, "SELECT version FROM edgarpipe_schema")
    check([str(v[0]) for v in version] == ["4"], f"{sink.name}: schema version {version}")


def main():
    bin_dir, data_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="edgarpipe-identity-")
    try:
        inputs = make_inputs(bin_dir, data_dir, work)
        on_every_sink(work, "identity_test", lambda sink: scenario(sink, bin_dir, work, inputs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("identity")


if __name__ == "__main__":
    sys.exit(main())
