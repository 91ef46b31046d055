#include "edgarpipe/core/tables.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <initializer_list>
#include <utility>
#include <vector>

namespace edgarpipe {
namespace {

using T = ColumnType;

// Address columns: the same ten fields for `mailing_` and `business_`.
#define EDGARPIPE_ADDRESS(prefix)                                                                                    \
  Column{prefix "street1", T::kText, false}, Column{prefix "street2", T::kText, false},                              \
      Column{prefix "city", T::kText, false}, Column{prefix "state_or_country", T::kText, false},                    \
      Column{prefix "zip_code", T::kText, false}, Column{prefix "state_or_country_description", T::kText, false},    \
      Column{prefix "is_foreign_location", T::kSmallInt, false},                                                     \
      Column{prefix "foreign_state_territory", T::kText, false}, Column{prefix "country", T::kText, false}, Column { \
    prefix "country_code", T::kText, false                                                                           \
  }

constexpr Column kCompanies[] = {
    {"cik", T::kBigInt, true},
    {"name", T::kText, false},
    {"entity_type", T::kText, false},
    {"sic", T::kText, false},
    {"sic_description", T::kText, false},
    {"owner_org", T::kText, false},
    {"insider_transaction_for_owner_exists", T::kSmallInt, false},
    {"insider_transaction_for_issuer_exists", T::kSmallInt, false},
    {"ein", T::kText, false},
    {"lei", T::kText, false},
    {"description", T::kText, false},
    {"website", T::kText, false},
    {"investor_website", T::kText, false},
    {"category", T::kText, false},
    {"fiscal_year_end", T::kText, false},
    {"state_of_incorporation", T::kText, false},
    {"state_of_incorporation_description", T::kText, false},
    {"phone", T::kText, false},
    {"flags", T::kText, false},
    EDGARPIPE_ADDRESS("mailing_"),
    EDGARPIPE_ADDRESS("business_"),
};
#undef EDGARPIPE_ADDRESS

constexpr Column kCompanyTickers[] = {
    {"cik", T::kBigInt, true}, {"ordinal", T::kInt, true}, {"ticker", T::kText, false}, {"exchange", T::kText, false}};
constexpr Column kFormerNames[] = {{"cik", T::kBigInt, true},
                                   {"ordinal", T::kInt, true},
                                   {"name", T::kText, false},
                                   {"date_from", T::kTimestamp, false},
                                   {"date_to", T::kTimestamp, false}};
constexpr Column kSubmissionPages[] = {{"cik", T::kBigInt, true},
                                       {"name", T::kText, true},
                                       {"filing_count", T::kBigInt, false},
                                       {"filing_from", T::kDate, false},
                                       {"filing_to", T::kDate, false}};
constexpr Column kFilings[] = {
    {"cik", T::kBigInt, true},
    {"accession_number", T::kText, true},
    {"filing_date", T::kDate, false},
    {"report_date", T::kDate, false},
    {"acceptance_datetime", T::kTimestamp, false},
    {"act", T::kText, false},
    {"form", T::kText, false},
    {"file_number", T::kText, false},
    {"film_number", T::kText, false},
    {"items", T::kText, false},
    {"core_type", T::kText, false},
    {"size", T::kBigInt, false},
    {"is_xbrl", T::kSmallInt, false},
    {"is_inline_xbrl", T::kSmallInt, false},
    {"is_xbrl_numeric", T::kSmallInt, false},
    {"primary_document", T::kText, false},
    {"primary_doc_description", T::kText, false},
};
constexpr Column kEntities[] = {{"cik", T::kBigInt, true}, {"entity_name", T::kText, false}};
constexpr Column kConcepts[] = {{"taxonomy", T::kText, true},
                                {"concept", T::kText, true},
                                {"label", T::kText, false},
                                {"description", T::kText, false}};
constexpr Column kFacts[] = {
    {"cik", T::kBigInt, true},         {"taxonomy", T::kText, true},
    {"concept", T::kText, true},       {"unit", T::kText, true},
    {"period_start", T::kDate, false}, {"period_end", T::kDate, true},
    {"value", T::kDecimal, false},     {"accession_number", T::kText, true},
    {"fiscal_year", T::kInt, false},   {"fiscal_period", T::kText, false},
    {"form", T::kText, false},         {"filed", T::kDate, false},
    {"frame", T::kText, false},
};

constexpr std::string_view kKeyCik[] = {"cik"};
constexpr std::string_view kKeyCikOrdinal[] = {"cik", "ordinal"};
constexpr std::string_view kKeyCikName[] = {"cik", "name"};
constexpr std::string_view kKeyFilings[] = {"cik", "accession_number"};
constexpr std::string_view kKeyConcepts[] = {"taxonomy", "concept"};
constexpr std::string_view kKeyFacts[] = {"cik",          "taxonomy",   "concept",         "unit",
                                          "period_start", "period_end", "accession_number"};

constexpr TableDef kTables[kTableCount] = {
    {TableId::kCompanies, "companies", kCompanies, kKeyCik, false},
    {TableId::kCompanyTickers, "company_tickers", kCompanyTickers, kKeyCikOrdinal, false},
    {TableId::kFormerNames, "former_names", kFormerNames, kKeyCikOrdinal, false},
    {TableId::kSubmissionPages, "submission_pages", kSubmissionPages, kKeyCikName, false},
    {TableId::kFilings, "filings", kFilings, kKeyFilings, false},
    {TableId::kEntities, "entities", kEntities, kKeyCik, false},
    {TableId::kConcepts, "concepts", kConcepts, kKeyConcepts, true},
    {TableId::kFacts, "facts", kFacts, kKeyFacts, false},
};

// Keyed by (dataset, cik, page): cik and page are NULL only for a document whose filer cannot be
// known, recorded under its source_path.
constexpr Column kIngestFiles[] = {
    {"dataset", T::kText, true},         {"cik", T::kBigInt, false},      {"page", T::kInt, false},
    {"source_file", T::kText, true},     {"source_path", T::kText, true}, {"bytes", T::kBigInt, false},
    {"content_hash", T::kText, false},   {"status", T::kText, true},      {"rows", T::kBigInt, false},
    {"error", T::kText, false},          {"run_id", T::kBigInt, false},   {"loaded_at", T::kTimestamp, false},
    {"source_stamp", T::kBigInt, false},  // InputFile::source_stamp (sources.hpp); last: added in schema 3
};
// statement_lines (docs/tables.md): which concepts make each line of the standard statements, in
// order of preference; seeded from statement_lines.csv, the user's to edit.
constexpr Column kStatementLines[] = {
    {"statement", T::kText, true}, {"line", T::kText, true},     {"line_order", T::kInt, true},
    {"priority", T::kInt, true},   {"taxonomy", T::kText, true}, {"concept", T::kText, true},
    {"sign", T::kSmallInt, true},
};
constexpr Column kIngestRuns[] = {
    {"run_id", T::kBigInt, true},          {"started_at", T::kTimestamp, true},
    {"finished_at", T::kTimestamp, false}, {"status", T::kText, true},
    {"sources", T::kText, false},          {"sink", T::kText, false},
    {"files_seen", T::kBigInt, false},     {"files_loaded", T::kBigInt, false},
    {"files_skipped", T::kBigInt, false},  {"files_rejected", T::kBigInt, false},
    {"rows_written", T::kBigInt, false},   {"readers", T::kInt, false},
    {"parsers", T::kInt, false},           {"writers", T::kInt, false},
};

}  // namespace

const TableDef& table_def(TableId id) noexcept { return kTables[static_cast<std::size_t>(id)]; }
std::span<const TableDef> all_tables() noexcept { return kTables; }

std::span<const Column> ingest_files_columns() noexcept { return kIngestFiles; }
std::span<const Column> ingest_runs_columns() noexcept { return kIngestRuns; }

std::string create_table_if_absent(std::string_view table) {
  return fmt::format("CREATE TABLE IF NOT EXISTS {}", table);
}
std::string create_unique_index_if_absent(std::string_view index, std::string_view table) {
  return fmt::format("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {}", index, table);
}

std::string_view column_check(std::string_view table, std::string_view column) noexcept {
  if (column != "status") return {};
  if (table == "ingest_files") return "status IN ('loaded', 'rejected')";
  if (table == "ingest_runs") return "status IN ('running', 'completed', 'failed', 'interrupted')";
  return {};
}

std::string contract_ddl(const SqlDialect& d) {
  std::string sql;
  const auto columns = [&](std::string_view table, std::span<const Column> cols, std::size_t first) {
    for (std::size_t i = first; i < cols.size(); ++i) {
      const Column& c = cols[i];
      sql += fmt::format("  {} {}{}", c.name, d.type_name(c.type, table, c.name), c.not_null ? " NOT NULL" : "");
      if (const std::string_view check = column_check(table, c.name); !check.empty())
        sql += fmt::format(" CHECK ({})", check);
      sql += ",\n";
    }
  };
  for (const TableDef& t : all_tables()) {
    sql += d.create_table(t.name) + " (\n";
    columns(t.name, t.columns, 0);
    if (t.id == TableId::kFacts) {
      sql.resize(sql.size() - 2);
      sql += "\n)" + d.facts_table_suffix + ";\n" + d.facts_storage_ddl;
      sql += fmt::format("{} (cik, taxonomy, concept, unit, {}, period_end, accession_number);\n",
                         d.create_unique_index("facts_key", "facts"), d.facts_period_start);
    } else {
      std::string key;
      for (auto k : t.key) key += (key.empty() ? "" : ", ") + std::string(k);
      sql += fmt::format("  PRIMARY KEY ({})\n);\n", key);
    }
    sql += d.end_table;
  }
  sql += d.create_table("statement_lines") + " (\n";
  columns("statement_lines", kStatementLines, 0);
  sql += "  PRIMARY KEY (statement, line, priority)\n);\n";
  sql += d.end_table;
  // The schema version first among the bookkeeping tables: an upgrade reads it.
  sql += d.create_table("edgarpipe_schema") + " (\n  version INT NOT NULL\n);\n";
  sql += d.end_table;
  // The secondary indexes built so far (a portable guard: SQL Server has no CREATE INDEX IF NOT
  // EXISTS, and its index names are not the same under Babelfish).
  sql += d.create_table("edgarpipe_indexes") + " (\n  name VARCHAR(128) NOT NULL,\n  PRIMARY KEY (name)\n);\n";
  sql += d.end_table;
  sql += d.create_table("ingest_files") + " (\n";
  columns("ingest_files", kIngestFiles, 0);
  sql.resize(sql.size() - 2);
  sql += "\n);\n";
  sql += fmt::format("{} (dataset, cik, page){};\n", d.create_unique_index("ingest_files_key", "ingest_files"),
                     d.keyed_rows_only);
  sql += d.end_table;
  sql += d.create_table("ingest_runs") + fmt::format(" (\n  run_id {},\n", d.serial_primary_key);
  columns("ingest_runs", kIngestRuns, 1);
  sql.resize(sql.size() - 2);
  sql += "\n);\n";
  sql += d.end_table;
  return sql;
}

namespace {

constexpr SecondaryIndex kSecondaryIndexes[] = {
    {"facts_concept_frame", "facts", "taxonomy, concept, unit, frame",
     "one concept across all companies for a calendar period (facts_annual, facts_quarterly)"},
    {"facts_accession", "facts", "accession_number", "the facts a filing reported (a join to filings)"},
    {"filings_form_date", "filings", "form, filing_date", "filings of a form in a date range"},
    {"filings_accession", "filings", "accession_number", "a filing by its accession number"},
    {"filings_date", "filings", "filing_date", "everything filed in a date range", true},
    {"company_tickers_ticker", "company_tickers", "ticker", "ticker to CIK (ticker_lookup)"},
};

// facts' columns as a view selects them from `facts f`.
constexpr std::string_view kFactColumns =
    "f.cik, f.taxonomy, f.concept, f.unit, f.period_start, f.period_end, f.value, f.accession_number, "
    "f.fiscal_year, f.fiscal_period, f.form, f.filed, f.frame";

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

// a || b || ... in the flavor's syntax, every part text already.
std::string concat(SqlFlavor f, std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const std::string_view p : parts)
    out += (out.empty() ? "" : f == SqlFlavor::kMssql ? " + " : " || ") + std::string(p);
  return out;
}

}  // namespace

