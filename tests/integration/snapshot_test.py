#!/usr/bin/env python3
"""Reruns on a newer snapshot end equal to a clean load of it (../shared/edgar-tables.md).

Loads snapshot A (the real samples), then snapshot B over it, and compares every table with a
clean load of B into an empty database, row for row. B changes what nightly snapshots change:
- a main file whose recent filings grew past its limit: 5 of them move to a NEW overflow page,
  the last one is gone, the company is renamed (its unchanged old page is skipped by the reader
  and must be loaded again after the replacement; the new page loads after the main file, with
  no reject on the way, as --max-rejects 1 proves);
- an overflow page changed while its main file did not;
- a companyfacts file with one value changed and one concept gone;
- a companyfacts file that is now malformed (truncated): rejected, its filer's old rows go too,
  as in a clean load of B, where that filer has no rows either;
- a new filer; a submissions filer and a companyfacts filer gone (B is loaded with --prune;
  without it they stay, and a later --prune deletes them);
- every other file unchanged.
Then B again adds nothing, and `--force` reloads everything and still ends equal.
Runs on SQLite, and on PostgreSQL when EDGARPIPE_TEST_PG is set (a database per load).

Usage: snapshot_test.py BIN_DIR DATA_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from sinktest import TABLES, Sqlite, check, on_every_sink, verdict

# B drops 1 of 19 submissions filers and 1 of 6 companyfacts filers: more than the 5% --prune allows
# by default (meant for the ~944k of the real snapshot).
PRUNE = ["--prune", "--max-prune-fraction", "1"]


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def make_snapshots(data_dir, work):
    a = os.path.join(work, "A")
    shutil.copytree(data_dir, a, ignore=shutil.ignore_patterns("*.md", "reformatted"))
    b = os.path.join(work, "B")
    shutil.copytree(a, b)
    sub, facts = os.path.join(b, "submissions"), os.path.join(b, "companyfacts")

    tesla = load_json(os.path.join(sub, "CIK0001318605.json"))
    recent = tesla["filings"]["recent"]
    moved = {k: v[-6:-1] for k, v in recent.items()}  # the 5 oldest but one go to a new page
    for k in recent:
        recent[k] = recent[k][:-6]                       # ... and the oldest is gone
    tesla["name"] = "TESLA, INC. (renamed in snapshot B)"
    tesla["filings"]["files"].append({"name": "CIK0001318605-submissions-002.json", "filingCount": 5,
                                      "filingFrom": min(moved["filingDate"]), "filingTo": max(moved["filingDate"])})
    save_json(os.path.join(sub, "CIK0001318605.json"), tesla)
    save_json(os.path.join(sub, "CIK0001318605-submissions-002.json"), moved)

    page = load_json(os.path.join(sub, "CIK0001324424-submissions-001.json"))
    for k in page:
        page[k] = page[k][1:]
    save_json(os.path.join(sub, "CIK0001324424-submissions-001.json"), page)

    apple = load_json(os.path.join(facts, "CIK0000320193.json"))
    gaap = apple["facts"]["us-gaap"]
    gone = sorted(gaap)[0]
    del gaap[gone]
    first = gaap[sorted(gaap)[0]]
    unit = sorted(first["units"])[0]
    first["units"][unit][0]["val"] = 123456789
    save_json(os.path.join(facts, "CIK0000320193.json"), apple)

    google = os.path.join(facts, "CIK0001652044.json")
    with open(google, "rb") as f:
        body = f.read()
    with open(google, "wb") as f:
        f.write(body[:len(body) // 2])

    newcomer = load_json(os.path.join(sub, "CIK0001911716.json"))
    newcomer["cik"] = "0001999999"
    save_json(os.path.join(sub, "CIK0001999999.json"), newcomer)

    os.remove(os.path.join(sub, "CIK0000310522.json"))     # filers absent from B: kept unless --prune
    os.remove(os.path.join(facts, "CIK0001045810.json"))
    return a, b


def run_with_summary(bin_dir, source, url, *extra):
    """Exit code, stderr and the run's summary (--summary-json -)."""
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "run", source, "--sink", url, "--parsers", "2",
                        "--progress", "never", "--max-restarts", "0", "--summary-json", "-", *extra],
                       capture_output=True, text=True, timeout=600)
    return r.returncode, r.stderr, json.loads(r.stdout) if r.stdout else {}


def run(bin_dir, source, url, *extra):
    code, err, _ = run_with_summary(bin_dir, source, url, *extra)
    return code, err


def same_tables(sink, got, want, what, stale_concepts):
    for table in TABLES:
        a, b = sink.dump(got, table), sink.dump(want, table)
        if table == "concepts":
            # The one documented difference: concepts are shared by all filers and are never
            # deleted by a replacement, so the concepts of A that no file of B mentions stay
            # (docs/operations.md); nothing else differs.
            check(set(a) == set(b) | stale_concepts,
                  f"{sink.name}, {what}: concepts {len(a)} vs {len(b)} plus {len(stale_concepts)} stale")
            continue
        check(a == b, f"{sink.name}, {what}: {table} differs from a clean load ({len(a)} rows vs {len(b)})")


