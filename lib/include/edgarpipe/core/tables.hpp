// The output tables of ../shared/edgar-tables.md, in code: every sink creates and loads exactly
// these columns in this order, and parsers emit row values in this order.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgarpipe {

enum class ColumnType : std::uint8_t { kBigInt, kSmallInt, kInt, kText, kDate, kTimestamp, kDecimal };

struct Column {
  std::string_view name;
  ColumnType type;
  bool not_null;
};

// Data tables filled from input files. The bookkeeping tables (ingest_files, ingest_runs) are
// written by sinks directly and are not row-batch tables.
enum class TableId : std::uint8_t {
  kCompanies = 0,
  kCompanyTickers,
  kFormerNames,
  kSubmissionPages,
  kFilings,
  kEntities,
  kConcepts,
  kFacts,
};
inline constexpr std::size_t kTableCount = 8;

struct TableDef {
  TableId id;
  std::string_view name;
  std::span<const Column> columns;
  std::span<const std::string_view> key;
  // Rows that may legitimately repeat across files and are kept once (concepts).
  bool ignore_duplicates;
};

const TableDef& table_def(TableId id) noexcept;
std::span<const TableDef> all_tables() noexcept;

// The bookkeeping tables, written by sinks directly (never through row batches).
std::span<const Column> ingest_files_columns() noexcept;
std::span<const Column> ingest_runs_columns() noexcept;  // run_id first: the dialect's serial key

// What differs between SQL dialects in the contract's DDL.
struct SqlDialect {
  // A column's type; the table and column let a dialect size text (SQL Server keys need bounds).
  std::string (*type_name)(ColumnType type, std::string_view table, std::string_view column);
  std::string_view facts_period_start;  // key expression treating a NULL period_start as a value
  std::string_view serial_primary_key;  // an auto-numbered BIGINT primary key (ingest_runs.run_id)
  // "CREATE TABLE IF NOT EXISTS t" or the dialect's equivalent guard.
  std::string (*create_table)(std::string_view table);
  // "CREATE UNIQUE INDEX IF NOT EXISTS i ON t" or the dialect's equivalent guard.
  std::string (*create_unique_index)(std::string_view index, std::string_view table);
  // A unique index's filter that leaves rows with a NULL key out, where the dialect's unique
  // indexes would otherwise take NULLs as equal (SQL Server); empty elsewhere.
  std::string_view keyed_rows_only = {};
  // Closes what create_table opened, after the table's indexes: a dialect without IF NOT EXISTS
  // for indexes creates them with their table, in one guarded block (SQL Server: "END;").
  std::string_view end_table = {};
  // --storage analytic (docs/tables.md, "Storage"): appended to the facts table's definition
  // ("PARTITION BY HASH (cik)"), and statements after it, before its key index (its partitions,
  // a clustered columnstore index).
  std::string facts_table_suffix = {};
  std::string facts_storage_ddl = {};
};
std::string create_table_if_absent(std::string_view table);  // the standard forms, for PostgreSQL
std::string create_unique_index_if_absent(std::string_view index, std::string_view table);  // and SQLite

// Creates every data and bookkeeping table absent from the database, with the contract's keys.
std::string contract_ddl(const SqlDialect& dialect);
// The CHECK condition on a bookkeeping column ("status IN ('loaded', 'rejected')"), or "".
std::string_view column_check(std::string_view table, std::string_view column) noexcept;

// The analyst layer (docs/tables.md, "Indexes and views"): what differs between the sinks' SQL.
enum class SqlFlavor : std::uint8_t { kSqlite, kPostgres, kMssql };

// A contract column's type in a dialect's DDL: SQLite's storage classes (dates and timestamps as
// ISO-8601 TEXT, decimals NUMERIC); PostgreSQL's types; SQL Server's, where text is "NVARCHAR"
// here and the sink sizes it (mssql::text_width) or makes it UTF-8 VARCHAR (text=utf8).
std::string_view sql_type_name(ColumnType type, SqlFlavor flavor) noexcept;

