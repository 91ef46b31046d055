#!/usr/bin/env python3
"""Analyst-ready databases: secondary indexes built after the first load, views alike everywhere.

Loads the samples into SQLite and PostgreSQL, then:
- the first run builds the secondary indexes (docs/tables.md) and says so; a second run keeps
  them and builds nothing; --no-indexes leaves them out;
- no query of benchmarks/queries/ scans `facts` or `filings` where an index serves it: SQLite's
  EXPLAIN QUERY PLAN has no SCAN of a table (scans of its own co-routines are fine), and
  PostgreSQL's EXPLAIN has no Seq Scan on them with seq scans disabled (the samples are small
  enough that the planner would rightly prefer one otherwise);
- every view returns the same rows in SQLite and PostgreSQL, and so does every query of the set;
  facts_versions and facts_first_reported agree with versions numbered here from facts, and
  `edgarpipe asof` with the values picked here for a day, and `edgarpipe frame` with each filer's
  fact for a frame picked here; the statements with a recomputation from facts and statement_lines;
- Apple's discrete Q4 revenue, TTM net income, first-reported and as-of values and a balance-sheet
  line, and a frame's members, equal values computed here from the raw JSON;
- PostgreSQL with --storage analytic (facts hash-partitioned by cik) passes the same checks with
  the same rows, a one-company query reads one partition, and a later run that asks for the other
  storage is refused before it loads.

Usage: analyst_test.py BIN_DIR DATA_DIR QUERY_DIR
"""
import csv
import datetime
import decimal
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import shutil

from sinktest import Postgres, Sqlite, check, verdict

VIEWS = {"facts_annual": 12, "facts_quarterly": 14, "facts_latest": 13, "facts_versions": 18, "facts_first_reported": 13,
         "facts_quarter_discrete": 10, "facts_ttm": 8, "filing_documents": 9, "ticker_lookup": 4,
         "income_statement": 14, "balance_sheet": 14, "cash_flow": 14}
STATEMENT_FORMS = ("10-K", "10-K/A", "10-Q", "10-Q/A")
INDEXES = ["facts_concept_frame", "facts_accession", "filings_form_date", "filings_accession", "filings_date",
           "company_tickers_ticker"]


def run(bin_dir, url, data, *extra):
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "run", data, "--sink", url, "--progress", "never",
                        "--max-restarts", "0", *extra], capture_output=True, text=True, timeout=600)
    return r.returncode, r.stderr


NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?", re.I)


def cell(v):
    """A value as the two databases agree on it: numbers by their decimal value, NULL apart."""
    if v is None:
        return "<NULL>"
    if isinstance(v, int):
        return str(v)
    text = str(v)
    if not text or text[0] not in "-0123456789" or not NUMBER.fullmatch(text):
        return text
    return format(decimal.Decimal(text).normalize(), "f")


def rows(sink, url, sql):
    if isinstance(sink, Sqlite):
        db = sqlite3.connect(url[len("sqlite:"):])
        got = [tuple(cell(v) for v in r) for r in db.execute(sql)]
        db.close()
    else:
        out = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\x1f", "-P", "null=<NULL>", "-v", "ON_ERROR_STOP=1", url,
                              "-c", sql], capture_output=True, text=True, check=True).stdout
        got = [tuple(cell(None if v == "<NULL>" else v) for v in line.split("\x1f")) for line in out.splitlines()]
    return sorted(got)


def table_scans(sink, url, sql):
    """The tables facts and filings read whole by the query's plan."""
    if isinstance(sink, Sqlite):
        db = sqlite3.connect(url[len("sqlite:"):])
        plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql)]
        db.close()
        coroutines = {m.group(1) for line in plan for m in [re.match(r"(?:CO-ROUTINE|MATERIALIZE) (\S+)", line)] if m}
        scanned = {m.group(1) for line in plan for m in [re.match(r"SCAN (\S+)", line)] if m}
        bad = {s for s in scanned - coroutines if not s.startswith("(")}
        return sorted(bad), "\n".join(plan)
    plan = subprocess.run(["psql", "-X", "-A", "-t", url, "-c", "SET enable_seqscan = off",
                           "-c", "EXPLAIN " + sql], capture_output=True, text=True, check=True).stdout
    return sorted(set(re.findall(r"Seq Scan on (facts(?:_p\d+)?|filings)\b", plan))), plan


