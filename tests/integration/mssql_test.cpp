// The SQL Server sink against a real server, when EDGARPIPE_TEST_MSSQL names one
// (mssql://USER@HOST:PORT/DATABASE, password in EDGARPIPE_MSSQL_PASSWORD; docs/sinks.md shows how
// to start SQL Server 2019/2022 in a container). The tests drop and recreate the contract's
// tables in that database. Without a server they pass with a warning: the bytes FreeTDS sends are
// checked on every run by tests/mssql/tds_conformance_test.py instead.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

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

std::string server_url() {
  const char* url = std::getenv("EDGARPIPE_TEST_MSSQL");
  return url ? url : "";
}

// One text cell of a query (the sink's own admin connection).
std::string cell(edgarpipe::SinkAdmin& admin, const std::string& sql) {
  const auto rows = edgarpipe::SinkAdminTestAccess::execute(admin, sql);
  REQUIRE(rows.size() == 1);
  std::string out;
  for (std::size_t i = 0; i < rows[0].size(); ++i) out += (i ? "|" : "") + rows[0][i].value_or("NULL");
  return out;
}

void drop_tables(edgarpipe::SinkAdmin& admin) {
  for (const char* t : {"companies", "company_tickers", "former_names", "submission_pages", "filings", "entities",
                        "concepts", "facts", "ingest_files", "ingest_runs", "edgarpipe_schema"})
    edgarpipe::SinkAdminTestAccess::execute(admin,
                                            fmt::format("IF OBJECT_ID(N'{0}', N'U') IS NOT NULL DROP TABLE {0}", t));
}

}  // namespace

TEST_CASE("SQL Server: the samples load with exactly the contract's rows, two writers", "[mssql]") {
  const std::string url = server_url();
  if (url.empty()) {
    WARN("EDGARPIPE_TEST_MSSQL is not set: no real SQL Server test (the MS-TDS conformance test still runs)");
    return;
  }
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
  CHECK(cell(*admin,
             "SELECT CONVERT(varchar(30), acceptance_datetime, 121), size FROM filings WHERE cik = 320193 "
             "AND accession_number = '0000320193-24-000123'") == "2024-11-01 10:01:36.0000000|9759333");
  CHECK(cell(*admin, "SELECT sic, CASE WHEN ein IS NULL THEN 1 ELSE 0 END FROM companies WHERE cik = 315090") == "|1");

  // Values read back as the other sinks print them: '' is not padded, times are ISO 8601.
  CHECK(cell(*admin, "SELECT N'', CAST('2026-12-02 10:30:36.5' AS datetime2), CAST('2026-12-02' AS date)") ==
        "|2026-12-02 10:30:36.5|2026-12-02");
  CHECK(cell(*admin, "SELECT version FROM edgarpipe_schema") == "3");
  CHECK(cell(*admin, "SELECT count(*) FROM ingest_files WHERE source_file = 'CIK0000320193.json' AND page = 0") ==
        "2");  // the main file and the companyfacts file: one key in each dataset

  // A rerun adds nothing.
  const Result again = run(fmt::format("run {} --sink '{}'", kData, url));
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(cell(*admin, "SELECT count(*) FROM facts") == "98502");
  CHECK(cell(*admin, "SELECT TOP 1 files_skipped FROM ingest_runs ORDER BY run_id DESC") == "29");
}
