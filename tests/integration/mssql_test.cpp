// The SQL Server sink against a real server, when EDGARPIPE_TEST_MSSQL names one
// (mssql://USER@HOST:PORT/DATABASE, password in EDGARPIPE_MSSQL_PASSWORD; docs/sinks.md shows how
// to start SQL Server 2019/2022 in a container). The tests drop and recreate the contract's
// tables in that database, so they run on a fresh or an already-used one. Without a server they
// exit with 77, which ctest reports as skipped: the bytes FreeTDS sends are checked on every run
// by tests/mssql/tds_conformance_test.py instead.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "edgarpipe/core/tables.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "run_helpers.hpp"

using namespace edgarpipe::test;

// Statements on the sink's own admin connection (SinkAdmin::execute is for the sinks only).
namespace edgarpipe {
struct SinkAdminTestAccess {
  static std::vector<SinkAdmin::TextRow> execute(SinkAdmin& admin, const std::string& sql) {
    return admin.execute(sql);
  }
};
}  // namespace edgarpipe

namespace {

// The server's URL; without one, the test process exits as skipped (ctest SKIP_RETURN_CODE 77).
std::string server_url() {
  const char* url = std::getenv("EDGARPIPE_TEST_MSSQL");
  if (url && *url) return url;
  std::cerr << "EDGARPIPE_TEST_MSSQL is not set: no real SQL Server test (skipped; the MS-TDS conformance "
               "test still runs)\n";
  std::exit(77);
}

// One text cell of a query (the sink's own admin connection).
std::string cell(edgarpipe::SinkAdmin& admin, const std::string& sql) {
  const auto rows = edgarpipe::SinkAdminTestAccess::execute(admin, sql);
  REQUIRE(rows.size() == 1);
  std::string out;
  for (std::size_t i = 0; i < rows[0].size(); ++i) out += (i ? "|" : "") + rows[0][i].value_or("NULL");
  return out;
}

// Views first: SQL Server refuses to drop a table a view reads (Msg 3726).
void drop_tables(edgarpipe::SinkAdmin& admin) {
  for (const std::string& sql : edgarpipe::view_sql(edgarpipe::SqlFlavor::kMssql))
    if (sql.starts_with("DROP VIEW")) edgarpipe::SinkAdminTestAccess::execute(admin, sql);
  for (const char* t :
       {"companies", "company_tickers", "former_names", "submission_pages", "filings", "entities", "concepts", "facts",
        "ingest_files", "ingest_runs", "edgarpipe_schema", "edgarpipe_indexes", "statement_lines"})
    edgarpipe::SinkAdminTestAccess::execute(admin,
                                            fmt::format("IF OBJECT_ID(N'{0}', N'U') IS NOT NULL DROP TABLE {0}", t));
}

// A companyfacts file whose keys differ only in case: units "Well" and "well" of one concept and
// period, and concepts "FooBar" and "Foobar" (real data: CIK0000717423 has Well and well).
void write_case_pairs(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const auto fact = [](int v) {
    return fmt::format(
        R"({{"start":"2024-01-01","end":"2024-12-31","val":{},"accn":"0000999997-24-000001","fy":2024,"fp":"FY",)"
        R"("form":"10-K","filed":"2025-02-01"}})",
        v);
  };
  std::ofstream(dir + "/CIK0000999997.json")
      << fmt::format(R"({{"cik":999997,"entityName":"Case Pairs","facts":{{"us-gaap":{{)"
                     R"("FooBar":{{"label":"Foo bar","description":null,"units":{{"Well":[{}],"well":[{}]}}}},)"
                     R"("Foobar":{{"label":"Foobar","description":null,"units":{{"USD":[{}]}}}}}}}}}})",
                     fact(1), fact(2), fact(3));
}

}  // namespace