def check_versions(sink, url, results):
    """facts_versions and facts_first_reported against versions numbered here from facts itself:
    per period (cik, taxonomy, concept, unit, start, end), by filed (NULL first) then accession."""
    key_sql = ("SELECT cik, taxonomy, concept, unit, period_start, period_end, accession_number, filed FROM facts")
    periods = {}
    for r in rows(sink, url, key_sql):
        periods.setdefault(r[:6], []).append(r)
    want = {}
    for period, facts in periods.items():
        facts.sort(key=lambda r: (r[7] != "<NULL>", r[7], r[6]))
        for i, r in enumerate(facts, 1):
            want[r[:7]] = (str(i), str(len(facts)), "1" if i == 1 else "0", "1" if i == len(facts) else "0")
    got = {r[:6] + (r[7],): (r[13], r[14], r[15], r[16]) for r in results["facts_versions"]}
    check(len(results["facts_versions"]) == len(want) and got == want,
          f"{sink.name}: facts_versions: {len(got)} rows, {len(want)} facts; e.g. "
          f"{sorted((k, got.get(k), v) for k, v in want.items() if got.get(k) != v)[:2]}")
    latest = sorted(r[:13] for r in results["facts_versions"] if r[16] == "1")
    check(latest == results["facts_latest"], f"{sink.name}: facts_versions' is_latest rows are not facts_latest's")
    first = sorted(r[:13] for r in results["facts_versions"] if r[15] == "1")
    check(first == results["facts_first_reported"] and first, f"{sink.name}: facts_first_reported differs")
    # A prior-period column: its period ends before its filing's report_date (NULL without one).
    report = dict(((r[0], r[1]), r[2]) for r in rows(sink, url, "SELECT cik, accession_number, report_date FROM filings"))
    comparative = {}
    for r in results["facts_versions"]:
        date = report.get((r[0], r[7]), "<NULL>")
        expected = "<NULL>" if date in ("<NULL>", "") else ("1" if r[5] < date else "0")
        comparative[expected] = comparative.get(expected, 0) + (r[17] == expected)
        if r[17] != expected:
            check(False, f"{sink.name}: is_comparative of {r[:8]}: {r[17]}, expected {expected}")
            break
    check(comparative.get("1") and comparative.get("0"), f"{sink.name}: is_comparative never 1 or never 0: {comparative}")


def check_quarters(sink, results):
    """facts_quarter_discrete against quarters derived here from facts_latest: a quarter-long
    duration (80-100 days) as reported, else a year-to-date value less the one of the same start
    just before it when that ends 80-100 days earlier, for amounts that add up (a currency, shares)."""
    days = lambda r: (datetime.date.fromisoformat(r[5]) - datetime.date.fromisoformat(r[4])).days  # noqa: E731
    series = {}
    for r in results["facts_latest"]:
        if r[4] != "<NULL>":
            series.setdefault(r[:4], []).append(r)
    want = []
    for facts in series.values():
        quarter_ends = {r[5] for r in facts if 80 <= days(r) <= 100}
        for r in facts:
            if 80 <= days(r) <= 100:
                want.append(r[:7] + (r[8], "reported", r[7]))
        for y in facts:
            additive = y[3] == "shares" or re.fullmatch(r"[A-Z]{3}", y[3])
            if days(y) < 170 or y[6] == "<NULL>" or not additive or y[5] in quarter_ends:
                continue
            # The year-to-date value just before it: the same start, the latest earlier end.
            earlier = [p for p in facts if p[4] == y[4] and p[5] < y[5]]
            if not earlier:
                continue
            p = max(earlier, key=lambda r: r[5])
            gap = (datetime.date.fromisoformat(y[5]) - datetime.date.fromisoformat(p[5])).days
            if 80 <= gap <= 100 and days(p) >= 80 and p[6] != "<NULL>":
                start = (datetime.date.fromisoformat(p[5]) + datetime.timedelta(days=1)).isoformat()
                exact = decimal.Decimal(y[6]) - decimal.Decimal(p[6])
                if isinstance(sink, Sqlite) and not (float(y[6]).is_integer() and float(p[6]).is_integer()):
                    exact = float(y[6]) - float(p[6])  # SQLite holds fractions as REAL: a double's difference
                want.append(y[:4] + (start, y[5], cell(exact), y[8], "derived", f"{y[7]} - {p[7]}"))
    got = results["facts_quarter_discrete"]
    check(got == sorted(want) and any(r[8] == "derived" for r in got),
          f"{sink.name}: facts_quarter_discrete: {len(got)} rows, {len(want)} expected; e.g. "
          f"{sorted(set(got) ^ set(want))[:2]}")
    return want


