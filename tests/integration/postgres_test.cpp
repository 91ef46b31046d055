// The PostgreSQL sink against a real server: the throw-away cluster deploy/test.sh starts on
// loopback (deploy/pg-cluster.sh) and names in EDGARPIPE_TEST_PG. Each test gets a database of
// its own. Expected values come from the JSON (Python's json module with exact decimals).
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include "run_helpers.hpp"

namespace fs = std::filesystem;
using namespace edgarpipe::test;

namespace {

std::string base_url() {
  const char* url = std::getenv("EDGARPIPE_TEST_PG");
  if (url == nullptr || *url == '\0')
    FAIL(
        "EDGARPIPE_TEST_PG is not set: run deploy/test.sh, or start a server with "
        "eval \"$(deploy/pg-cluster.sh start /tmp/pg)\"");
  return url;
}

class Pg {
 public:
  explicit Pg(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    INFO(PQerrorMessage(conn_));
    REQUIRE(PQstatus(conn_) == CONNECTION_OK);
  }
  ~Pg() { PQfinish(conn_); }
  std::string text(const std::string& sql) const {
    PGresult* r = PQexec(conn_, sql.c_str());
    INFO(sql << ": " << PQresultErrorMessage(r));
    REQUIRE((PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK));
    std::string out;
    for (int i = 0; i < PQntuples(r); ++i) {
      for (int j = 0; j < PQnfields(r); ++j) {
        if (j) out += '|';
        out += PQgetisnull(r, i, j) ? "\\N" : PQgetvalue(r, i, j);
      }
      out += '\n';
    }
    PQclear(r);
    if (!out.empty()) out.pop_back();
    return out;
  }
  long long count(const std::string& sql) const { return std::stoll(text(sql)); }

 private:
  PGconn* conn_;
};

// Files committed as loaded so far (0 while the schema does not exist yet).
long long committed_files(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  long long n = 0;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, "SELECT count(*) FROM ingest_files WHERE status = 'loaded'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) n = std::stoll(PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  PQfinish(c);
  return n;
}

// A fresh database on the test server, dropped afterwards.
class TempDatabase {
 public:
  TempDatabase() : admin_url_(base_url()) {
    name_ = fmt::format("edgarpipe_t{}_{}", ::getpid(), std::random_device{}() % 1000000);
    Pg(admin_url_).text("CREATE DATABASE " + name_);
    const auto slash = admin_url_.rfind('/');
    url_ = admin_url_.substr(0, slash + 1) + name_;
  }
  ~TempDatabase() {
    PGconn* c = PQconnectdb(admin_url_.c_str());
    PQclear(PQexec(c, ("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)").c_str()));
    PQfinish(c);
  }
  const std::string& url() const { return url_; }

 private:
  std::string admin_url_, name_, url_;
};

}  // namespace