def rows_by_table(err):
    """The summary's `rows by table: companies 19, ...` line as a dict."""
    line = next(l for l in err.splitlines() if "rows by table:" in l)
    return {t: int(n) for t, n in (part.split() for part in line.split(":", 1)[1].split(","))}


def scenario(sink, bin_dir, a, b, writers):
    incremental, clean, clean_a = sink.fresh(), sink.fresh(), sink.fresh()
    w = ["--writers", str(writers)]
    code, err = run(bin_dir, a, incremental, *w)
    check(code == 0, f"{sink.name}: loading A exited {code}: {err[-800:]}")
    code, err = run(bin_dir, a, clean_a, *w)
    check(code == 0, f"{sink.name}: loading A again exited {code}: {err[-800:]}")
    # Exit 3: B's truncated file is rejected (the only reject: --max-rejects 1 holds). Tesla's new
    # page holds filings its old main file listed: it loads after the main file replaced the
    # filer, never refused for meeting the old rows (a reject line, even if retried).
    code, err, summary = run_with_summary(bin_dir, b, incremental, *PRUNE, *w, "--max-rejects", "1")
    check(code == 3 and " 1 rejected" in err and "CIK0001652044.json" in err,
          f"{sink.name}: loading B over A exited {code}: {err[-800:]}")
    check("CIK0001318605-submissions-002.json:" not in err,
          f"{sink.name}: the page the filings rolled into was rejected on the way: {err[-800:]}")
    check("replaced their filers" in err, f"{sink.name}: no second pass reported: {err[-800:]}")
    check("--prune: 2 filers" in err, f"{sink.name}: --prune did not delete the 2 absent filers: {err[-800:]}")
    check("submissions CIK 310522" in err and "companyfacts CIK 1045810" in err,
          f"{sink.name}: --prune did not name the filers it deleted: {err[-800:]}")
    check(sorted((p["dataset"], p["cik"]) for p in summary.get("pruned", [])) ==
          [("companyfacts", 1045810), ("submissions", 310522)], f"{sink.name}: pruned in the summary")
    code, err = run(bin_dir, b, clean, *w)
    check(code == 3, f"{sink.name}: clean load of B exited {code}: {err[-800:]}")
    clean_rows = rows_by_table(err)
    stale = set(sink.dump(clean_a, "concepts")) - set(sink.dump(clean, "concepts"))
    check(len(stale) > 1, f"{sink.name}: B should mention fewer concepts than A")
    same_tables(sink, incremental, clean, "B over A", stale)
    tesla = [r for r in sink.dump(incremental, "companies") if "renamed in snapshot B" in str(r)]
    check(len(tesla) == 1, f"{sink.name}: the renamed company is not there once")

    code, err = run(bin_dir, b, incremental, *w)
    check(code == 3 and " 0 loaded" in err and " 1 rejected" in err, f"{sink.name}: B again loaded something: {err}")
    same_tables(sink, incremental, clean, "B twice", stale)
    code, err = run(bin_dir, b, incremental, "--force", *w)
    check(code == 3 and " 1 rejected" in err, f"{sink.name}: --force exited {code}: {err[-800:]}")
    same_tables(sink, incremental, clean, "B with --force", stale)
    # Each filer replaced once: the summary counts the rows of one clean load (concepts aside:
    # they stay, so none is new), not the pages written twice by one replacement per page.
    forced_rows = rows_by_table(err)
    check("--force: " in err and "other files" in err, f"{sink.name}: --force said no second pass: {err[-800:]}")
    check({t: n for t, n in forced_rows.items() if t != "concepts"} ==
          {t: n for t, n in clean_rows.items() if t != "concepts"},
          f"{sink.name}: --force wrote {forced_rows} rows, a clean load {clean_rows}")

    # Without --prune the absent filers stay; a later --prune run (that loads nothing) deletes them.
    kept = sink.fresh()
    run(bin_dir, a, kept, *w)
    run(bin_dir, b, kept, *w)
    absent = {"companies": "cik = 310522", "filings": "cik = 310522", "entities": "cik = 1045810",
              "facts": "cik = 1045810"}
    for table, where in absent.items():
        n = sink.query(kept, f"SELECT count(*) FROM {table} WHERE {where}")[0][0]
        check(int(n) > 0, f"{sink.name}: without --prune, {table} lost the absent filer")
    code, err = run(bin_dir, b, kept, *PRUNE, *w)
    check(code == 3 and " 0 loaded" in err and "--prune: 2 filers" in err,
          f"{sink.name}: a --prune rerun exited {code}: {err[-800:]}")
    same_tables(sink, kept, clean, "B, then B again with --prune", stale)


def main():
    bin_dir, data_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="edgarpipe-snapshot-")
    try:
        a, b = make_snapshots(data_dir, work)
        on_every_sink(work, "snapshot_test",
                      lambda sink: scenario(sink, bin_dir, a, b, 1 if isinstance(sink, Sqlite) else 3))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("snapshots")


if __name__ == "__main__":
    sys.exit(main())