def approximate(rows):
    """Rows with numbers to 4 decimals: SQLite computes with REAL what PostgreSQL keeps exact."""
    def one(v):
        try:
            return str(round(decimal.Decimal(v), 4))
        except decimal.InvalidOperation:
            return v
    return sorted(tuple(one(v) for v in r) for r in rows)


def check_ttm(sink, results, quarters):
    """facts_ttm: four consecutive discrete quarters of a series that span 350-380 days, summed;
    instants as they are. Values compared to 1e-4 (SQLite sums REAL fractions as doubles)."""
    by_series, ends = {}, {}
    for q in sorted(quarters, key=lambda q: (q[5], q[4]), reverse=True):  # the latest start first
        summed = q[3] == "shares" or q[3].endswith("/shares") or re.fullmatch(r"[A-Z]{3}", q[3])
        if summed and (q[:4], q[5]) not in ends:
            ends[q[:4], q[5]] = q
    for q in sorted(ends.values(), key=lambda q: q[5]):
        by_series.setdefault(q[:4], []).append(q)
    want = []
    for key, qs in by_series.items():
        for i in range(3, len(qs)):
            window = qs[i - 3:i + 1]
            start = min(q[4] for q in window)
            span = (datetime.date.fromisoformat(qs[i][5]) - datetime.date.fromisoformat(start)).days
            if all(q[6] != "<NULL>" for q in window) and 350 <= span <= 380:
                want.append(key + (start, qs[i][5], sum(decimal.Decimal(q[6]) for q in window), "duration"))
    want += [r[:7] + ("instant",) for r in results["facts_latest"] if r[4] == "<NULL>"]
    got, want = approximate(results["facts_ttm"]), approximate(want)
    check(got == want and any(r[7] == "duration" for r in got),
          f"{sink.name}: facts_ttm: {len(got)} rows, {len(want)} expected; e.g. {sorted(set(got) ^ set(want))[:2]}")


def check_asof(sink, bin_dir, url, day):
    """`edgarpipe asof --date DAY`: facts_asof against each period's latest value filed by DAY,
    picked here from facts; a second run replaces the table, and a bad day is refused."""
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "asof", "--date", day, "--sink", url],
                       capture_output=True, text=True, timeout=300)
    latest = {}
    for f in rows(sink, url, "SELECT cik, taxonomy, concept, unit, period_start, period_end, value, accession_number, "
                             "fiscal_year, fiscal_period, form, filed, frame FROM facts"):
        if f[11] == "<NULL>" or f[11] > day:
            continue
        key = f[:6]
        if key not in latest or (f[11], f[7]) > (latest[key][11], latest[key][7]):
            latest[key] = f
    want = sorted(f + (day,) for f in latest.values())
    got = rows(sink, url, "SELECT * FROM facts_asof")
    check(r.returncode == 0 and f"facts_asof: {len(want)} facts as known on {day}" in r.stderr,
          f"{sink.name}: asof: exit {r.returncode}: {r.stderr[-300:]}")
    check(got == want and want, f"{sink.name}: facts_asof: {len(got)} rows, {len(want)} expected; e.g. "
                                f"{sorted(set(got) ^ set(want))[:2]}")
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "asof", "--date", "2009-12-31", "--sink", url],
                       capture_output=True, text=True, timeout=300)
    again = rows(sink, url, "SELECT count(*), min(as_of) FROM facts_asof")
    check(r.returncode == 0 and again[0][1] == "2009-12-31" and int(again[0][0]) < len(want),
          f"{sink.name}: asof again: {again} {r.stderr[-300:]}")
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "asof", "--date", "2019-02-29", "--sink", url],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 2 and "not a day written YYYY-MM-DD" in r.stderr, f"{sink.name}: asof 2019-02-29: "
                                                                            f"{r.stderr[-300:]}")