TEST_CASE("PostgreSQL: the samples load with exactly the contract's rows, three writers at once", "[postgres]") {
  TempDatabase db;
  const Result r = run(fmt::format("run {} --sink '{}' --parsers 2 --writers 3", kData, db.url()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  Pg pg(db.url());
  CHECK(pg.count("SELECT count(*) FROM companies") == 19);
  CHECK(pg.count("SELECT count(*) FROM company_tickers") == 26);
  CHECK(pg.count("SELECT count(*) FROM former_names") == 31);
  CHECK(pg.count("SELECT count(*) FROM submission_pages") == 12);
  CHECK(pg.count("SELECT count(*) FROM filings") == 13888);
  CHECK(pg.count("SELECT count(*) FROM entities") == 6);
  CHECK(pg.count("SELECT count(*) FROM concepts") == 1642);
  CHECK(pg.count("SELECT count(*) FROM facts") == 98502);
  CHECK(pg.text("SELECT status, files_loaded, files_rejected, rows_written, writers FROM ingest_runs") ==
        "completed|29|0|114126|3");
  CHECK(pg.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded' AND content_hash LIKE 'xxh3:%'") == 29);

  // NUMERIC is exact: the sum of every value and the count of fractional ones, as Python's
  // Decimal computes them from the JSON text.
  CHECK(pg.text("SELECT sum(value), count(*) FILTER (WHERE scale(value) > 0) FROM facts") ==
        "879778428576246.02500|6367");
  CHECK(pg.count("SELECT count(*) FROM facts WHERE value::text = '0.00001'") == 30);
  CHECK(pg.text("SELECT value::text FROM facts WHERE cik = 320193 AND concept = 'EarningsPerShareBasic' "
                "AND period_start = '2023-10-01' AND period_end = '2024-09-28' AND form = '10-K'") == "6.11");
  CHECK(pg.text("SELECT min(value), max(value) FROM facts") == "-121983000000|2830067000000");
  // Types and chosen values.
  CHECK(pg.text("SELECT pg_typeof(filing_date), pg_typeof(acceptance_datetime), acceptance_datetime, size FROM filings "
                "WHERE cik = 320193 AND accession_number = '0000320193-24-000123'") ==
        "date|timestamp without time zone|2024-11-01 10:01:36|9759333");
  CHECK(pg.text("SELECT sic, ein IS NULL FROM companies WHERE cik = 315090") == "|t");
  CHECK(pg.count("SELECT count(*) FROM filings WHERE cik = 1318605") == 1722);
  CHECK(pg.count("SELECT count(*) FROM facts WHERE cik = 1652044 AND fiscal_year IS NULL") == 82);
  CHECK(pg.count("SELECT count(*) FROM filings WHERE report_date IS NULL") > 0);  // "" -> NULL for dates
}

TEST_CASE("PostgreSQL: a file the database refuses is rejected alone, a rerun skips the rest", "[postgres]") {
  TempDatabase db;
  TempDir tmp;
  fs::create_directories(tmp.path / "a");
  fs::create_directories(tmp.path / "b");
  for (const char* f : {"CIK0000320193.json", "CIK0001318605.json", "CIK0001800903.json"})
    fs::copy_file(kData + "/submissions/" + f, tmp.path / "a" / f);
  // An overflow page that lists the main file's one filing again: a clean load refuses it too
  // (filings are keyed by cik and accession number), and only the database can tell.
  std::ofstream(tmp.path / "b" / "CIK0001800903-submissions-001.json")
      << R"({"accessionNumber":["0001800903-20-000001"],"filingDate":["2020-01-27"],"form":["D"]})";
  // The main files load first, so that the page is the file refused (in one run, which of the
  // two meets the other's row first depends on the order they commit in).
  REQUIRE(run(fmt::format("run {} --sink '{}' --writers 1", (tmp.path / "a").string(), db.url())).exit_code == 0);
  const Result r = run(fmt::format("run {} {} --sink '{}' --writers 1", (tmp.path / "a").string(),
                                   (tmp.path / "b" / "CIK0001800903-submissions-001.json").string(), db.url()));
  INFO(r.output);
  Pg pg(db.url());
  // Every other file is whole and the refused page added nothing.
  CHECK(pg.count("SELECT count(*) FROM filings") == 1000 + 1002 + 1);
  CHECK(pg.count("SELECT count(*) FROM companies") == 3);
  CHECK(pg.count("SELECT count(*) FROM ingest_files WHERE status = 'rejected' AND page = 1") == 1);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output,
             Catch::Contains("database refused a row: ERROR:  duplicate key value violates unique constraint"));

  const Result again = run(fmt::format("run {} --sink '{}' --summary-json {}", (tmp.path / "a").string(), db.url(),
                                       (tmp.path / "s.json").string()));
  REQUIRE(again.exit_code == 0);
  CHECK(pg.count("SELECT count(*) FROM filings") == 1000 + 1002 + 1);
}

TEST_CASE("PostgreSQL: a value its column cannot take is refused by the parser, with its offset", "[postgres]") {
  // The parsers encode COPY tuples for this sink, so the INTEGER range is checked there, before
  // any byte reaches the server, and the rejection names where the value is.
  TempDatabase db;
  TempDir tmp;
  const std::string json =
      R"({"cik":7,"entityName":"Seven","facts":{"g":{"C":{"units":{"U":[{"end":"2020-01-01","val":2,"accn":"a",)"
      R"("fy":3000000000}]}}}}})";
  std::ofstream(tmp.path / "CIK0000000007.json") << json;
  fs::copy_file(kData + "/companyfacts/CIK0000320193.json", tmp.path / "CIK0000320193.json");
  // A bad date whose 40-byte excerpt in the reason would split a character: the reason must stay
  // valid UTF-8, or PostgreSQL refuses the ingest rows and the whole run fails.
  std::ofstream(tmp.path / "CIK0000000008.json") << R"({"cik":8,"facts":{"g":{"C":{"units":{"U":[{"end":")"
                                                 << std::string(39, 'a') << R"(é","val":2,"accn":"a"}]}}}}})";
  const Result r = run(fmt::format("run {} --sink '{}'", tmp.path.string(), db.url()));
  INFO(r.output);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output,
             Catch::Contains(fmt::format("facts.fiscal_year: \"3000000000\" does not fit INTEGER (at byte {})",
                                         json.find("3000000000"))));
  Pg pg(db.url());
  CHECK(pg.count("SELECT count(*) FROM facts WHERE cik = 7") == 0);
  CHECK(pg.count("SELECT count(*) FROM entities") == 1);
  CHECK(pg.count("SELECT count(*) FROM ingest_files WHERE status = 'rejected' AND error LIKE '%is not a date%'") == 1);
  CHECK(
      pg.count("SELECT count(*) FROM ingest_files WHERE status = 'rejected' AND error LIKE '%does not fit INTEGER%'") ==
      1);
}