TEST_CASE("SQL Server: the samples load with exactly the contract's rows, two writers", "[mssql]") {
  const std::string url = server_url();
  auto admin = edgarpipe::open_sink_admin(edgarpipe::parse_sink_url(url));
  drop_tables(*admin);
  const Result r = run(fmt::format("run {} --sink '{}' --parsers 2 --writers 2", kData, url));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(cell(*admin, "SELECT count(*) FROM companies") == "19");
  CHECK(cell(*admin, "SELECT count(*) FROM company_tickers") == "26");
  CHECK(cell(*admin, "SELECT count(*) FROM former_names") == "31");
  CHECK(cell(*admin, "SELECT count(*) FROM submission_pages") == "12");
  CHECK(cell(*admin, "SELECT count(*) FROM filings") == "13888");
  CHECK(cell(*admin, "SELECT count(*) FROM entities") == "6");
  CHECK(cell(*admin, "SELECT count(*) FROM concepts") == "1642");
  CHECK(cell(*admin, "SELECT count(*) FROM facts") == "98502");
  CHECK(cell(*admin, "SELECT status, files_loaded, rows_written FROM ingest_runs") == "completed|29|114126");
  // DECIMAL(38,12) is exact: the same sum Python's Decimal computes from the JSON text.
  CHECK(cell(*admin, "SELECT CONVERT(varchar(60), sum(value)) FROM facts") == "879778428576246.025000000000");
  // Values, not their text (SQL Server formats datetime2 with 7 fractional digits).
  CHECK(cell(*admin,
             "SELECT CASE WHEN acceptance_datetime = CAST('2024-11-01T10:01:36' AS datetime2) THEN 1 ELSE 0 END, size "
             "FROM filings WHERE cik = 320193 AND accession_number = '0000320193-24-000123'") == "1|9759333");
  CHECK(cell(*admin, "SELECT sic, CASE WHEN ein IS NULL THEN 1 ELSE 0 END FROM companies WHERE cik = 315090") == "|1");

  // Values read back as the other sinks print them: '' is not padded, times are ISO 8601.
  CHECK(cell(*admin, "SELECT N'', CAST('2026-12-02 10:30:36.5' AS datetime2), CAST('2026-12-02' AS date)") ==
        "|2026-12-02 10:30:36.5|2026-12-02");
  CHECK(cell(*admin, "SELECT max(version) FROM edgarpipe_schema") == "4");
  CHECK(cell(*admin, "SELECT count(*) FROM ingest_files WHERE source_file = 'CIK0000320193.json' AND page = 0") ==
        "2");  // the main file and the companyfacts file: one key in each dataset

  // A rerun adds nothing.
  const Result again = run(fmt::format("run {} --sink '{}'", kData, url));
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(cell(*admin, "SELECT count(*) FROM facts") == "98502");
  CHECK(cell(*admin, "SELECT TOP 1 files_skipped FROM ingest_runs ORDER BY run_id DESC") == "29");

  // Keys that differ only in case load as on the other sinks: both units, both concepts.
  TempDir dir;
  write_case_pairs(dir / "companyfacts");
  const Result pairs = run(fmt::format("run {} --sink '{}'", dir.path.string(), url));
  INFO(pairs.output);
  REQUIRE(pairs.exit_code == 0);
  CHECK(cell(*admin, "SELECT count(*) FROM facts WHERE cik = 999997") == "3");
  CHECK(cell(*admin, "SELECT count(*) FROM facts WHERE cik = 999997 AND unit = N'well'") == "1");
  CHECK(cell(*admin, "SELECT count(*) FROM concepts WHERE concept IN (N'FooBar', N'Foobar')") == "2");

  // facts_asof: the values known on a day (SELECT ... INTO on SQL Server), made twice.
  for (int i = 0; i < 2; ++i) {
    const Result asof = run(fmt::format("asof --date 2019-10-31 --sink '{}'", url));
    INFO(asof.output);
    REQUIRE(asof.exit_code == 0);
  }
  CHECK(cell(*admin,
             "SELECT CASE WHEN count(*) > 0 AND max(filed) <= '2019-10-31' THEN 1 ELSE 0 END FROM facts_asof") == "1");
  // Apple's fiscal 2018 net income as known that day: the 10-K filed on it (the JSON's answer).
  CHECK(cell(*admin,
             "SELECT accession_number FROM facts_asof WHERE cik = 320193 AND concept = N'NetIncomeLoss' AND "
             "unit = N'USD' AND period_start = '2017-10-01' AND period_end = '2018-09-29'") == "0000320193-19-000119");

  // The analyst views on SQL Server give Apple's values as the raw JSON does (analyst_test computes
  // each from the SEC's file on SQLite and PostgreSQL; the numbers here are those).
  const auto number = [&](const std::string& sql) {  // DECIMAL(38,12) prints its scale: compare the integer part
    const std::string v = cell(*admin, sql);
    return v.substr(0, v.find('.'));
  };
  CHECK(number("SELECT value FROM facts_quarter_discrete WHERE cik = 320193 AND concept = "
               "N'RevenueFromContractWithCustomerExcludingAssessedTax' AND period_end = '2023-09-30'") ==
        "89498000000");
  CHECK(number("SELECT value FROM facts_ttm WHERE cik = 320193 AND concept = N'NetIncomeLoss' AND unit = N'USD' AND "
               "period_end = '2023-09-30'") == "96995000000");
  CHECK(cell(*admin,
             "SELECT accession_number FROM facts_first_reported WHERE cik = 320193 AND concept = "
             "N'NetIncomeLoss' AND unit = N'USD' AND period_start = '2017-10-01' AND period_end = "
             "'2018-09-29'") == "0000320193-18-000145");
  CHECK(number("SELECT value FROM balance_sheet WHERE cik = 320193 AND fiscal_year = 2023 AND fiscal_period = N'FY' "
               "AND line = N'total_assets'") == "352583000000");
  CHECK(cell(*admin,
             "SELECT concept FROM income_statement WHERE cik = 320193 AND fiscal_year = 2023 AND "
             "fiscal_period = N'FY' AND line = N'revenue'") == "RevenueFromContractWithCustomerExcludingAssessedTax");

  // frame: the four sample filers that report total assets at the end of 2022, as on SQLite.
  const Result frame = run(fmt::format("frame us-gaap:Assets USD CY2022Q4I --csv --sink '{}'", url));
  INFO(frame.output);
  REQUIRE(frame.exit_code == 0);
  CHECK_THAT(
      frame.output,
      Catch::Contains("cik,entity_name,accession_number") &&
          Catch::Contains(
              "320193,Apple Inc.,0000320193-23-000006,,2022-12-31,346747000000") &&  // DECIMAL(38,12): .000... after
          Catch::Contains("us-gaap:Assets USD CY2022Q4I: 4 filers"));
}