def expected_statements(sink, url):
    """income_statement, balance_sheet and cash_flow recomputed from facts, filings and
    statement_lines by the rules of docs/tables.md."""
    lines = rows(sink, url, "SELECT statement, line, line_order, priority, taxonomy, concept, sign FROM statement_lines")
    by_concept = {}
    for st, line, order, priority, tax, concept, sign in lines:
        by_concept.setdefault((tax, concept), []).append((st, line, order, int(priority), int(sign)))
    facts = rows(sink, url, "SELECT cik, fiscal_year, fiscal_period, period_start, period_end, value, unit, taxonomy, "
                            "concept, accession_number, form, filed FROM facts")
    own_end = {}
    for f in facts:
        if f[7] == "us-gaap" and f[4] != "<NULL>":
            own_end[(f[0], f[9])] = max(own_end.get((f[0], f[9]), f[4]), f[4])
    report = {(c, a): d for c, a, d in rows(sink, url, "SELECT cik, accession_number, report_date FROM filings")
              if d != "<NULL>"}
    day = datetime.date.fromisoformat
    best = {}
    for f in facts:
        cik, fy, fp, start, end, value, unit, tax, concept, accn, form, filed = f
        if form not in STATEMENT_FORMS or fy == "<NULL>" or fp == "<NULL>" or (tax, concept) not in by_concept:
            continue
        if end != report.get((cik, accn), own_end.get((cik, accn))):
            continue
        days = None if start == "<NULL>" else (day(end) - day(start)).days
        for st, line, order, priority, sign in by_concept[(tax, concept)]:
            if st == "balance_sheet":
                fits = days is None
            else:
                fits = days is not None and (350 <= days <= 380 if fp == "FY" else
                                             80 <= days <= (280 if st == "cash_flow" else 100))
            if not fits:
                continue
            # ORDER BY priority, (cash flow: the longest), filed (known first, latest), accession, unit
            rank = (priority, -(days or 0) if st == "cash_flow" else 0, filed == "<NULL>",
                    tuple(-ord(c) for c in filed), tuple(-ord(c) for c in accn), unit)
            key = (st, cik, fy, fp, line)
            if key not in best or rank < best[key][0]:
                best[key] = (rank, (cik, fy, fp, start, end, line, order,
                                    cell(str(decimal.Decimal(value) * sign + 0)), unit, tax, concept, accn, form, filed))
    out = {"income_statement": [], "balance_sheet": [], "cash_flow": []}
    for (st, *_), (_, row) in best.items():
        out[st].append(row)
    return {st: sorted(v) for st, v in out.items()}


def check_statements(sink, url, results):
    want = expected_statements(sink, url)
    for statement, expected in want.items():
        got = results[statement]
        check(got == expected and expected, f"{sink.name}: {statement}: {len(got)} rows, {len(expected)} expected; "
                                            f"e.g. {sorted(set(got) ^ set(expected))[:2]}")
    apple = [r for r in results["income_statement"] if r[0] == "320193" and r[1] == "2023" and r[2] == "FY"
             and r[5] == "revenue"]
    check(apple and apple[0][7] == "383285000000" and apple[0][10] == "RevenueFromContractWithCustomerExcludingAssessedTax",
          f"{sink.name}: Apple's fiscal 2023 revenue: {apple}")
    # The user's edit: revenue's preferred concept dropped, the next one serves; a rerun keeps the edit.
    sink.query(url, "DELETE FROM statement_lines WHERE line = 'revenue' AND concept = "
                    "'RevenueFromContractWithCustomerExcludingAssessedTax'")
    edited = rows(sink, url, "SELECT concept FROM income_statement WHERE cik = 320193 AND fiscal_year = 2023 AND "
                             "fiscal_period = 'FY' AND line = 'revenue'")
    check(edited == [("Revenues",)] or edited == [], f"{sink.name}: revenue after the edit: {edited}")
    check(edited != [("RevenueFromContractWithCustomerExcludingAssessedTax",)], f"{sink.name}: the edit was ignored")
    return len(rows(sink, url, "SELECT * FROM statement_lines"))


