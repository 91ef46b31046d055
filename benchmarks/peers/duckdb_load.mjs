// DuckDB's own load of an EDGAR submissions corpus, the peer edgarpipe is measured against
// (benchmarks/peers/compare.py runs it). Two shapes, each into a fresh DuckDB file:
//   raw:        read_json of every main file into one table (DuckDB's nested types, no rows per
//               filing): the least DuckDB does with the files;
//   relational: the tables edgarpipe writes for submissions (companies, company_tickers,
//               former_names, submission_pages, filings from filings.recent and the overflow
//               pages), then the same analyst indexes (docs/tables.md).
// Prints one JSON line: {"shape", "seconds", "rows": {table: n}}.
//
// Usage: PEERS_DIR=DIR node duckdb_load.mjs raw|relational SUBMISSIONS_DIR DB_FILE
// where DIR holds @duckdb/node-api from npm (npm install --prefix DIR @duckdb/node-api), and
// SUBMISSIONS_DIR the main files and overflow pages (no companyfacts files: they are named like
// main files).
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const { DuckDBInstance } = createRequire(`${process.env.PEERS_DIR ?? '.'}/`)('@duckdb/node-api');

const [shape, corpus, dbFile] = process.argv.slice(2);
if (!['raw', 'relational'].includes(shape) || !corpus || !dbFile) {
  console.error('usage: PEERS_DIR=DIR node duckdb_load.mjs raw|relational SUBMISSIONS_DIR DB_FILE');
  process.exit(2);
}
for (const f of [dbFile, dbFile + '.wal']) rmSync(f, { force: true });

const quote = (s) => "'" + s.replaceAll("'", "''") + "'";
// Main files are CIK + 10 digits; overflow pages add -submissions-NNN.
const mainFiles = quote(`${corpus}/**/CIK??????????.json`);
const pageFiles = quote(`${corpus}/**/CIK??????????-submissions-*.json`);
// An explicit schema, as a careful DuckDB user gives it: detecting one with union_by_name ran out
// of memory (18.8 GB) on 10k generated files, and without it took over 10 minutes.
const recent = `STRUCT(accessionNumber VARCHAR[], filingDate VARCHAR[], reportDate VARCHAR[],
  acceptanceDateTime VARCHAR[], act VARCHAR[], form VARCHAR[], fileNumber VARCHAR[], filmNumber VARCHAR[],
  items VARCHAR[], core_type VARCHAR[], size BIGINT[], isXBRL BIGINT[], isInlineXBRL BIGINT[],
  isXBRLNumeric BIGINT[], primaryDocument VARCHAR[], primaryDocDescription VARCHAR[])`;
const mainColumns = `{cik: 'VARCHAR', entityType: 'VARCHAR', sic: 'VARCHAR', sicDescription: 'VARCHAR',
  name: 'VARCHAR', tickers: 'VARCHAR[]', exchanges: 'VARCHAR[]', ein: 'VARCHAR', category: 'VARCHAR',
  fiscalYearEnd: 'VARCHAR', stateOfIncorporation: 'VARCHAR', phone: 'VARCHAR', flags: 'VARCHAR',
  formerNames: 'STRUCT("name" VARCHAR, "from" VARCHAR, "to" VARCHAR)[]',
  filings: 'STRUCT(recent ${recent.replaceAll("'", "''")}, files STRUCT("name" VARCHAR, filingCount BIGINT, filingFrom VARCHAR, filingTo VARCHAR)[])'}`;
const pageColumns = `{${['accessionNumber', 'filingDate', 'reportDate', 'acceptanceDateTime', 'act', 'form', 'fileNumber',
  'filmNumber', 'items', 'core_type', 'primaryDocument', 'primaryDocDescription'].map((c) => `${c}: 'VARCHAR[]'`).join(', ')},
  size: 'BIGINT[]', isXBRL: 'BIGINT[]', isInlineXBRL: 'BIGINT[]', isXBRLNumeric: 'BIGINT[]'}`;
