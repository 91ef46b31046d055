#include "edgarpipe/tables.hpp"

#include <fmt/format.h>

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

}  // namespace

const TableDef& table_def(TableId id) noexcept { return kTables[static_cast<std::size_t>(id)]; }
std::span<const TableDef> all_tables() noexcept { return kTables; }

std::string contract_ddl(const SqlDialect& d) {
  std::string sql;
  for (const TableDef& t : all_tables()) {
    sql += fmt::format("CREATE TABLE IF NOT EXISTS {} (\n", t.name);
    for (const Column& c : t.columns)
      sql += fmt::format("  {} {}{},\n", c.name, d.type_name(c.type), c.not_null ? " NOT NULL" : "");
    if (t.id == TableId::kFacts) {
      sql.resize(sql.size() - 2);
      sql += "\n);\n";
      sql += fmt::format(
          "CREATE UNIQUE INDEX IF NOT EXISTS facts_key ON facts (cik, taxonomy, concept, unit, {}, period_end, "
          "accession_number);\n",
          d.facts_period_start);
    } else {
      std::string key;
      for (auto k : t.key) key += (key.empty() ? "" : ", ") + std::string(k);
      sql += fmt::format("  PRIMARY KEY ({})\n);\n", key);
    }
  }
  const std::string bigint = d.type_name(ColumnType::kBigInt), text = d.type_name(ColumnType::kText),
                    integer = d.type_name(ColumnType::kInt), timestamp = d.type_name(ColumnType::kTimestamp);
  sql += fmt::format(
      "CREATE TABLE IF NOT EXISTS ingest_files (\n"
      "  dataset {1} NOT NULL,\n  source_file {1} NOT NULL,\n  cik {0},\n  bytes {0},\n  content_hash {1},\n"
      "  status {1} NOT NULL CHECK (status IN ('loaded', 'rejected')),\n  rows {0},\n  error {1},\n  run_id {0},\n"
      "  loaded_at {2},\n  PRIMARY KEY (dataset, source_file)\n);\n"
      "CREATE TABLE IF NOT EXISTS ingest_runs (\n"
      "  run_id {4},\n  started_at {2} NOT NULL,\n  finished_at {2},\n"
      "  status {1} NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),\n"
      "  sources {1},\n  sink {1},\n  files_seen {0},\n  files_loaded {0},\n  files_skipped {0},\n"
      "  files_rejected {0},\n  rows_written {0},\n  readers {3},\n  parsers {3},\n  writers {3}\n);\n",
      bigint, text, timestamp, integer, d.serial_primary_key);
  return sql;
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