def json_facts(data, concept, unit="USD", cik="0000320193"):
    """A concept's facts as the SEC's JSON gives them (tests/data), not as loaded."""
    with open(os.path.join(data, "companyfacts", f"CIK{cik}.json"), encoding="utf-8") as f:
        return json.load(f)["facts"]["us-gaap"][concept]["units"][unit]


def latest_of(facts, start, end):
    """The value of a period as the latest filing gives it (filed, then accession number)."""
    versions = [x for x in facts if x.get("start") == start and x["end"] == end]
    return max(versions, key=lambda x: (x["filed"], x["accn"]))["val"] if versions else None


def check_against_json(sink, bin_dir, url, data, results):
    """Values the views give for Apple, against values computed here from the raw JSON: fiscal 2023's
    discrete Q4 revenue (the year less nine months), trailing-twelve-month net income at the year's
    end, fiscal 2018's net income as first reported and as known on 2019-10-31 (facts_asof), and total
    assets on the fiscal 2023 balance sheet; and each `frame` member."""
    revenue = json_facts(data, "RevenueFromContractWithCustomerExcludingAssessedTax")
    q4 = latest_of(revenue, "2022-09-25", "2023-09-30") - latest_of(revenue, "2022-09-25", "2023-07-01")
    got = [r[6] for r in results["facts_quarter_discrete"] if r[0] == "320193" and r[2] ==
           "RevenueFromContractWithCustomerExcludingAssessedTax" and r[5] == "2023-09-30"]
    check(got == [cell(q4)], f"{sink.name}: Apple's discrete Q4 2023 revenue {got}, the JSON gives {q4}")
    income = json_facts(data, "NetIncomeLoss")
    quarters = [latest_of(income, "2022-09-25", "2022-12-31"),
                latest_of(income, "2023-01-01", "2023-04-01"), latest_of(income, "2023-04-02", "2023-07-01")]
    ttm = sum(quarters) + latest_of(income, "2022-09-25", "2023-09-30") - latest_of(income, "2022-09-25", "2023-07-01")
    got = [r[6] for r in results["facts_ttm"] if r[0] == "320193" and r[2] == "NetIncomeLoss" and r[3] == "USD"
           and r[5] == "2023-09-30"]
    check(got == [cell(ttm)], f"{sink.name}: Apple's TTM net income at 2023-09-30 {got}, the JSON gives {ttm}")
    fy2018 = [x for x in income if x.get("start") == "2017-10-01" and x["end"] == "2018-09-29"]
    first = min(fy2018, key=lambda x: (x["filed"], x["accn"]))
    got = rows(sink, url, "SELECT value, accession_number FROM facts_first_reported WHERE cik = 320193 AND concept = "
                          "'NetIncomeLoss' AND unit = 'USD' AND period_start = '2017-10-01' AND period_end = '2018-09-29'")
    check(got == [(cell(first["val"]), first["accn"])], f"{sink.name}: first reported {got}, the JSON gives {first}")
    known = max((x for x in fy2018 if x["filed"] <= "2019-10-31"), key=lambda x: (x["filed"], x["accn"]))
    subprocess.run([os.path.join(bin_dir, "edgarpipe"), "asof", "--date", "2019-10-31", "--sink", url], check=True,
                   capture_output=True)
    got = rows(sink, url, "SELECT value, accession_number FROM facts_asof WHERE cik = 320193 AND concept = "
                          "'NetIncomeLoss' AND unit = 'USD' AND period_start = '2017-10-01' AND period_end = '2018-09-29'")
    check(got == [(cell(known["val"]), known["accn"])], f"{sink.name}: as of 2019-10-31 {got}, the JSON gives {known}")
    assets = [x for x in json_facts(data, "Assets") if x["end"] == "2023-09-30" and x["accn"] == "0000320193-23-000106"]
    got = [r[7] for r in results["balance_sheet"] if r[0] == "320193" and r[1] == "2023" and r[2] == "FY"
           and r[5] == "total_assets"]
    check(assets and got == [cell(assets[0]["val"])], f"{sink.name}: Apple's total assets {got}, the JSON gives {assets}")