const options = 'format = \'auto\', maximum_object_size = 33554432';

const filingColumns = (from) => `
  unnest(${from}accessionNumber) AS accession_number, unnest(${from}filingDate)::DATE AS filing_date,
  TRY_CAST(unnest(${from}reportDate) AS DATE) AS report_date,
  TRY_CAST(unnest(${from}acceptanceDateTime) AS TIMESTAMP) AS acceptance_datetime, unnest(${from}act) AS act,
  unnest(${from}form) AS form, unnest(${from}fileNumber) AS file_number, unnest(${from}filmNumber) AS film_number,
  unnest(${from}items) AS items, unnest(${from}core_type) AS core_type, unnest(${from}size)::BIGINT AS size,
  unnest(${from}isXBRL)::SMALLINT AS is_xbrl, unnest(${from}isInlineXBRL)::SMALLINT AS is_inline_xbrl,
  unnest(${from}isXBRLNumeric)::SMALLINT AS is_xbrl_numeric,
  unnest(${from}primaryDocument) AS primary_document,
  unnest(${from}primaryDocDescription) AS primary_doc_description`;

const statements = shape === 'raw'
  ? [`CREATE TABLE submissions_raw AS SELECT * FROM read_json(${mainFiles}, ${options}, columns = ${mainColumns})`]
  : [
      `CREATE TABLE main_raw AS SELECT * FROM read_json(${mainFiles}, ${options}, columns = ${mainColumns})`,
      `CREATE TABLE companies AS SELECT cik::BIGINT AS cik, name, entityType AS entity_type, sic,
         sicDescription AS sic_description, ein, category, fiscalYearEnd AS fiscal_year_end,
         stateOfIncorporation AS state_of_incorporation, phone, flags FROM main_raw`,
      `CREATE TABLE company_tickers AS SELECT cik::BIGINT AS cik, unnest(range(len(tickers))) AS ordinal,
         unnest(tickers) AS ticker, unnest(exchanges) AS exchange FROM main_raw`,
      `CREATE TABLE former_names AS SELECT cik::BIGINT AS cik, f.name AS name, TRY_CAST(f."from" AS TIMESTAMP) AS date_from, TRY_CAST(f."to" AS TIMESTAMP) AS date_to
         FROM (SELECT cik, unnest(formerNames) AS f FROM main_raw)`,
      `CREATE TABLE submission_pages AS SELECT cik::BIGINT AS cik, p.name AS name, p.filingCount AS filing_count,
         p.filingFrom::DATE AS filing_from, p.filingTo::DATE AS filing_to FROM (SELECT cik, unnest(filings.files) AS p FROM main_raw)`,
      `CREATE TABLE filings AS SELECT cik::BIGINT AS cik, ${filingColumns('filings.recent.')} FROM main_raw`,
      `INSERT INTO filings BY NAME SELECT regexp_extract(filename, 'CIK([0-9]{10})', 1)::BIGINT AS cik, ${filingColumns('')}
         FROM read_json(${pageFiles}, ${options}, columns = ${pageColumns}, filename = true)`,
      'DROP TABLE main_raw',
      'CREATE INDEX filings_form_date ON filings (form, filing_date)',
      'CREATE INDEX filings_accession ON filings (accession_number)',
      'CREATE INDEX filings_date ON filings (filing_date)',
      'CREATE INDEX company_tickers_ticker ON company_tickers (ticker)',
      'CHECKPOINT',
    ];

const started = process.hrtime.bigint();
const instance = await DuckDBInstance.create(dbFile);
const connection = await instance.connect();
await connection.run('SET preserve_insertion_order = false');  // DuckDB's advice for bulk loads
for (const sql of statements) await connection.run(sql);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const rows = {};
const tables = await connection.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE NOT temporary");
for (const [table] of tables.getRows()) {
  const n = await connection.runAndReadAll(`SELECT count(*) FROM ${table}`);
  rows[table] = Number(n.getRows()[0][0]);
}
console.log(JSON.stringify({ shape, seconds, rows }));