std::vector<SecondaryIndex> secondary_indexes(SqlFlavor flavor) {
  std::vector<SecondaryIndex> built;
  for (const SecondaryIndex& index : kSecondaryIndexes)
    if (!(index.skip_scan_on_sqlite && flavor == SqlFlavor::kSqlite)) built.push_back(index);
  return built;
}

std::string create_secondary_index_sql(const SecondaryIndex& i, SqlFlavor flavor) {
  return fmt::format("CREATE INDEX {}{} ON {} ({})", flavor == SqlFlavor::kMssql ? "" : "IF NOT EXISTS ", i.name,
                     i.table, i.columns);
}

std::vector<std::string> view_sql(SqlFlavor f) {
  const bool mssql = f == SqlFlavor::kMssql;
  const std::string substr = mssql ? "SUBSTRING" : "substr";
  const std::string cik_text = mssql ? "CAST(f.cik AS NVARCHAR(20))" : "CAST(f.cik AS TEXT)";
  const std::string folder = concat(f, {"'https://www.sec.gov/Archives/edgar/data/'", cik_text, "'/'",
                                        "REPLACE(f.accession_number, '-', '')", "'/'"});
  const std::string_view fact_columns = kFactColumns;
  // facts with each row's place among the versions of its period (its own view's subquery in
  // each view that needs it: PostgreSQL cannot drop a view that another view reads).
  const std::string fact_versions = fmt::format(
      "SELECT {0}, ROW_NUMBER() OVER (PARTITION BY {1} ORDER BY CASE WHEN f.filed IS NULL THEN 0 ELSE 1 END, f.filed, "
      "f.accession_number) AS version_no, COUNT(*) OVER (PARTITION BY {1}) AS versions FROM facts f",
      fact_columns, "f.cik, f.taxonomy, f.concept, f.unit, f.period_start, f.period_end");
  const std::string latest = fmt::format(
      "SELECT {0} FROM (SELECT {0}, ROW_NUMBER() OVER (PARTITION BY f.cik, f.taxonomy, f.concept, "
      "f.unit, f.period_start, f.period_end ORDER BY CASE WHEN f.filed IS NULL THEN 1 ELSE 0 END, "
      "f.filed DESC, f.accession_number DESC) AS latest FROM facts f) f WHERE f.latest = 1",
      fact_columns);
  // Discrete quarters from the latest durations: a quarter-long fact as reported; otherwise a
  // year-to-date value less the same year's one a quarter shorter (Q2 = H1 - Q1, Q3 = 9M - H1,
  // Q4 = FY - 9M), for amounts that add up: a currency (three capitals: USD, EUR) or shares, not
  // per-share values, ratios or years. Lengths in days with room for 52/53-week years: a quarter
  // 80-100, so the shorter one ends 80-100 days earlier.
  const auto days = [&](std::string_view from, std::string_view to) {
    return f == SqlFlavor::kSqlite  ? fmt::format("CAST(julianday({}) - julianday({}) AS INTEGER)", to, from)
           : f == SqlFlavor::kMssql ? fmt::format("DATEDIFF(day, {}, {})", from, to)
                                    : fmt::format("({} - {})", to, from);
  };
  const auto day_after = [&](std::string_view date) {
    return f == SqlFlavor::kSqlite  ? fmt::format("date({}, '+1 day')", date)
           : f == SqlFlavor::kMssql ? fmt::format("DATEADD(day, 1, {})", date)
                                    : fmt::format("({} + 1)", date);
  };
  // One pass over the latest durations, windows instead of self-joins (plans stay linear in
  // every dialect): each duration's predecessor of the same start (the year-to-date value a
  // quarter shorter, if that is what it is), and whether a quarter-long value ends where it does.
  const std::string series = "d.cik, d.taxonomy, d.concept, d.unit";
  std::string previous;  // each LAG over the durations of the same start, in order of end
  for (const std::string_view column : {"period_end", "value", "accession_number", "days"})
    previous += fmt::format("LAG(d.{0}) OVER (PARTITION BY {1}, d.period_start ORDER BY d.period_end) AS prev_{2}, ",
                            column, series,
                            column == "accession_number" ? "accession"
                            : column == "period_end"     ? "end"
                                                         : column);
  const std::string durations = fmt::format(
      "SELECT d.*, {0}MAX(CASE WHEN d.days BETWEEN 80 AND 100 THEN 1 ELSE 0 END) OVER (PARTITION BY {1}, "
      "d.period_end) AS quarter_reported FROM (SELECT l.cik, l.taxonomy, l.concept, l.unit, l.period_start, "
      "l.period_end, l.value, l.accession_number, l.fiscal_year, {2} AS days FROM ({3}) l WHERE l.period_start IS NOT "
      "NULL) d",
      previous, series, days("l.period_start", "l.period_end"), latest);
  // Amounts that add up: a currency (three capitals: USD, EUR) or shares.
  const std::string additive = "(q.unit = 'shares' OR (q.unit LIKE '___' AND q.unit = UPPER(q.unit)))";
  const std::string reported = "q.days BETWEEN 80 AND 100";
  const std::string quarter_discrete = fmt::format(
      "SELECT q.cik, q.taxonomy, q.concept, q.unit, CASE WHEN {0} THEN q.period_start ELSE {1} END AS period_start, "
      "q.period_end, CASE WHEN {0} THEN q.value ELSE q.value - q.prev_value END AS value, q.fiscal_year, CASE WHEN {0} "
      "THEN 'reported' ELSE 'derived' END AS method, CASE WHEN {0} THEN q.accession_number ELSE {2} END AS "
      "derived_from FROM ({3}) q WHERE {0} OR (q.days >= 170 AND q.quarter_reported = 0 AND q.prev_days >= 80 AND {4} "
      "BETWEEN 80 AND 100 AND q.value IS NOT NULL AND q.prev_value IS NOT NULL AND {5})",
      reported, day_after("q.prev_end"), concat(f, {"q.accession_number", "' - '", "q.prev_accession"}), durations,
      days("q.prev_end", "q.period_end"), additive);
  // Trailing twelve months: a discrete quarter with the three before it in its series, when the
  // four span a year (350-380 days: no quarter missing), for amounts that add up and per-share
  // amounts (EPS over four quarters); one quarter per end day (the shortest, if two were reported).
  // An instant is its own value.
  const std::string ttm_frame =
      "PARTITION BY t.cik, t.taxonomy, t.concept, t.unit ORDER BY t.period_end ROWS "
      "BETWEEN 3 PRECEDING AND CURRENT ROW";
  const std::string one_per_end = fmt::format(
      "SELECT o.* FROM (SELECT q.*, ROW_NUMBER() OVER (PARTITION BY q.cik, q.taxonomy, q.concept, q.unit, "
      "q.period_end ORDER BY q.period_start DESC) AS nth FROM ({}) q WHERE {} OR q.unit LIKE '%/shares') o WHERE "
      "o.nth = 1",
      quarter_discrete, additive);
  const std::string ttm = fmt::format(
      "SELECT w.cik, w.taxonomy, w.concept, w.unit, w.first_start AS period_start, w.period_end, w.total AS value, "
      "'duration' AS kind FROM (SELECT t.cik, t.taxonomy, t.concept, t.unit, t.period_end, SUM(t.value) OVER ({0}) AS "
      "total, COUNT(t.value) OVER ({0}) AS quarters, MIN(t.period_start) OVER ({0}) AS first_start FROM ({1}) t) w "
      "WHERE w.quarters = 4 AND {2} BETWEEN 350 AND 380 "
      "UNION ALL SELECT l.cik, l.taxonomy, l.concept, l.unit, l.period_start, l.period_end, l.value, 'instant' AS kind "
      "FROM ({3}) l WHERE l.period_start IS NULL",
      ttm_frame, one_per_end, days("w.first_start", "w.period_end"), latest);
  // The standard statements: per filer and fiscal period of its 10-K and 10-Q reports (and their
  // amendments), each statement_lines line's value from its most preferred concept the report
  // gives for its own period (not a prior-year column): its period ends on the report's date
  // (filings.report_date, else the latest end among the report's us-gaap facts). Balance sheet:
  // instants; income statement: the year, or the quarter's three months; cash flow: the year, or
  // the year to date (the longest). An amendment's value comes before the original's.
  const auto statement_view = [&](std::string_view statement) {
    const bool balance = statement == "balance_sheet", cash = statement == "cash_flow";
    const std::string length = days("f.period_start", "f.period_end");
    const std::string period =
        balance ? std::string("f.period_start IS NULL")
                : fmt::format(
                      "f.period_start IS NOT NULL AND ((f.fiscal_period = 'FY' AND {0} BETWEEN 350 AND 380) OR "
                      "(f.fiscal_period <> 'FY' AND {0} BETWEEN 80 AND {1}))",
                      length, cash ? 280 : 100);
    return fmt::format(
        "SELECT s.cik, s.fiscal_year, s.fiscal_period, s.period_start, s.period_end, s.line, s.line_order, s.value, "
        "s.unit, s.taxonomy, s.concept, s.accession_number, s.form, s.filed FROM (SELECT f.cik, f.fiscal_year, "
        "f.fiscal_period, f.period_start, f.period_end, l.line, l.line_order, f.value * l.sign AS value, f.unit, "
        "f.taxonomy, f.concept, f.accession_number, f.form, f.filed, ROW_NUMBER() OVER (PARTITION BY f.cik, "
        "f.fiscal_year, f.fiscal_period, l.line ORDER BY l.priority, {0}CASE WHEN f.filed IS NULL THEN 0 ELSE 1 END "
        "DESC, f.filed DESC, f.accession_number DESC, f.unit) AS pick FROM facts f JOIN statement_lines l ON "
        "l.statement = '{1}' AND l.taxonomy = f.taxonomy AND l.concept = f.concept JOIN (SELECT cik, "
        "accession_number, MAX(period_end) AS own_end FROM facts WHERE taxonomy = 'us-gaap' GROUP BY cik, "
        "accession_number) o ON o.cik = f.cik AND o.accession_number = f.accession_number LEFT JOIN filings g ON "
        "g.cik = f.cik AND g.accession_number = f.accession_number WHERE f.form IN ('10-K', '10-K/A', '10-Q', "
        "'10-Q/A') AND f.fiscal_year IS NOT NULL AND f.fiscal_period IS NOT NULL AND f.period_end = "
        "COALESCE(g.report_date, o.own_end) AND {2}) s WHERE s.pick = 1",
        cash ? length + " DESC, " : "", statement, period);
  };
  const std::vector<std::pair<std::string, std::string>> views = {
      // The SEC's frame picks one fact per company, concept, unit and calendar period.
      {"facts_annual", fmt::format("SELECT f.cik, f.taxonomy, f.concept, f.unit, CAST({}(f.frame, 3, 4) AS INTEGER) "
                                   "AS calendar_year, f.period_start, f.period_end, f.value, f.accession_number, "
                                   "f.form, f.filed, f.frame FROM facts f WHERE f.frame LIKE 'CY____'",
                                   substr)},
      {"facts_quarterly",
       fmt::format("SELECT f.cik, f.taxonomy, f.concept, f.unit, CAST({0}(f.frame, 3, 4) AS INTEGER) AS calendar_year, "
                   "CAST({0}(f.frame, 8, 1) AS INTEGER) AS calendar_quarter, CASE WHEN f.frame LIKE '%I' THEN 1 "
                   "ELSE 0 END AS instant, f.period_start, f.period_end, f.value, f.accession_number, f.form, "
                   "f.filed, f.frame FROM facts f WHERE f.frame LIKE 'CY____Q_' OR f.frame LIKE 'CY____Q_I'",
                   substr)},
      // Restatements resolved: per period, the value of the latest filing.
      {"facts_latest", latest},
      // Every version of a period's value, in the order the filings reported it (a NULL filed
      // first: facts_latest takes it last), and whether a version is a prior-period column of its
      // filing (its period ends before the filing's own, filings.report_date; NULL without it).
      {"facts_versions",
       fmt::format("SELECT {0}, v.version_no, v.versions, CASE WHEN v.version_no = 1 THEN 1 ELSE 0 END AS "
                   "is_first_reported, CASE WHEN v.version_no = v.versions THEN 1 ELSE 0 END AS is_latest, CASE WHEN "
                   "g.report_date IS NULL THEN NULL WHEN v.period_end < g.report_date THEN 1 ELSE 0 END AS "
                   "is_comparative FROM ({1}) v LEFT JOIN filings g ON g.cik = v.cik AND g.accession_number = "
                   "v.accession_number",
                   replace_all(std::string(fact_columns), "f.", "v."), fact_versions)},
      // Point in time: each period's value as first reported (backtests use it, not the latest).
      {"facts_first_reported", fmt::format("SELECT {} FROM ({}) v WHERE v.version_no = 1",
                                           replace_all(std::string(fact_columns), "f.", "v."), fact_versions)},
      {"facts_quarter_discrete", quarter_discrete},
      {"facts_ttm", ttm},
      {"filing_documents",
       fmt::format("SELECT f.cik, f.accession_number, f.form, f.filing_date, f.report_date, f.acceptance_datetime, "
                   "f.primary_document, {} AS index_url, CASE WHEN f.primary_document IS NULL OR "
                   "f.primary_document = '' THEN NULL ELSE {} END AS document_url FROM filings f",
                   concat(f, {folder, "f.accession_number", "'-index.htm'"}),
                   concat(f, {folder, "f.primary_document"}))},
      {"ticker_lookup",
       "SELECT t.ticker, t.exchange, t.cik, c.name FROM company_tickers t JOIN companies c ON c.cik = t.cik"},
      {"income_statement", statement_view("income_statement")},
      {"balance_sheet", statement_view("balance_sheet")},
      {"cash_flow", statement_view("cash_flow")},
  };
  std::vector<std::string> sql;
  for (const auto& [name, body] : views) {
    sql.push_back(fmt::format("DROP VIEW IF EXISTS {}", name));
    sql.push_back(fmt::format("CREATE VIEW {} AS {}", name, body));
  }
  return sql;
}