def frame_from_json(data, concept, unit, frame):
    """(cik, accession, end, value) of every companyfacts fact framed so, from the raw JSON."""
    members = set()
    for folder, _, names in os.walk(os.path.join(data, "companyfacts")):
        for name in names:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                doc = json.load(f)
            for x in doc.get("facts", {}).get("us-gaap", {}).get(concept, {}).get("units", {}).get(unit, []):
                if x.get("frame") == frame:
                    members.add((str(doc["cik"]), x["accn"], x["end"], cell(x["val"])))
    return members


def check_frame(sink, bin_dir, url, data, taxonomy_concept, unit, frame):
    """`edgarpipe frame ... --csv` against each filer's fact for the frame picked here (the latest
    filed, then accession number), with the filer's name; a word that is not a frame is refused."""
    taxonomy, concept = taxonomy_concept.split(":")
    found = rows(sink, url, "SELECT f.cik, e.entity_name, f.accession_number, f.period_start, f.period_end, f.value, "
                            "f.form, f.filed FROM facts f LEFT JOIN entities e ON e.cik = f.cik WHERE "
                            f"f.taxonomy = '{taxonomy}' AND f.concept = '{concept}' AND f.unit = '{unit.replace('-per-', '/')}' "
                            f"AND f.frame = '{frame}'")
    latest = {}
    for r in found:
        if r[0] not in latest or (r[7], r[2]) > (latest[r[0]][7], latest[r[0]][2]):
            latest[r[0]] = r
    want = sorted(latest.values())
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "frame", taxonomy_concept, unit, frame, "--sink", url,
                        "--csv"], capture_output=True, text=True)
    lines = list(csv.reader(io.StringIO(r.stdout)))
    got = sorted(tuple(cell(v if v != "" else None) for v in line) for line in lines[1:])
    check(r.returncode == 0 and lines and lines[0][0] == "cik" and got == want and want,
          f"{sink.name}: frame {taxonomy_concept} {unit} {frame}: exit {r.returncode}, {len(got)} rows, "
          f"{len(want)} expected: {r.stderr[-300:]}\n{got[:2]}\n{want[:2]}")
    members = frame_from_json(data, concept, unit.replace("-per-", "/"), frame)
    check({(g[0], g[2], g[4], g[5]) for g in got} == members,
          f"{sink.name}: frame {frame}: {len(got)} rows, the JSON frames {len(members)}")
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "frame", taxonomy_concept, unit, "2022Q4", "--sink", url],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "is not a frame" in r.stderr, f"{sink.name}: frame 2022Q4: exit {r.returncode}: "
                                                              f"{r.stderr[-300:]}")