TEST_CASE("SQL Server: a database an earlier release made with case-insensitive text is made exact", "[mssql]") {
  const std::string url = server_url();
  auto admin = edgarpipe::open_sink_admin(edgarpipe::parse_sink_url(url));
  drop_tables(*admin);
  // The earlier release's layout: the same tables, text in the database's default collation.
  std::string ddl = edgarpipe::schema_sql(edgarpipe::parse_sink_url(url), false);
  ddl.resize(ddl.find("\n-- Views"));  // the views come in batches of their own (GO), made by the run
  for (std::size_t at; (at = ddl.find(" COLLATE Latin1_General_100_BIN2")) != std::string::npos;)
    ddl.erase(at, std::string_view(" COLLATE Latin1_General_100_BIN2").size());
  // Release 3 had no statement_lines: the run creates it, exact.
  const std::size_t lines_at = ddl.find("IF OBJECT_ID(N'statement_lines'");
  REQUIRE(lines_at != std::string::npos);
  ddl.erase(lines_at, ddl.find("END;\n", lines_at) + 5 - lines_at);
  edgarpipe::SinkAdminTestAccess::execute(*admin, ddl);
  edgarpipe::SinkAdminTestAccess::execute(*admin, "INSERT INTO edgarpipe_schema (version) VALUES (3)");
  TempDir dir;
  write_case_pairs(dir / "companyfacts");
  const Result r = run(fmt::format("run {} {} --sink '{}'", kData, dir.path.string(), url));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("made the text of this database compare exactly") != std::string::npos);
  CHECK(cell(*admin, "SELECT max(version) FROM edgarpipe_schema") == "4");
  CHECK(cell(*admin, "SELECT CASE WHEN N'a' = N'A' COLLATE Latin1_General_100_BIN2 THEN 1 ELSE 0 END") == "0");
  CHECK(cell(*admin, "SELECT count(*) FROM concepts WHERE concept IN (N'FooBar', N'Foobar')") == "2");
  CHECK(cell(*admin, "SELECT count(*) FROM facts WHERE cik = 999997") == "3");
  CHECK(cell(*admin, "SELECT count(*) FROM facts") == "98505");
  CHECK(cell(*admin, "SELECT count(*) FROM statement_lines") == "62");
  CHECK(cell(*admin,
             "SELECT collation_name FROM sys.columns WHERE object_id = OBJECT_ID(N'statement_lines') AND "
             "name = N'concept'") == "Latin1_General_100_BIN2");
  // Rerun: nothing to upgrade, nothing to load.
  const Result again = run(fmt::format("run {} {} --sink '{}'", kData, dir.path.string(), url));
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(again.output.find("made the text") == std::string::npos);
  CHECK(cell(*admin, "SELECT TOP 1 files_skipped FROM ingest_runs ORDER BY run_id DESC") == "30");
}