// How the facts table is stored (--storage; docs/tables.md, "Storage"). Chosen when a database
// is created; later runs keep what the database has.
enum class Storage : std::uint8_t {
  kRow,       // a plain table (heap, rowid table) with a unique key index
  kAnalytic,  // PostgreSQL: hash-partitioned by cik; SQL Server: a clustered columnstore index
};
inline constexpr std::uint32_t kFactsPartitions = 16;  // PostgreSQL's hash partitions under kAnalytic

struct SecondaryIndex {
  std::string_view name, table, columns;
  std::string_view serves;  // the question it answers, for the docs and `edgarpipe schema`
  // SQLite answers this index's question as fast from another one by a skip-scan (the planner's
  // statistics, made after the build, tell it how): it is not built there.
  bool skip_scan_on_sqlite = false;
};
// Indexes beyond the contract's keys, built after a fresh database's first load and kept after:
// those that pay for their build in a dialect (docs/performance.md measured each).
std::vector<SecondaryIndex> secondary_indexes(SqlFlavor flavor);
std::string create_secondary_index_sql(const SecondaryIndex& index, SqlFlavor flavor);
// The views, one statement each (SQL Server takes a CREATE VIEW alone in its batch): dropped and
// created again, so a newer release's definitions replace older ones.
std::vector<std::string> view_sql(SqlFlavor flavor);

// The rows statement_lines is seeded with (lib/core/statement_lines.csv, compiled in): one INSERT,
// run by the sinks when the table is empty.
std::string statement_lines_seed_sql();

// `edgarpipe asof`: the statements that replace the table facts_asof with each period's value
// as known on `date` (a checked YYYY-MM-DD): of the versions filed on or before it, the latest
// (filed, then accession number), with an `as_of` column; facts of unknown filing date left out.
std::vector<std::string> facts_asof_sql(SqlFlavor flavor, std::string_view date);

// `edgarpipe frame`: the SEC's frames API (api/xbrl/frames/TAXONOMY/CONCEPT/UNIT/PERIOD.json)
// answered from facts. The SEC gives at most one fact per filer, concept and unit each calendar
// frame (`CY2024` a year, `CY2024Q3` a quarter, `CY2024Q3I` an instant); this is that fact for
// every filer, with the filer's name.
struct FrameQuery {
  std::string taxonomy, concept_name, unit, frame;
};
// From the command's words: `us-gaap:Assets`, a unit as companyfacts writes it (`USD/shares`; the
// API's `USD-per-shares` is taken too) and a frame. Throws std::invalid_argument saying which
// word is wrong and what is expected; what it returns holds no quote and is safe in SQL text.
FrameQuery parse_frame_query(std::string_view taxonomy_concept, std::string_view unit, std::string_view frame);
// Columns: cik, entity_name, accession_number, period_start, period_end, value, form, filed;
// by cik. Where a filer's facts give the frame twice (two loads' worth of the same filer cannot:
// one file per filer), the latest filed.
std::string frame_sql(const FrameQuery& query);

enum class Dataset : std::uint8_t { kUnknown = 0, kSubmissions = 1, kCompanyfacts = 2 };
std::string_view dataset_name(Dataset d) noexcept;
Dataset dataset_from_name(std::string_view name) noexcept;  // kUnknown for any other name

// Column indexes the parsers write by name (kept in sync with tables.cpp by a unit test).
namespace filings_col {
enum : std::uint8_t {
  cik,
  accession_number,
  filing_date,
  report_date,
  acceptance_datetime,
  act,
  form,
  file_number,
  film_number,
  items,
  core_type,
  size,
  is_xbrl,
  is_inline_xbrl,
  is_xbrl_numeric,
  primary_document,
  primary_doc_description,
  count_
};
}

}  // namespace edgarpipe