def scenario(sink, bin_dir, data, queries, storage=()):
    url = sink.fresh()
    code, err = run(bin_dir, url, data, *storage)
    # SQLite answers filings_date's question by a skip-scan of filings_form_date (docs/tables.md).
    built = len(INDEXES) - (1 if isinstance(sink, Sqlite) else 0)
    check(code == 0 and f"built {built} secondary indexes" in err, f"{sink.name}: first load: exit {code}: {err[-500:]}")
    code, err = run(bin_dir, url, data)
    check(code == 0 and "secondary indexes" not in err, f"{sink.name}: a rerun built indexes: {err[-500:]}")
    for name, sql in queries.items():
        bad, plan = table_scans(sink, url, sql)
        check(not bad, f"{sink.name}: {name} scans {bad}:\n{plan}")
    bare = sink.fresh()
    code, err = run(bin_dir, bare, data, "--no-indexes", *storage)
    check(code == 0 and "secondary indexes" not in err, f"{sink.name}: --no-indexes built indexes: {err[-500:]}")
    if isinstance(sink, Sqlite):
        present = [r[0] for r in sink.query(bare, "SELECT name FROM sqlite_master WHERE type = 'index'")]
    else:
        present = [r[0] for r in sink.query(bare, "SELECT indexname FROM pg_indexes")]
    check(not set(INDEXES) & set(present), f"{sink.name}: --no-indexes left {set(INDEXES) & set(present)}")
    # The scan check can fail: without the indexes it sees the scans.
    check(any(table_scans(sink, bare, sql)[0] for sql in queries.values()),
          f"{sink.name}: no query scans a table even without the secondary indexes")
    results = {}
    for view, columns in VIEWS.items():
        got = rows(sink, url, f"SELECT * FROM {view}")
        check(got and len(got[0]) == columns, f"{sink.name}: view {view}: {len(got)} rows of "
                                               f"{len(got[0]) if got else 0} columns")
        results[view] = got
    for name, sql in queries.items():
        results[name] = rows(sink, url, sql)
    check_versions(sink, url, results)
    check_ttm(sink, results, check_quarters(sink, results))
    check_asof(sink, bin_dir, url, "2019-10-31")
    check_against_json(sink, bin_dir, url, data, results)
    check_frame(sink, bin_dir, url, data, "us-gaap:Assets", "USD", "CY2022Q4I")
    seeded = check_statements(sink, url, results)
    code, err = run(bin_dir, url, data)
    check(code == 0 and len(rows(sink, url, "SELECT * FROM statement_lines")) == seeded,
          f"{sink.name}: a rerun changed the edited statement_lines: {err[-300:]}")
    check_frame(sink, bin_dir, url, data, "us-gaap:EarningsPerShareBasic", "USD-per-shares", "CY2022")
    if storage:
        partitions = sink.query(url, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'facts'::regclass")
        check(partitions == [("16",)], f"{sink.name}: facts partitions: {partitions}")
        plan = subprocess.run(["psql", "-X", "-A", "-t", url, "-c", "EXPLAIN " + queries["01_company_concept_history.sql"]],
                              capture_output=True, text=True, check=True).stdout
        read = set(re.findall(r"on (facts_p\d+)", plan))
        check(len(read) == 1, f"{sink.name}: one company's facts read {sorted(read)} partitions:\n{plan}")
        code, err = run(bin_dir, url, data, "--storage", "row")
        check(code == 2 and "holds facts as analytic storage" in err, f"{sink.name}: --storage row over analytic: "
                                                                        f"exit {code}: {err[-300:]}")
    return results


def main():
    bin_dir, data_dir, query_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    queries = {}
    for name in sorted(os.listdir(query_dir)):
        if name.endswith(".sql"):
            with open(os.path.join(query_dir, name)) as f:
                queries[name] = f.read()
    check(len(queries) >= 8, f"{len(queries)} queries in {query_dir}")
    work = tempfile.mkdtemp(prefix="edgarpipe-analyst-")
    try:
        data = os.path.join(work, "data")
        shutil.copytree(data_dir, data, ignore=shutil.ignore_patterns("*.md"))
        lite = scenario(Sqlite(work), bin_dir, data, queries)
        for name in ("facts_annual", "02_concept_across_companies.sql", "05_ticker_to_cik.sql"):
            check(lite.get(name), f"SQLite: {name} returned no rows: the samples should have some")
        if os.environ.get("EDGARPIPE_TEST_PG"):
            pg = Postgres(os.environ["EDGARPIPE_TEST_PG"], "analyst_test")
            try:
                pg_results = scenario(pg, bin_dir, data, queries)
            finally:
                pg.drop_all()
            pg_analytic = Postgres(os.environ["EDGARPIPE_TEST_PG"], "analyst_test_analytic")
            pg_analytic.name = "PostgreSQL (--storage analytic)"
            try:
                analytic_results = scenario(pg_analytic, bin_dir, data, queries, ("--storage", "analytic"))
            finally:
                pg_analytic.drop_all()
            for other, results in (("PostgreSQL", pg_results), ("PostgreSQL --storage analytic", analytic_results)):
                for name, got in lite.items():
                    want = results.get(name)
                    if name in ("facts_quarter_discrete", "facts_ttm"):  # SQLite's REAL differences and sums
                        got, want = approximate(got), approximate(want or [])
                    diff = sorted(set(got) ^ set(want or []))[:3]
                    check(got == want, f"{name}: SQLite and {other} differ ({len(got)} vs {len(want or [])} rows), "
                                       f"e.g. {diff}")
        else:
            print("EDGARPIPE_TEST_PG is not set: PostgreSQL part skipped", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict("analyst")


if __name__ == "__main__":
    sys.exit(main())
