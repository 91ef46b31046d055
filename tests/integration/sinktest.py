"""Shared by the Python end-to-end tests: the sinks they check (a fresh database per load, tables
dumped in key order, so two loads compare row for row) and a failure list.

PostgreSQL databases are made with psql on the server EDGARPIPE_TEST_PG names.
"""
import os
import sqlite3
import subprocess
import sys
import urllib.parse

TABLES = {
    "companies": "cik", "company_tickers": "cik, ordinal", "former_names": "cik, ordinal",
    "submission_pages": "cik, name", "filings": "cik, accession_number", "entities": "cik",
    "concepts": "taxonomy, concept",
    "facts": "cik, taxonomy, concept, unit, period_start, period_end, accession_number",
    "ingest_files": "dataset, cik, page, source_file",
}
# What two loads of the same documents share in ingest_files (not where they were read from).
INGEST_COLUMNS = "dataset, cik, page, source_file, content_hash, status, rows"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


class Sqlite:
    name = "SQLite"

    def __init__(self, work):
        self.work, self.n = work, 0

    def fresh(self):
        self.n += 1
        return "sqlite:" + os.path.join(self.work, f"db{self.n}.sqlite")

    def query(self, url, sql):
        db = sqlite3.connect(url[len("sqlite:"):])
        rows = [tuple(r) for r in db.execute(sql)]
        db.commit()
        db.close()
        return rows

    def dump(self, url, table):
        cols = INGEST_COLUMNS if table == "ingest_files" else "*"
        return self.query(url, f"SELECT {cols} FROM {table} ORDER BY {TABLES[table]}")


class Postgres:
    name = "PostgreSQL"

    def __init__(self, base, prefix):
        self.base, self.prefix, self.n = base, prefix, 0

    def psql(self, url, sql):
        out = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                             capture_output=True, text=True, check=True)
        return out.stdout

    def fresh(self):
        self.n += 1
        name = f"{self.prefix}_{os.getpid()}_{self.n}"
        self.psql(self.base, f"DROP DATABASE IF EXISTS {name}")
        self.psql(self.base, f"CREATE DATABASE {name}")
        parts = urllib.parse.urlsplit(self.base)
        return urllib.parse.urlunsplit(parts._replace(path="/" + name))

    def query(self, url, sql):
        return [tuple(line.split("|")) for line in self.psql(url, sql).splitlines()]

    def dump(self, url, table):
        cols = INGEST_COLUMNS if table == "ingest_files" else "*"
        return self.psql(url, f"SELECT {cols} FROM {table} ORDER BY {TABLES[table]}").splitlines()

    def drop_all(self):
        for i in range(1, self.n + 1):
            self.psql(self.base, f"DROP DATABASE IF EXISTS {self.prefix}_{os.getpid()}_{i}")


def on_every_sink(work, prefix, scenario):
    """Runs scenario(sink) on SQLite, and on PostgreSQL when EDGARPIPE_TEST_PG is set (its
    databases dropped afterwards)."""
    scenario(Sqlite(work))
    if not os.environ.get("EDGARPIPE_TEST_PG"):
        print("EDGARPIPE_TEST_PG is not set: PostgreSQL part skipped", file=sys.stderr)
        return
    pg = Postgres(os.environ["EDGARPIPE_TEST_PG"], prefix)
    try:
        scenario(pg)
    finally:
        pg.drop_all()


def verdict(name, hint=""):
    """The exit status of a test script: 1 with a count of failed checks, else 0."""
    if failures:
        print(f"{len(failures)} check(s) failed{hint}", file=sys.stderr)
        return 1
    print(f"{name}: all checks passed")
    return 0