std::vector<std::string> facts_asof_sql(SqlFlavor f, std::string_view date) {
  const std::string day = f == SqlFlavor::kSqlite ? fmt::format("'{}'", date) : fmt::format("CAST('{}' AS DATE)", date);
  const std::string_view columns = kFactColumns;
  const std::string known = fmt::format(
      "SELECT {0}, ROW_NUMBER() OVER (PARTITION BY f.cik, f.taxonomy, f.concept, f.unit, f.period_start, f.period_end "
      "ORDER BY f.filed DESC, f.accession_number DESC) AS newest FROM facts f WHERE f.filed <= {1}",
      columns, day);
  const std::string picked = replace_all(std::string(columns), "f.", "k.") + ", " + day + " AS as_of";
  std::vector<std::string> sql;
  if (f == SqlFlavor::kMssql) {
    sql.push_back("IF OBJECT_ID(N'facts_asof', N'U') IS NOT NULL DROP TABLE facts_asof");
    sql.push_back(fmt::format("SELECT {} INTO facts_asof FROM ({}) k WHERE k.newest = 1", picked, known));
  } else {
    sql.push_back("DROP TABLE IF EXISTS facts_asof");
    sql.push_back(fmt::format("CREATE TABLE facts_asof AS SELECT {} FROM ({}) k WHERE k.newest = 1", picked, known));
  }
  sql.push_back("CREATE INDEX facts_asof_concept ON facts_asof (cik, taxonomy, concept, unit)");
  return sql;
}