TEST_CASE("PostgreSQL: credentials stay out of the command line, errors are clear", "[postgres]") {
  const Result password = run(fmt::format("run {} --sink 'postgresql://user:secret@127.0.0.1/x'", kData));
  CHECK(password.exit_code == 2);
  CHECK_THAT(password.output, Catch::Contains("do not put a password in --sink"));
  CHECK(password.output.find("secret") == std::string::npos);
  const Result keyvalue = run(fmt::format("run {} --sink 'host=127.0.0.1 password=secret'", kData));
  CHECK(keyvalue.exit_code == 2);
  // Nothing listens on port 1: a one-line error and exit 1.
  const Result down = run(fmt::format("run {} --sink 'postgresql://edgarpipe@127.0.0.1:1/x'", kData));
  CHECK(down.exit_code == 1);
  CHECK_THAT(down.output, Catch::Contains("cannot connect to PostgreSQL"));
  const Result schema = run("schema --sink 'postgresql://edgarpipe@127.0.0.1/x'");
  CHECK(schema.exit_code == 0);
  CHECK_THAT(schema.output, Catch::Contains("value NUMERIC"));
  CHECK_THAT(schema.output, Catch::Contains("COALESCE(period_start, '-infinity'::date)"));
}

TEST_CASE("PostgreSQL: schema= puts every table in that schema and bad names are refused", "[postgres]") {
  TempDatabase db;
  for (const std::string& url :
       {db.url() + "?schema=edgar_a",
        "dbname=" + db.url().substr(db.url().rfind('/') + 1) + " host=127.0.0.1 port=" +
            db.url().substr(db.url().rfind(':') + 1, db.url().rfind('/') - db.url().rfind(':') - 1) +
            " user=edgarpipe schema=edgar_b"}) {
    INFO(url);
    const Result r = run(fmt::format("run {} --sink '{}' --writers 2", kData, url));
    INFO(r.output);
    CHECK(r.exit_code == 0);
  }
  Pg pg(db.url());
  for (const char* schema : {"edgar_a", "edgar_b"}) {
    INFO(schema);
    CHECK(pg.count(fmt::format("SELECT count(*) FROM {}.filings", schema)) == 13888);
    CHECK(pg.count(fmt::format("SELECT count(*) FROM {}.facts", schema)) == 98502);
    CHECK(pg.count(fmt::format("SELECT count(*) FROM {}.ingest_runs", schema)) == 1);
  }
  // Nothing went to the default schema.
  CHECK(pg.count("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == 0);
  // A rerun in the schema skips everything.
  const Result again = run(fmt::format("run {} --sink '{}?schema=edgar_a'", kData, db.url()));
  CHECK_THAT(again.output, Catch::Contains("29 skipped"));
  // Names that could carry SQL, or that PostgreSQL would fold, are refused before any connection.
  for (const char* bad : {"x;DROP%20TABLE%20t", "Edgar", "pg_x", "1st", "a\"b"}) {
    const Result r = run(fmt::format("run {} --sink '{}?schema={}'", kData, db.url(), bad));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("a schema name is 1 to 63 lowercase letters"));
  }
  const Result ddl = run(fmt::format("schema --sink '{}?schema=edgar_a'", db.url()));
  CHECK_THAT(ddl.output,
             Catch::StartsWith("CREATE SCHEMA IF NOT EXISTS \"edgar_a\";\nSET search_path TO \"edgar_a\";"));
}

TEST_CASE("PostgreSQL restarted in the middle of a load: the writer reconnects and the load is exact",
          "[postgres][slow]") {
  const char* dir = std::getenv("EDGARPIPE_TEST_PG_DIR");
  if (dir == nullptr) FAIL("EDGARPIPE_TEST_PG_DIR is not set (deploy/pg-cluster.sh start prints it)");
  TempDatabase db;
  // Readers slowed to 150 ms per file: the load spans ~4.5 s and several commits.
  Result r;
  std::thread load([&] {
    r = run(fmt::format("run {} --sink '{}' --writers 2", kData, db.url()), "EDGARPIPE_TEST_FAULT=slow:reader:150");
  });
  // Restart once the writers are connected and have committed (a file is in ingest_files), so
  // the restart lands in the middle of the load however slow the machine.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (committed_files(db.url()) == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string restart = fmt::format("{}/../../deploy/pg-cluster.sh restart {}", kData, dir);
  REQUIRE(std::system(restart.c_str()) == 0);
  load.join();
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("reconnecting"));
  Pg pg(db.url());
  CHECK(pg.count("SELECT count(*) FROM filings") == 13888);
  CHECK(pg.count("SELECT count(*) FROM facts") == 98502);
  CHECK(pg.count("SELECT count(*) FROM concepts") == 1642);
  CHECK(pg.text("SELECT status, files_loaded FROM ingest_runs") == "completed|29");
}
