#!/usr/bin/env python3
"""The SQL Server sink's bytes, checked against MS-TDS (no SQL Server can run here).

Runs a whole `edgarpipe run` (2 parsers, 2 writers, real processes, real FreeTDS) into
tds_server.py, which decodes every bulk-load stream strictly per the specification, then checks:
- the login: TDS 7.4, packet size 32767, the password from EDGARPIPE_MSSQL_PASSWORD, never the URL;
- every data-table bulk request is `insert bulk T (...) with (TABLOCK)` (a single hint);
- the decoded rows equal rows computed here, independently, from the JSON: every filings, facts
  and former_names column (NULL vs "", UTF-16LE text, DATE, DATETIME2, exact DECIMAL(38,12)),
  and the row counts of every other table;
- non-ASCII text (escaped and raw, with a surrogate pair) arrives as the same characters;
- files the sink must refuse are rejected with their reason, and no row of theirs is sent:
  a name longer than its column (FreeTDS would truncate it silently) and a value that
  DECIMAL(38,12) cannot hold exactly (it would be rounded);
- a row the server refuses (error 2627) rolls its batch back and rejects that file alone: the
  rows counted are those of committed transactions only, and they equal the expected ones;
- no MERGE (Babelfish does not run it), and indexes made in their table's guarded block, not
  looked up in sys.indexes;
- results read back as a server sends them: '' stays '', DATETIME2 values come out in ISO 8601;
- a duplicate key from the concepts insert (a concurrent writer first) is retried, not a reject;
- a refused file that another run loaded meanwhile is skipped, with no reject row;
- keys that differ only in case (units "Well" and "well", concepts "FooBar" and "Foobar") all
  load: every text column declares a binary collation (the test server refuses a facts stream
  with a duplicate key compared in the columns' collations); short codes are right-sized;
- a database an earlier release made (case-insensitive text) is made exact in place first;
- a source path longer than ingest_files.source_path (which FreeTDS would truncate, so that a
  restart would not find the file's row) is refused before the run starts, with that reason, and
  no row is sent.

Usage: tds_conformance_test.py BIN_DIR DATA_DIR
"""
import collections
import decimal
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PASSWORD = "Tds-test-pw'1"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


def make_corpus(data_dir, root):
    shutil.copytree(data_dir, root, ignore=shutil.ignore_patterns("*.md", "reformatted"))
    sub, facts = os.path.join(root, "submissions"), os.path.join(root, "companyfacts")
    with open(os.path.join(sub, "CIK0001911716.json"), encoding="utf-8") as f:
        base = json.load(f)
    # Non-ASCII text: as \u escapes (with a surrogate pair) and as raw UTF-8.
    escaped = dict(base, cik="0000999991", name="Soci\u00e9t\u00e9 G\u00e9n\u00e9rale \u4e2d\u6587 \U0001F680")
    with open(os.path.join(sub, "CIK0000999991.json"), "w", encoding="utf-8") as f:
        json.dump(escaped, f, ensure_ascii=True)
    raw = dict(base, cik="0000999995", name="Zürich Ärzte AG — ½ ✓ 𝄞", description="")
    with open(os.path.join(sub, "CIK0000999995.json"), "w", encoding="utf-8") as f:
        json.dump(raw, f, ensure_ascii=False)
    # Longer than companies.name NVARCHAR(400): must be rejected, not truncated.
    with open(os.path.join(sub, "CIK0000999992.json"), "w", encoding="utf-8") as f:
        json.dump(dict(base, cik="0000999992", name="N" * 401), f)

    def facts_file(cik, values):
        units = ",".join(
            '{"start":"2024-01-01","end":"2024-12-31","val":%s,"accn":"0000%d-24-%06d","fy":2024,"fp":"FY",'
            '"form":"10-K","filed":"2025-02-01"}' % (v, cik, i) for i, v in enumerate(values))
        return ('{"cik":%d,"entityName":"D\\u00e9cimal %d","facts":{"us-gaap":{"Revenues":{"label":"Revenues",'
                '"description":"Revenue.","units":{"USD":[%s]}}}}}' % (cik, cik, units))

    exact = ["1.5E3", "-0.000000000001", "12345678901234567890.123456789012", "0", "-7", "2.50", "1e-12",
             "99999999999999999999999999.999999999999"]
    with open(os.path.join(facts, "CIK0000999993.json"), "w") as f:
        f.write(facts_file(999993, exact))
    with open(os.path.join(facts, "CIK0000999994.json"), "w") as f:
        f.write(facts_file(999994, ["1", "0.1234567890123"]))  # 13 decimals: not exact in (38,12)
    # Keys that differ only in case (real data: CIK0000717423 has units "Well" and "well"): two
    # units of one concept and period, and two concepts. Every other sink keeps all four rows.
    fact = ('{"start":"2024-01-01","end":"2024-12-31","val":%d,"accn":"0000999997-24-000001","fy":2024,"fp":"FY",'
            '"form":"10-K","filed":"2025-02-01"}')
    with open(os.path.join(facts, "CIK0000999997.json"), "w") as f:
        f.write('{"cik":999997,"entityName":"Case Pairs","facts":{"us-gaap":{'
                '"FooBar":{"label":"Foo bar","description":null,"units":{"Well":[%s],"well":[%s]}},'
                '"Foobar":{"label":"Foobar","description":null,"units":{"USD":[%s]}}}}}'
                % (fact % 1, fact % 2, fact % 3))
    # The server refuses one of this file's rows: the sink must reject this file alone.
    with open(os.path.join(sub, "CIK0000999996.json"), "w", encoding="utf-8") as f:
        json.dump(dict(base, cik="0000999996", name="REFUSED BY THE TEST SERVER"), f)
    return {"CIK0000999992.json": "longer than the column: 401 characters, NVARCHAR(400)", "CIK0000999994.json": "does not fit DECIMAL(38,12)",
            "CIK0000999996.json": "database refused a row: bulk copy into companies: Msg 2627"}