std::string statement_lines_seed_sql() {
  static constexpr std::string_view kCsv =
#include "statement_lines_csv.inc"
      ;
  std::string values;
  std::size_t line_start = kCsv.find('\n') + 1;  // after the header
  while (line_start < kCsv.size()) {
    std::size_t end = kCsv.find('\n', line_start);
    if (end == std::string_view::npos) end = kCsv.size();
    const std::string_view line = kCsv.substr(line_start, end - line_start);
    line_start = end + 1;
    if (line.empty()) continue;
    std::vector<std::string_view> fields;
    for (std::size_t at = 0;;) {
      const std::size_t comma = line.find(',', at);
      fields.push_back(line.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
      if (comma == std::string_view::npos) break;
      at = comma + 1;
    }
    // A malformed line is a build that tests fail (analyst_sql_test): no quote may reach the SQL.
    if (fields.size() != 7 || line.find('\'') != std::string_view::npos)
      throw std::logic_error(fmt::format("statement_lines.csv: a malformed line: {}", line));
    values += fmt::format("{}('{}', '{}', {}, {}, '{}', '{}', {})", values.empty() ? "" : ", ", fields[0], fields[1],
                          fields[2], fields[3], fields[4], fields[5], fields[6]);
  }
  return "INSERT INTO statement_lines (statement, line, line_order, priority, taxonomy, concept, sign) VALUES " +
         values;
}

FrameQuery parse_frame_query(std::string_view taxonomy_concept, std::string_view unit, std::string_view frame) {
  const auto only = [](std::string_view text, std::string_view allowed_punctuation) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || allowed_punctuation.find(c) != std::string_view::npos;
    });
  };
  FrameQuery q;
  const std::size_t colon = taxonomy_concept.find(':');
  if (colon == std::string_view::npos || !only(taxonomy_concept.substr(0, colon), "-") ||
      !only(taxonomy_concept.substr(colon + 1), "_"))
    throw std::invalid_argument(fmt::format(
        "'{}' is not TAXONOMY:CONCEPT (for example us-gaap:Assets or dei:EntityCommonStockSharesOutstanding)",
        taxonomy_concept));
  q.taxonomy = taxonomy_concept.substr(0, colon);
  q.concept_name = taxonomy_concept.substr(colon + 1);
  q.unit = replace_all(std::string(unit), "-per-", "/");
  if (!only(q.unit, "/-_.()"))
    throw std::invalid_argument(fmt::format("'{}' is not a unit (for example USD, shares, USD/shares, pure)", unit));
  // CY, four digits, then nothing, Q1-Q4, or Q1-Q4 and I.
  const bool year = frame.size() >= 6 && frame.substr(0, 2) == "CY" &&
                    std::all_of(frame.begin() + 2, frame.begin() + 6, [](char c) { return c >= '0' && c <= '9'; });
  const std::string_view rest = year ? frame.substr(6) : frame;
  const bool quarter = rest.size() >= 2 && rest[0] == 'Q' && rest[1] >= '1' && rest[1] <= '4' &&
                       (rest.size() == 2 || (rest.size() == 3 && rest[2] == 'I'));
  if (!year || !(rest.empty() || quarter))
    throw std::invalid_argument(fmt::format(
        "'{}' is not a frame: CY2024 (a calendar year), CY2024Q3 (a quarter) or CY2024Q3I (an instant)", frame));
  q.frame = frame;
  return q;
}