def with_endpoint(bin_dir, log_path, args, server_args=(), env_extra=None):
    """`edgarpipe ARGS` with --sink pointing at a fresh tds_server.py (logging to LOG_PATH)."""
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "tds_server.py"), "--out", log_path, *server_args],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])
        env = {**os.environ, "EDGARPIPE_MSSQL_PASSWORD": PASSWORD, **(env_extra or {})}
        env = {k: v for k, v in env.items() if v is not None}  # env_extra's None: unset
        env.pop("TDSDUMP", None)
        return subprocess.run([os.path.join(bin_dir, "edgarpipe"), *args, "--sink",
                               f"mssql://tester@127.0.0.1:{port}/edgar"],
                              env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.kill()
        server.wait()


def run_into_endpoint(bin_dir, corpus, log_path, summary_path, server_args=()):
    """edgarpipe run CORPUS (a path or a list of them; 2 parsers, 2 writers) into a fresh tds_server.py
    logging to LOG_PATH."""
    paths = corpus if isinstance(corpus, list) else [corpus]
    return with_endpoint(bin_dir, log_path, ["run", *paths, "--parsers", "2", "--writers", "2", "--progress", "never",
                                             "--max-restarts", "0", "--summary-json", summary_path], server_args)


def committed_bulk(events):
    """Bulk rows that a COMMIT made durable, per connection (rolled-back ones do not count)."""
    pending, committed = collections.defaultdict(list), []
    for e in events:
        session = e.get("session")
        if e["kind"] == "bulk":
            pending[session].append(e)
        elif e["kind"] == "sql":
            text = e["text"].upper()
            if "BEGIN TRANSACTION" in text and "COMMIT TRANSACTION" not in text:
                pending[session] = []
            elif "COMMIT TRANSACTION" in text and "BEGIN TRANSACTION" not in text:
                committed.extend(pending.pop(session, []))
            elif "ROLLBACK" in text:
                pending.pop(session, None)
    return committed


def timestamp(text):
    if text is None or text == "":
        return None
    assert text.endswith(".000Z"), text
    return text[:10] + " " + text[11:19] + ".0000000"


def date(text):
    return None if text is None or text == "" else text


def expected_rows(root, rejected):
    """The contract (../shared/edgar-tables.md), computed from the JSON without edgarpipe."""
    rows = collections.defaultdict(list)
    counts = collections.Counter()
    columns = ["accessionNumber", "filingDate", "reportDate", "acceptanceDateTime", "act", "form", "fileNumber",
               "filmNumber", "items", "core_type", "size", "isXBRL", "isInlineXBRL", "isXBRLNumeric",
               "primaryDocument", "primaryDocDescription"]
    kinds = {"filingDate": date, "reportDate": date, "acceptanceDateTime": timestamp}
    sub = os.path.join(root, "submissions")
    for name in sorted(os.listdir(sub)):
        if name in rejected:
            continue
        with open(os.path.join(sub, name), encoding="utf-8") as f:
            doc = json.load(f)
        if "-submissions-" in name:
            cik, recent = int(name[3:13]), doc
        else:
            cik, recent = int(doc["cik"]), doc["filings"]["recent"]
            counts["companies"] += 1
            counts["company_tickers"] += len(doc.get("tickers") or [])
            counts["submission_pages"] += len(doc["filings"].get("files") or [])
            rows["companies_names"].append([cik, doc["name"]])
            for i, former in enumerate(doc.get("formerNames") or []):
                rows["former_names"].append([cik, i, former["name"], timestamp(former.get("from")),
                                             timestamp(former.get("to"))])
        n = len(recent["accessionNumber"])
        for i in range(n):
            row = [cik]
            for c in columns:
                v = recent[c][i] if c in recent else None
                row.append(kinds[c](v) if c in kinds else v)
            rows["filings"].append(row)
    facts_dir = os.path.join(root, "companyfacts")
    concepts = set()
    for name in sorted(os.listdir(facts_dir)):
        if name in rejected or not name.endswith(".json"):
            continue
        with open(os.path.join(facts_dir, name), encoding="utf-8") as f:
            doc = json.load(f, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
        counts["entities"] += 1
        cik = int(doc["cik"])
        for taxonomy, by_concept in (doc.get("facts") or {}).items():
            for concept, body in by_concept.items():
                concepts.add((taxonomy, concept))
                for unit, facts in body["units"].items():
                    for fact in facts:
                        value = fact.get("val")
                        value = None if value is None else f"{decimal.Decimal(value):.12f}"
                        if value is not None and value.startswith("-") and decimal.Decimal(value) == 0:
                            value = value[1:]
                        fy = fact.get("fy")
                        rows["facts"].append([cik, taxonomy, concept, unit, date(fact.get("start")),
                                              date(fact.get("end")), value, fact.get("accn"),
                                              None if fy is None else int(fy), fact.get("fp"), fact.get("form"),
                                              date(fact.get("filed")), fact.get("frame")])
    counts["concepts"] = len(concepts)
    return rows, counts


def canon(rows):
    return sorted(json.dumps(r, ensure_ascii=False) for r in rows)


def main():
    bin_dir, data_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="edgarpipe-tds-")
    try:
        corpus = os.path.join(work, "corpus")
        rejected = make_corpus(data_dir, corpus)
        log_path = os.path.join(work, "tds.jsonl")
        summary_path = os.path.join(work, "summary.json")
        run = run_into_endpoint(bin_dir, corpus, log_path, summary_path)
        print(run.stderr, file=sys.stderr)
        check(PASSWORD not in run.stderr + run.stdout, "the password appears in edgarpipe's output")
        with open(summary_path) as f:
            summary = json.load(f)
        check(summary["status"] == "completed", f"run status {summary['status']}")
        check(summary["files_rejected"] == len(rejected), f"{summary['files_rejected']} files rejected")

        events = [json.loads(line) for line in open(log_path, encoding="utf-8")]
        for e in events:
            if e["kind"] == "error":
                check(False, "MS-TDS violation: " + e["text"])
        logins = [e for e in events if e["kind"] == "login"]
        check(len(logins) == 3, f"{len(logins)} logins (expected the admin and 2 writers)")
        for login in logins:
            check(login["tds_version"] == "0x74000004", f"TDS version {login['tds_version']}")
            check(login["packet_size"] == 32767, f"packet size {login['packet_size']}")
            check(login["password"] == PASSWORD and login["user"] == "tester" and login["database"] == "edgar",
                  f"login {login['user']}@{login['database']}")

        got = collections.defaultdict(list)
        check(any("ROLLBACK" in e.get("text", "") for e in events), "the refused batch was not rolled back")
        for e in committed_bulk(events):
            got[e["table"]].extend(e["rows"])
            if not e["table"].startswith("#"):
                check(e["statement"].rstrip().endswith("with (TABLOCK)"), "hint: " + e["statement"][-60:])
        rows, counts = expected_rows(corpus, rejected)
        check(sorted((r[2], r[3]) for r in got["facts"] if r[0] == 999997) ==
              [("FooBar", "Well"), ("FooBar", "well"), ("Foobar", "USD")],
              f"facts of keys that differ only in case: {[r[:4] for r in got['facts'] if r[0] == 999997]}")
        check({("us-gaap", "FooBar"), ("us-gaap", "Foobar")} <= {(r[0], r[1]) for r in got["#concepts_stage"]},
              "concepts that differ only in case did not both reach the server")
        for table in ("filings", "facts", "former_names"):
            check(canon(got[table]) == canon(rows[table]),
                  f"{table}: {len(got[table])} rows decoded, {len(rows[table])} expected, contents differ")
        for table, n in counts.items():
            name = "#concepts_stage" if table == "concepts" else table
            decoded = len({(r[0], r[1]) for r in got[name]}) if table == "concepts" else len(got[name])
            check(decoded == n, f"{table}: {decoded} rows decoded, {n} expected")
        names = {r[0]: r[1] for r in got["companies"]}
        for cik, name in rows["companies_names"]:
            check(names.get(cik) == name, f"companies.name of {cik}: {names.get(cik)!r} != {name!r}")
        described = {r[0]: r[10] for r in got["companies"]}
        check(described.get(999995) == "", "an empty description must arrive as '', not NULL")

        # dataset, cik, page, source_file, source_path, bytes, content_hash, status, rows, error, ...
        ingest = {r[3]: r for r in got["#ingest_stage"]}
        for name, reason in rejected.items():
            row = ingest.get(name)
            check(row is not None and row[7] == "rejected" and reason in (row[9] or ""),
                  f"{name}: ingest row {row}")
        check(all(r[7] == "loaded" and r[9] is None for n, r in ingest.items() if n not in rejected),
              "every other file is loaded with a NULL error")
        check(all(r[4].endswith("/" + r[3]) and r[2] is not None for r in ingest.values()),
              "every ingest row has its key and the path it was read from")
        check(not any(r[0] in (999992, 999994, 999996) for t in ("companies", "facts") for r in got[t]),
              "rows of a rejected file were committed")

        check(not any(e["kind"] == "sql" and "MERGE" in e["text"].upper() for e in events),
              "a MERGE statement was sent (Babelfish does not run it)")
        ddl = "\n".join(e["text"] for e in events if e["kind"] == "sql" and "CREATE TABLE" in e["text"])
        check("sys.indexes" not in ddl, "the DDL looks indexes up in sys.indexes (names differ on Babelfish)")
        # Text compares exactly, in right-sized columns: every text column declares the binary
        # collation (the bulk streams cannot carry it: FreeTDS 1.3.17 puts the connection's
        # collation in their COLMETADATA, whatever the column's); only a path is NVARCHAR(4000).
        text_columns = re.findall(r"\n  (\w+) (NVARCHAR\((?:\d+|MAX)\)[^,\n]*)", ddl)
        check(len(text_columns) > 60 and all(" COLLATE Latin1_General_100_BIN2" in t for _, t in text_columns),
              f"text columns without the exact collation: {[c for c in text_columns if 'BIN2' not in c[1]]}")
        check([c for c, t in text_columns if "(4000)" in t] == ["source_path"],
              f"NVARCHAR(4000) columns: {[c for c, t in text_columns if '(4000)' in t]}")
        for index, table in (("facts_key", "facts"), ("ingest_files_key", "ingest_files")):
            block = re.search(rf"IF OBJECT_ID\(N'{table}', N'U'\) IS NULL BEGIN\nCREATE TABLE {table} \(.*?\nEND;",
                              ddl, re.S)
            check(block is not None and f"CREATE UNIQUE INDEX {index} ON {table}" in block.group(0),
                  f"{index} is not created in {table}'s guarded block")

        # The views, each CREATE VIEW alone in its batch (SQL Server's rule); the secondary indexes
        # after the last row was sent (indexing once beats loading into indexed tables).
        sql_events = [(i, e["text"]) for i, e in enumerate(events) if e["kind"] == "sql"]
        views = [t for _, t in sql_events if "CREATE VIEW" in t]
        check(len(views) == 12 and all(t.startswith("CREATE VIEW") and t.count("CREATE VIEW") == 1 for t in views),
              f"CREATE VIEW batches: {[t[:40] for t in views]}")
        index_at = [i for i, t in sql_events if t.startswith("CREATE INDEX")]
        last_bulk = max(i for i, e in enumerate(events) if e["kind"] == "bulk")
        check(len(index_at) == 6 and min(index_at) > last_bulk,
              f"secondary indexes: {len(index_at)} created, the first at event {min(index_at, default=-1)}, the last "
              f"bulk load at {last_bulk}")

        # Results read back as a server sends them: an empty string is '' (FreeTDS's dbconvert
        # pads it with blanks), DATETIME2 values in ISO 8601 (not FreeTDS's "Dec  2 2026 ...").
        status = with_endpoint(bin_dir, os.path.join(work, "status.jsonl"), ["status"])
        check(status.returncode == 0 and "2026-12-02 10:30:36.5 " in status.stdout and
              "2026-12-01 23:06:01" in status.stdout and "AM" not in status.stdout and "PM" not in status.stdout,
              f"status times are not ISO 8601: {status.stdout}{status.stderr[-300:]}")
        rejects = with_endpoint(bin_dir, os.path.join(work, "rejects.jsonl"), ["rejects"])
        check(rejects.returncode == 0 and "submissions\tCIK0000000001.json\t\t7\t\n" in rejects.stdout,
              f"empty strings read back padded: {rejects.stdout!r}")

        # A duplicate key from the concepts insert (another writer inserted the same concept
        # first, on a server that does not honour the locking hints) is a conflict to retry, not
        # bad data: every file loads.
        small = os.path.join(work, "small")
        shutil.copytree(os.path.join(data_dir, "companyfacts"), os.path.join(small, "companyfacts"),
                        ignore=shutil.ignore_patterns("reformatted"))
        conflict_log, conflict_summary = os.path.join(work, "conflict.jsonl"), os.path.join(work, "conflict.json")
        conflict = run_into_endpoint(bin_dir, small, conflict_log, conflict_summary, ["--concept-conflicts", "2"])
        with open(conflict_summary) as f:
            conflict_s = json.load(f)
        check(conflict.returncode == 0 and conflict_s["files_rejected"] == 0 and conflict_s["files_loaded"] == 5,
              f"a concepts conflict rejected files: {conflict_s}: {conflict.stderr[-600:]}")
        check("another writer inserted the same concepts first" in conflict.stderr,
              f"the conflict retry is not reported: {conflict.stderr[-600:]}")
        conflict_ingest = [r for e in committed_bulk([json.loads(line) for line in open(conflict_log)])
                           if e["table"] == "#ingest_stage" for r in e["rows"]]
        check(sorted(r[7] for r in conflict_ingest) == ["loaded"] * 5,
              f"committed ingest rows after a conflict: {[r[7] for r in conflict_ingest]}")

        # A file the server refuses that another run loaded meanwhile (two runs over the same
        # inputs at once) is skipped: no reject row takes the place of the other run's 'loaded' one.
        overlap = os.path.join(work, "overlap", "submissions")
        os.makedirs(overlap)
        for name in ("CIK0000999996.json", "CIK0001911716.json"):
            shutil.copy(os.path.join(corpus, "submissions", name), overlap)
        overlap_log, overlap_summary = os.path.join(work, "overlap.jsonl"), os.path.join(work, "overlap.json")
        overlap_run = run_into_endpoint(bin_dir, os.path.dirname(overlap), overlap_log, overlap_summary,
                                        ["--loaded-elsewhere"])
        with open(overlap_summary) as f:
            overlap_s = json.load(f)
        check(overlap_run.returncode == 0 and overlap_s["files_rejected"] == 0 and overlap_s["files_loaded"] == 1
              and overlap_s["files_skipped"] == 1,
              f"a refused file loaded by another run: {overlap_s}: {overlap_run.stderr[-600:]}")
        check("another run is loading the same inputs" in overlap_run.stderr,
              f"the overlap is not reported: {overlap_run.stderr[-600:]}")
        overlap_ingest = [r for e in committed_bulk([json.loads(line) for line in open(overlap_log)])
                          if e["table"] == "#ingest_stage" for r in e["rows"]]
        check(sorted((r[3], r[7]) for r in overlap_ingest) == [("CIK0001911716.json", "loaded")],
              f"committed ingest rows when the refused file was loaded elsewhere: {overlap_ingest}")

        # The same corpus twice in one run, as the folder and a zip of it: each key reaches the
        # server once (the copies are counted as duplicates before the stages start).
        archive = os.path.join(work, "corpus.zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for root, _, names in os.walk(corpus):
                for name in sorted(names):
                    z.write(os.path.join(root, name), os.path.relpath(os.path.join(root, name), corpus))
        twice_log, twice_summary = os.path.join(work, "twice.jsonl"), os.path.join(work, "twice.json")
        twice = run_into_endpoint(bin_dir, [corpus, archive], twice_log, twice_summary)
        with open(twice_summary) as f:
            twice_s = json.load(f)
        files = sum(len(names) for _, _, names in os.walk(corpus))
        check(twice_s["files_duplicate"] == files and twice_s["files_seen"] == 2 * files,
              f"the folder and its zip: {twice_s['files_duplicate']} duplicates of {files}: {twice.stderr[-400:]}")
        twice_got = collections.defaultdict(list)
        for e in committed_bulk([json.loads(line) for line in open(twice_log, encoding="utf-8")]):
            twice_got[e["table"]].extend(e["rows"])
        keys = [(r[0], r[1], r[2]) for r in twice_got["#ingest_stage"]]
        check(len(keys) == len(set(keys)) == files, f"the folder and its zip: {len(keys)} ingest rows for {files} keys")
        check(len(twice_got["companies"]) == counts["companies"],
              f"the folder and its zip: {len(twice_got['companies'])} companies rows, {counts['companies']} expected")

        # --storage analytic: facts become a clustered columnstore, made in facts' guarded block
        # before its key index; the writer holds facts back for a compressed row group (102,400
        # rows) where row storage commits every 2 s. A writer slowed to 600 ms a file (5 files: 3 s)
        # makes the difference show: two facts bulk loads in row storage, one under the columnstore.
        slow = {"EDGARPIPE_TEST_FAULT": "slow:writer:600"}
        bulk_counts = {}
        for storage in ("row", "analytic"):
            log = os.path.join(work, f"storage-{storage}.jsonl")
            r = with_endpoint(bin_dir, log, ["run", small, "--writers", "1", "--progress", "never", "--max-restarts", "0",
                                             "--storage", storage], env_extra=slow)
            check(r.returncode == 0, f"--storage {storage}: exit {r.returncode}: {r.stderr[-400:]}")
            events = [json.loads(line) for line in open(log, encoding="utf-8")]
            ddl = "\n".join(e["text"] for e in events if e["kind"] == "sql" and "CREATE TABLE" in e["text"])
            block = re.search(r"IF OBJECT_ID\(N'facts', N'U'\) IS NULL BEGIN\nCREATE TABLE facts \(.*?\nEND;", ddl, re.S)
            cci = "CREATE CLUSTERED COLUMNSTORE INDEX facts_columnstore ON facts;"
            if storage == "analytic":
                check(block is not None and cci in block.group(0) and
                      block.group(0).index(cci) < block.group(0).index("CREATE UNIQUE INDEX facts_key"),
                      f"--storage analytic: no columnstore before facts_key in facts' block: {ddl[:300]}")
            else:
                check(cci not in ddl, "row storage made a columnstore")
            bulk_counts[storage] = sum(1 for e in committed_bulk(events) if e["table"] == "facts")
        check(bulk_counts["row"] >= 2 and bulk_counts["analytic"] == 1,
              f"facts bulk loads, row vs columnstore: {bulk_counts} (expected several vs one)")
        again = with_endpoint(bin_dir, os.path.join(work, "storage-schema.jsonl"),
                              ["schema", "--storage", "analytic"])
        check(again.returncode == 0 and "CREATE CLUSTERED COLUMNSTORE INDEX facts_columnstore ON facts" in again.stdout,
              f"schema --storage analytic: {again.stdout[:200]}{again.stderr[-200:]}")

        # A database an earlier release made (schema 3, text in the server's case-insensitive default
        # collation) is made exact in place, in the schema transaction: views, then the indexes and
        # primary keys over text dropped, every text column altered, keys made again, views again;
        # its companyfacts documents marked to load again. Then the case pair loads.
        earlier_ddl = os.path.join(work, "earlier.sql")
        schema = with_endpoint(bin_dir, os.path.join(work, "schema.jsonl"), ["schema"])
        # Release 3's tables: this one's without the exact collation, and without statement_lines (new
        # since: created exact by the upgrade's DDL, nothing to alter).
        earlier_text = re.sub(r"IF OBJECT_ID\(N'statement_lines', N'U'\) IS NULL BEGIN\n.*?\nEND;\n", "",
                              schema.stdout.replace(" COLLATE Latin1_General_100_BIN2", ""), flags=re.S)
        with open(earlier_ddl, "w", encoding="utf-8") as f:
            f.write(earlier_text)
        pairs = os.path.join(work, "pairs", "companyfacts")
        os.makedirs(pairs)
        shutil.copy(os.path.join(corpus, "companyfacts", "CIK0000999997.json"), pairs)
        upgrade_log = os.path.join(work, "upgrade.jsonl")
        upgrade = run_into_endpoint(bin_dir, os.path.dirname(pairs), upgrade_log, os.path.join(work, "upgrade.json"),
                                    ["--earlier-release", earlier_ddl, "3"])
        check(upgrade.returncode == 0 and "made the text of this database compare exactly (collation "
              "Latin1_General_100_BIN2; it was SQL_Latin1_General_CP1_CI_AS, case-insensitive)" in upgrade.stderr,
              f"the upgrade of an earlier release's database: exit {upgrade.returncode}: {upgrade.stderr[-600:]}")
        upgrade_events = [json.loads(line) for line in open(upgrade_log, encoding="utf-8")]
        admin = upgrade_events[[e["kind"] for e in upgrade_events].index("sql")]["session"]
        statements = [e["text"] for e in upgrade_events if e["kind"] == "sql" and e["session"] == admin]

        def at(prefix, last=False):
            found = [i for i, t in enumerate(statements) if t.startswith(prefix)]
            check(found, f"the upgrade did not send {prefix!r}")
            return (found[-1] if last else found[0]) if found else -1

        order = [at("BEGIN TRANSACTION; EXEC sp_getapplock @Resource = N'edgarpipe_schema'"),
                 at("DROP INDEX facts_key ON facts"),
                 at("ALTER TABLE concepts DROP CONSTRAINT [PK__concepts__3213E83F]"),
                 at("ALTER TABLE concepts ALTER COLUMN concept NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL"),
                 at("ALTER TABLE facts ALTER COLUMN unit NVARCHAR(128) COLLATE Latin1_General_100_BIN2 NOT NULL"),
                 at("ALTER TABLE concepts ADD PRIMARY KEY (taxonomy, concept)"),
                 at("CREATE UNIQUE INDEX facts_key ON facts (cik, taxonomy, concept, unit, period_start, period_end, "
                    "accession_number)"),
                 at("UPDATE ingest_files SET content_hash = N'xxh3:0000000000000000', source_stamp = NULL WHERE "
                    "dataset = N'companyfacts'"),
                 at("CREATE VIEW facts_latest", last=True), at("COMMIT TRANSACTION")]
        check(order == sorted(order), f"the upgrade's statements out of order: {order}")
        view_states = [t.split(" ")[0] for t in statements[:order[1]] if t.endswith(" facts_latest") or
                       t.startswith("CREATE VIEW facts_latest")]
        check(view_states[-1:] == ["DROP"], f"a view stood while its columns were altered: {view_states}")
        altered = [t for t in statements if " ALTER COLUMN " in t]
        earlier_columns = re.findall(r"\n  (\w+) (NVARCHAR\((?:\d+|MAX)\)[^,\n]*)", earlier_text)
        check("CREATE TABLE statement_lines" not in earlier_text and len(altered) == len(earlier_columns)
              and all("COLLATE Latin1_General_100_BIN2" in t for t in altered),
              f"{len(altered)} text columns altered, {len(earlier_columns)} in release 3's tables")
        check(all(at(f"ALTER TABLE {t} ADD PRIMARY KEY") > 0 for t in ("filings", "submission_pages")),
              "primary keys over text not made again")
        # A CHECK constraint blocks ALTER COLUMN on SQL Server: dropped first, made again after.
        for table, values in (("ingest_files", "'loaded', 'rejected'"),
                              ("ingest_runs", "'running', 'completed', 'failed', 'interrupted'")):
            steps = [at(f"ALTER TABLE {table} DROP CONSTRAINT [CK__{table}__status__5FB337D6]"),
                     at(f"ALTER TABLE {table} ALTER COLUMN status NVARCHAR(16) COLLATE Latin1_General_100_BIN2 NOT NULL"),
                     at(f"ALTER TABLE {table} ADD CHECK (status IN ({values}))")]
            check(steps == sorted(steps), f"{table}.status: its CHECK not dropped before the ALTER and made after: {steps}")
        pair_rows = [r for e in committed_bulk(upgrade_events) if e["table"] == "facts" for r in e["rows"]]
        check(sorted((r[2], r[3]) for r in pair_rows) == [("FooBar", "Well"), ("FooBar", "well"), ("Foobar", "USD")],
              f"the case pair after the upgrade: {[r[:4] for r in pair_rows]}")

        # The password as a systemd credential ($CREDENTIALS_DIRECTORY/mssql-password, its first
        # line), with EDGARPIPE_MSSQL_PASSWORD unset: it reaches the server's login.
        credentials = os.path.join(work, "credentials")
        os.makedirs(credentials)
        with open(os.path.join(credentials, "mssql-password"), "w") as f:
            f.write(PASSWORD + "\n")
        cred_log = os.path.join(work, "credentials.jsonl")
        r = with_endpoint(bin_dir, cred_log, ["status"],
                          env_extra={"EDGARPIPE_MSSQL_PASSWORD": None, "CREDENTIALS_DIRECTORY": credentials})
        logins = [json.loads(line) for line in open(cred_log, encoding="utf-8") if '"login"' in line]
        check(r.returncode == 0 and logins and all(l["password"] == PASSWORD for l in logins),
              f"the password from $CREDENTIALS_DIRECTORY: exit {r.returncode}, logins {[l.get('password') for l in logins]}")

        # A source path of 4001 characters (the canonical path of the file).
        long_corpus = os.path.join(work, "long")
        nested = os.path.realpath(long_corpus)
        tail = "/CIK0001911716.json"
        while len(nested) + len(tail) < 4001:
            nested = os.path.join(nested, "d" * min(200, 4001 - len(nested) - len(tail) - 1))
        os.makedirs(nested)
        shutil.copy(os.path.join(data_dir, "submissions", "CIK0001911716.json"), nested)
        long_log = os.path.join(work, "long.jsonl")
        long_run = run_into_endpoint(bin_dir, long_corpus, long_log, os.path.join(work, "long.json"))
        check(long_run.returncode == 1, f"a 4001-character source path: exit {long_run.returncode}")
        check("longer than the 4000 characters of SQL Server's ingest_files.source_path" in long_run.stderr,
              "a 4001-character source path: " + long_run.stderr[-300:])
        check("restart" not in long_run.stderr, "a 4001-character source path: the stages ran")
        long_events = [json.loads(line) for line in open(long_log, encoding="utf-8")]
        check(not any(e["kind"] == "bulk" for e in long_events), "rows were sent for a too-long source path")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("MS-TDS conformance: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