std::string frame_sql(const FrameQuery& q) {
  // The same text in every dialect. Literals without N'': ASCII, and SQL Server converts the
  // literal to an NVARCHAR column's type, not the column (its index stays usable).
  return fmt::format(
      "SELECT cik, entity_name, accession_number, period_start, period_end, value, form, filed FROM (SELECT f.cik, "
      "e.entity_name, f.accession_number, f.period_start, f.period_end, f.value, f.form, f.filed, ROW_NUMBER() OVER "
      "(PARTITION BY f.cik ORDER BY CASE WHEN f.filed IS NULL THEN 0 ELSE 1 END DESC, f.filed DESC, "
      "f.accession_number DESC) AS pick FROM facts f LEFT JOIN entities e ON e.cik = f.cik WHERE f.taxonomy = '{}' "
      "AND f.concept = '{}' AND f.unit = '{}' AND f.frame = '{}') x WHERE pick = 1 ORDER BY cik",
      q.taxonomy, q.concept_name, q.unit, q.frame);
}

std::string_view sql_type_name(ColumnType type, SqlFlavor flavor) noexcept {
  // By ColumnType (kBigInt, kSmallInt, kInt, kText, kDate, kTimestamp, kDecimal), then SqlFlavor.
  static constexpr std::string_view kNames[7][3] = {
      {"INTEGER", "BIGINT", "BIGINT"},
      {"INTEGER", "SMALLINT", "SMALLINT"},
      {"INTEGER", "INTEGER", "INT"},
      {"TEXT", "TEXT", "NVARCHAR"},
      {"TEXT", "DATE", "DATE"},
      {"TEXT", "TIMESTAMP", "DATETIME2"},        // (7): FreeTDS 1.3.17 declares bulk DATETIME2 with scale 7
      {"NUMERIC", "NUMERIC", "DECIMAL(38,12)"},  // SQLite: integral values stay INTEGER, others REAL
  };
  return kNames[static_cast<std::size_t>(type)][static_cast<std::size_t>(flavor)];
}

Dataset dataset_from_name(std::string_view name) noexcept {
  if (name == "submissions") return Dataset::kSubmissions;
  if (name == "companyfacts") return Dataset::kCompanyfacts;
  return Dataset::kUnknown;
}

std::string_view dataset_name(Dataset d) noexcept {
  switch (d) {
    case Dataset::kSubmissions:
      return "submissions";
    case Dataset::kCompanyfacts:
      return "companyfacts";
    default:
      return "unknown";
  }
}

}  // namespace edgarpipe
