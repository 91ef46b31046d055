// End to end: the real executables as separate processes over real shared memory, loading real
// SEC files into real SQLite databases. Every expectation here was computed independently from
// the JSON (Python's json module), not from edgarpipe's own output.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "run_helpers.hpp"
#include "sqlite_db.hpp"

namespace fs = std::filesystem;
using namespace edgarpipe::test;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The pids listed for one stage in the summary JSON.
std::vector<long> stage_pids(const std::string& json, const std::string& stage) {
  const nlohmann::json summary = nlohmann::json::parse(json);
  REQUIRE(summary["stages"].contains(stage));
  const nlohmann::json& s = summary["stages"][stage];
  const auto pids = s["pids"].get<std::vector<long>>();
  REQUIRE(pids.size() == s["processes"].get<std::size_t>());
  return pids;
}

// A per-process list of one stage in the summary ("busy": [0.9, 0.8]).
std::vector<double> stage_list(const std::string& json, const std::string& stage, const std::string& field) {
  const nlohmann::json summary = nlohmann::json::parse(json);
  REQUIRE(summary["stages"][stage].contains(field));
  return summary["stages"][stage][field].get<std::vector<double>>();
}

// A number of the summary by its key, at the top or inside an object ("facts": rows.facts).
const nlohmann::json* find_key(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) return nullptr;
  if (const auto it = j.find(key); it != j.end() && it->is_number()) return &*it;
  for (const auto& [name, value] : j.items())
    if (const nlohmann::json* found = find_key(value, key)) return found;
  return nullptr;
}

long json_number(const std::string& json, const std::string& key) {
  const nlohmann::json summary = nlohmann::json::parse(json);
  const nlohmann::json* value = find_key(summary, key);
  REQUIRE(value != nullptr);
  return value->get<long>();
}

// Files committed as loaded so far in a database being written (0 while it does not exist yet).
long long committed_files(const std::string& path) {
  sqlite3* db = nullptr;
  long long n = 0;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM ingest_files WHERE status = 'loaded'", -1, &stmt, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return n;
}

// Starts `edgarpipe run` on the samples into `db_path` in the background, its readers slowed
// down by `ms_per_file`; returns the supervisor's pid.
pid_t start_slow_run(const std::string& db_path, int ms_per_file) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setenv("EDGARPIPE_TEST_FAULT", fmt::format("slow:reader:{}", ms_per_file).c_str(), 1);
    const std::string exe = kBin + "/edgarpipe";
    const std::string sink = "sqlite:" + db_path;
    ::execl(exe.c_str(), exe.c_str(), "run", kData.c_str(), "--sink", sink.c_str(), "--progress", "never", nullptr);
    ::_exit(127);
  }
  return pid;
}

void wait_for_a_commit(const std::string& db_path) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (committed_files(db_path) == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// Segments of runs whose supervisor was `pid`.
bool segments_left_by(long pid) {
  for (const auto& e : fs::directory_iterator("/dev/shm"))
    if (e.path().filename().string().rfind(fmt::format("edgarpipe-{}-", pid), 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("the samples load into SQLite with exactly the contract's rows", "[integration]") {
  TempDir tmp;
  const Result r = run(fmt::format("run {} --sink sqlite:{} --readers 1 --parsers 2 --writers 1 --summary-json {}",
                                   kData, tmp / "edgar.db", tmp / "summary.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  Db db(tmp / "edgar.db");
  CHECK(db.count("SELECT count(*) FROM companies") == 19);
  CHECK(db.count("SELECT count(*) FROM company_tickers") == 26);
  CHECK(db.count("SELECT count(*) FROM former_names") == 31);
  CHECK(db.count("SELECT count(*) FROM submission_pages") == 12);
  CHECK(db.count("SELECT count(*) FROM filings") == 13888);
  CHECK(db.count("SELECT count(*) FROM entities") == 6);
  CHECK(db.count("SELECT count(*) FROM concepts") == 1642);
  CHECK(db.count("SELECT count(*) FROM facts") == 98502);
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded' AND error IS NULL AND run_id = 1") == 29);
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE content_hash LIKE 'xxh3:%'") == 29);
  CHECK(
      db.text("SELECT status, files_seen, files_loaded, files_skipped, files_rejected, rows_written, readers, parsers, "
              "writers FROM ingest_runs") == "completed|29|29|0|0|114126|1|2|1");

  // Chosen values.
  CHECK(db.text("SELECT filing_date, report_date, acceptance_datetime, form, size FROM filings "
                "WHERE cik = 320193 AND accession_number = '0000320193-24-000123'") ==
        "2024-11-01|2024-09-28|2024-11-01 10:01:36|10-K|9759333");
  CHECK(db.text("SELECT value, typeof(value) FROM facts WHERE cik = 320193 AND concept = 'EarningsPerShareBasic' "
                "AND period_start = '2023-10-01' AND period_end = '2024-09-28' AND form = '10-K'") == "6.11|real");
  CHECK(db.count("SELECT count(*) FROM facts WHERE cik = 1652044 AND fiscal_year IS NULL") == 82);
  CHECK(db.count("SELECT count(*) FROM filings WHERE cik = 1318605") == 1002 + 720);    // main + overflow page
  CHECK(db.text("SELECT sic, ein IS NULL FROM companies WHERE cik = 315090") == "|1");  // "" kept apart from NULL
  CHECK(db.text("SELECT date_from FROM former_names WHERE cik = 320193 AND ordinal = 0") == "2007-01-10 05:00:00");
  CHECK(db.text("SELECT cik, entity_name FROM entities WHERE cik = 1997711") ==
        "1997711|Logistic Properties of the Americas");
  // The facts key holds (NULL period_start treated as a value).
  CHECK(db.count("SELECT count(*) FROM (SELECT DISTINCT cik, taxonomy, concept, unit, coalesce(period_start, ''), "
                 "period_end, accession_number FROM facts)") == 98502);

  // Summary JSON: the keys scripts rely on, and real, distinct processes per stage.
  const std::string json = read_text(tmp / "summary.json");
  for (const char* key :
       {"files_seen", "files_loaded", "files_skipped", "files_rejected", "rows", "bytes", "seconds", "stages"})
    CHECK_THAT(json, Catch::Contains(fmt::format("\"{}\"", key)));
  CHECK(json_number(json, "files_loaded") == 29);
  CHECK(json_number(json, "facts") == 98502);
  std::set<long> pids;
  for (const char* stage : {"reader", "parser", "writer"})
    for (long pid : stage_pids(json, stage)) pids.insert(pid);
  CHECK(pids.size() == 4);
  CHECK(stage_pids(json, "parser").size() == 2);
  // Per process: a busy share and the seconds spent waiting each way, one per pid.
  for (const char* stage : {"reader", "parser", "writer"}) {
    INFO(stage);
    for (const char* field : {"busy", "waiting_for_input_s", "waiting_for_output_s"}) {
      const std::vector<double> values = stage_list(json, stage, field);
      CHECK(values.size() == stage_pids(json, stage).size());
      for (double v : values) CHECK(v >= 0);
    }
    for (double busy : stage_list(json, stage, "busy")) CHECK(busy <= 1);
  }
}

TEST_CASE("1 parser and 3 parsers (and 2 readers) load identical databases", "[integration]") {
  TempDir tmp;
  const Result one = run(fmt::format("run {} --sink sqlite:{} --parsers 1 --progress never", kData, tmp / "one.db"));
  REQUIRE(one.exit_code == 0);
  const Result three = run(fmt::format("run {} --sink sqlite:{} --readers 2 --parsers 3 --summary-json {}", kData,
                                       tmp / "three.db", tmp / "three.json"));
  INFO(three.output);
  REQUIRE(three.exit_code == 0);
  const auto parsers = stage_pids(read_text(tmp / "three.json"), "parser");
  CHECK(std::set<long>(parsers.begin(), parsers.end()).size() == 3);
  CHECK(stage_pids(read_text(tmp / "three.json"), "reader").size() == 2);
  const std::string a = Db(tmp / "one.db").dump();
  const std::string b = Db(tmp / "three.db").dump();
  CHECK(a.size() > 1'000'000);
  CHECK(a == b);
}

TEST_CASE("many parsers and writers with small batch chunks: no deadlock, same rows", "[integration][stress]") {
  // Small chunks make most files span several chunks, each pinning a writer to its parser: the
  // shape that can deadlock if a parser's continuation waits on chunks queued at other writers.
  TempDir tmp;
  const Result base = run(fmt::format("run {} --sink sqlite:{} --progress never", kData, tmp / "base.db"));
  REQUIRE(base.exit_code == 0);
  for (int round = 0; round < 3; ++round) {
    const Result null_run =
        run(fmt::format("run {} --sink null: --readers 2 --parsers 3 --writers 3 --batch-size 16 "
                        "--summary-json {}",
                        kData, tmp / "n.json"));
    INFO(null_run.output);
    REQUIRE(null_run.exit_code == 0);
    CHECK(json_number(read_text(tmp / "n.json"), "facts") == 98502);
  }
  const Result sqlite_run =
      run(fmt::format("run {} --sink sqlite:{} --parsers 3 --writers 2 --batch-size 64", kData, tmp / "multi.db"));
  INFO(sqlite_run.output);
  REQUIRE(sqlite_run.exit_code == 0);
  CHECK(Db(tmp / "multi.db").dump() == Db(tmp / "base.db").dump());
}

TEST_CASE("timed commits fall between files, never inside one spanning several chunks", "[integration][slow]") {
  // 16 KiB batches: most chunk boundaries fall inside a file. A writer slowed to 150 ms per file
  // passes its 2 s commit interval many times during the run.
  TempDir tmp;
  const Result r = run(fmt::format("run {} --sink sqlite:{} --batch-size 16", kData, tmp / "t.db"),
                       "EDGARPIPE_TEST_FAULT=slow:writer:150");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  Db db(tmp / "t.db");
  CHECK(db.count("SELECT count(*) FROM facts") == 98502);
  CHECK(db.count("SELECT count(*) FROM filings") == 13888);
}

TEST_CASE("a file named twice (directly, through its directory, or a symlink) is read once", "[integration]") {
  // Files found under a directory get their canonical path from the directory's, not one
  // resolution each; it must match what naming the file directly resolves to.
  TempDir tmp;
  const std::filesystem::path dir = tmp.path / "in" / "submissions";
  std::filesystem::create_directories(dir);
  for (const char* name : {"CIK0000320193.json", "CIK0001800903.json"})
    std::filesystem::copy_file(std::filesystem::path(kData) / "submissions" / name, dir / name);
  std::filesystem::create_symlink(dir / "CIK0000320193.json", dir / "CIK0000999999.json");
  const Result r =
      run(fmt::format("run {}/in/./ {}/CIK0000320193.json {}/../submissions/CIK0001800903.json "
                      "--sink null: --summary-json {}",
                      tmp.path.string(), dir.string(), dir.string(), tmp / "s.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(json_number(read_text(tmp / "s.json"), "files_seen") == 2);
}

TEST_CASE("a rerun skips what is loaded, and a null: run counts without a database", "[integration]") {
  TempDir tmp;
  REQUIRE(run(fmt::format("run {}/submissions --sink sqlite:{}", kData, tmp / "e.db")).exit_code == 0);
  const Result again =
      run(fmt::format("run {}/submissions --sink sqlite:{} --summary-json {}", kData, tmp / "e.db", tmp / "s.json"));
  REQUIRE(again.exit_code == 0);
  const std::string json = read_text(tmp / "s.json");
  CHECK(json_number(json, "files_skipped") == 23);
  CHECK(json_number(json, "files_loaded") == 0);
  Db db(tmp / "e.db");
  CHECK(db.count("SELECT count(*) FROM filings") == 13888);
  CHECK(db.text("SELECT run_id, status, files_loaded, files_skipped FROM ingest_runs ORDER BY run_id") ==
        "1|completed|23|0\n2|completed|0|23");

  const Result null_run = run(fmt::format("run {} --sink null: --summary-json {}", kData, tmp / "n.json"));
  REQUIRE(null_run.exit_code == 0);
  const std::string null_json = read_text(tmp / "n.json");
  CHECK(json_number(null_json, "facts") == 98502);
  CHECK(json_number(null_json, "filings") == 13888);
  CHECK(json_number(null_json, "bytes") == 17369068);
}

TEST_CASE("malformed files next to good ones: each rejected with its reason, every good row loaded",
          "[integration][malformed]") {
  TempDir tmp;
  const fs::path corpus = tmp.path / "corpus" / "submissions";
  fs::create_directories(corpus);
  fs::create_directories(tmp.path / "corpus" / "companyfacts");
  for (const char* good :
       {"CIK0000320193.json", "CIK0001318605.json", "CIK0001318605-submissions-001.json", "CIK0001800903.json"})
    fs::copy_file(kData + "/submissions/" + good, corpus / good);
  fs::copy_file(kData + "/companyfacts/CIK0001835632.json",
                tmp.path / "corpus" / "companyfacts" / "CIK0001835632.json");
  const std::string fund = read_text(kData + "/submissions/CIK0001800903.json");
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(corpus / name, std::ios::binary) << bytes;
  };
  write("CIK0000000001.json", fund.substr(0, 600));  // truncated
  std::string bad_utf8 = fund;
  bad_utf8.insert(200, "\xFF");
  write("CIK0000000002.json", bad_utf8);
  std::string wrong = fund;
  const std::string cik_field = "\"cik\":\"0001800903\"";
  wrong.replace(wrong.find(cik_field), cik_field.size(), "\"cik\":[1]");
  write("CIK0000000003.json", wrong);
  std::string unequal = fund;
  unequal.replace(unequal.find("\"form\":[\"D\"]"), 12, "\"form\":[\"D\",\"D\"]");
  write("CIK0000000004.json", unequal);
  write("CIK0000000005.json", "");
  // A main file that loads but whose overflow page is broken: only the page is rejected.
  write("CIK0000000006-submissions-001.json", "{\"accessionNumber\":[\"a\",\"b\"],\"form\":[\"4\"]}");

  const Result r = run(fmt::format("run {} --sink sqlite:{} --summary-json {}", (tmp.path / "corpus").string(),
                                   tmp / "m.db", tmp / "m.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 3);
  Db db(tmp / "m.db");
  CHECK(db.text("SELECT dataset || '/' || source_file, error FROM ingest_files WHERE status = 'rejected' ORDER BY 1") ==
        "submissions/CIK0000000001.json|invalid JSON: A string is opened, but never closed. (at byte 600)\n"
        "submissions/CIK0000000002.json|invalid UTF-8 (at byte 200)\n"
        "submissions/CIK0000000003.json|cik: expected a string or number, found an array (at byte 7)\n"
        "submissions/CIK0000000004.json|filings.recent: arrays of unequal length (accessionNumber has 1 entries, form "
        "has 2) (at byte 1124)\n"
        "submissions/CIK0000000005.json|empty file (at byte 0)\n"
        "submissions/CIK0000000006-submissions-001.json|columns: arrays of unequal length (accessionNumber has 2 "
        "entries, form has 1) (at byte 36)");
  // Every good row: Apple 1000 + Tesla 1002 + 720 + fund 1 filings; Marvell facts.
  CHECK(db.count("SELECT count(*) FROM filings") == 1000 + 1002 + 720 + 1);
  CHECK(db.count("SELECT count(*) FROM companies") == 3);
  CHECK(db.count("SELECT count(*) FROM facts WHERE cik = 1835632") == 8053);
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded'") == 5);
  // Nothing of a rejected file is in the data tables.
  CHECK(db.count("SELECT count(*) FROM filings WHERE cik IN (1, 2, 3, 4, 5, 6)") == 0);
  CHECK(json_number(read_text(tmp / "m.json"), "files_rejected") == 6);
  // One line per rejected file on stderr, naming the file and the offset.
  CHECK_THAT(r.output,
             Catch::Contains("rejected " + (corpus / "CIK0000000002.json").string() + ": invalid UTF-8 (at byte 200)"));
  CHECK(db.text("SELECT status FROM ingest_runs") == "completed");
}

TEST_CASE("a file past the largest pre-faulted class goes whole through the lazily faulted chunk", "[integration]") {
  TempDir tmp;
  fs::create_directories(tmp.path / "big" / "companyfacts");
  // Apple's facts behind 40 MiB of leading whitespace: larger than the 32 MiB class, so only the
  // --max-file-size chunk (faulted on first use) can carry it; its rows must be the file's own.
  const std::string facts = read_text(kData + "/companyfacts/CIK0000320193.json");
  std::ofstream(tmp.path / "big" / "companyfacts" / "CIK0000320193.json", std::ios::binary)
      << std::string(40 << 20, ' ') << facts;
  const Result r = run(fmt::format("run {} --sink sqlite:{}", (tmp.path / "big").string(), tmp / "big.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const Result small = run(fmt::format("run {}/companyfacts/CIK0000320193.json --sink sqlite:{}", kData, tmp / "s.db"));
  REQUIRE(small.exit_code == 0);
  CHECK(Db(tmp / "big.db").count("SELECT count(*) FROM facts") == Db(tmp / "s.db").count("SELECT count(*) FROM facts"));
  CHECK(Db(tmp / "big.db").count("SELECT count(*) FROM facts") > 20000);
}

TEST_CASE("a file larger than --max-file-size is rejected with its size, the others load", "[integration][malformed]") {
  TempDir tmp;
  const Result r = run(fmt::format("run {}/companyfacts --sink sqlite:{} --max-file-size 2", kData, tmp / "big.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 3);
  Db db(tmp / "big.db");
  // Four companyfacts files are over 2 MiB; Marvell (1.3 MB) and the IFRS file (266 KB) are not.
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'rejected' AND error LIKE "
                 "'file of % bytes is larger than --max-file-size (2097152 bytes)'") == 4);
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded'") == 2);
  CHECK(db.count("SELECT count(*) FROM facts") == 8053 + 768);
}

TEST_CASE("rejects, status, --max-rejects and --retry-rejected", "[integration][malformed]") {
  TempDir tmp;
  const fs::path corpus = tmp.path / "c" / "submissions";
  fs::create_directories(corpus);
  const std::string fund = read_text(kData + "/submissions/CIK0001800903.json");
  for (int i = 1; i <= 4; ++i) std::ofstream(corpus / fmt::format("CIK000000000{}.json", i)) << fund.substr(0, 100 * i);
  fs::copy_file(kData + "/submissions/CIK0000320193.json", corpus / "CIK0000320193.json");
  const std::string db = tmp / "r.db";

  // More rejects than allowed: the run stops and fails.
  const Result capped = run(fmt::format("run {} --sink sqlite:{} --max-rejects 1", (tmp.path / "c").string(), db));
  INFO(capped.output);
  CHECK(capped.exit_code == 1);
  CHECK_THAT(capped.output, Catch::Contains("more than 1 files rejected (--max-rejects)"));
  Db after_cap(db);
  CHECK(after_cap.text("SELECT status FROM ingest_runs") == "failed");

  const Result full = run(fmt::format("run {} --sink sqlite:{}", (tmp.path / "c").string(), db));
  CHECK(full.exit_code == 3);
  const Result rejects = run(fmt::format("rejects --sink sqlite:{}", db));
  CHECK(rejects.exit_code == 0);
  CHECK_THAT(rejects.output, Catch::StartsWith("dataset\tsource_file\tsource_path\trun_id\terror\n"));
  CHECK_THAT(rejects.output, Catch::Contains("submissions\tCIK0000000001.json\t" +
                                             fs::weakly_canonical(corpus).string() + "/CIK0000000001.json\t"));
  CHECK_THAT(rejects.output, Catch::Contains("(at byte 100)"));
  const Result status = run(fmt::format("status --sink sqlite:{} {}", db, (tmp.path / "c").string()));
  CHECK(status.exit_code == 0);
  CHECK(std::regex_search(status.output, std::regex("submissions +rejected +4 ")));
  CHECK(std::regex_search(status.output, std::regex("submissions +1 +0 +0 +4\n")));  // loaded, changed, new, rejected

  // Fix two of the bad files; --retry-rejected takes only the rejected ones (the loaded Apple
  // file is not even read) and loads the fixed two.
  std::string first = fund;
  first.replace(first.find("0001800903"), 10, "0000000001");
  first.replace(first.find("0001800903"), 10, "0000000001");
  std::ofstream(corpus / "CIK0000000001.json") << first;
  std::string other = fund;
  other.replace(other.find("0001800903"), 10, "0000000002");
  other.replace(other.find("0001800903"), 10, "0000000002");
  std::ofstream(corpus / "CIK0000000002.json") << other;
  const Result retry = run(fmt::format("run {} --sink sqlite:{} --retry-rejected --summary-json {}",
                                       (tmp.path / "c").string(), db, tmp / "retry.json"));
  INFO(retry.output);
  CHECK(retry.exit_code == 3);
  CHECK_THAT(retry.output, Catch::Contains("--retry-rejected: 4 of the inputs were rejected before"));
  const std::string json = read_text(tmp / "retry.json");
  CHECK(json_number(json, "files_seen") == 4);
  CHECK(json_number(json, "files_loaded") == 2);
  CHECK(json_number(json, "files_rejected") == 2);
}

TEST_CASE("the summary names the bottleneck stage of rigged runs and suggests a ratio", "[integration][metrics]") {
  TempDir tmp;
  for (const char* slow : {"reader", "writer"}) {
    INFO(slow);
    const Result r = run(fmt::format("run {} --sink null: --summary-json {}", kData, tmp / "m.json"),
                         fmt::format("EDGARPIPE_TEST_FAULT=slow:{}:100", slow));  // ~3 s: dominant even under ASan
    REQUIRE(r.exit_code == 0);
    const std::string json = read_text(tmp / "m.json");
    CHECK_THAT(json, Catch::Contains(fmt::format("\"bottleneck\": \"{}\"", slow)));
    CHECK_THAT(json, Catch::Contains(fmt::format("--{}s ", slow)));  // the suggestion adds to that stage
    CHECK_THAT(r.output, Catch::Contains(fmt::format("bottleneck: {}s", slow)));
    // Every stage reports a busy share between 0 and 1.
    const nlohmann::json busy = nlohmann::json::parse(json)["stage_busy"];
    for (const char* stage : {"reader", "parser", "writer"}) {
      REQUIRE(busy.contains(stage));
      CHECK(busy[stage].get<double>() >= 0.0);
      CHECK(busy[stage].get<double>() <= 1.0);
    }
  }
}

TEST_CASE("the metrics file (--metrics-file) is valid Prometheus text and adds up to the run's totals",
          "[integration][metrics]") {
  TempDir tmp;
  const Result r = run(fmt::format("run {} --sink sqlite:{} --metrics-file {} --summary-json {}", kData, tmp / "m.db",
                                   tmp / "m.prom", tmp / "m.json"));
  REQUIRE(r.exit_code == 0);
  // Parsed by the Prometheus client library's own parser (Debian's python3-prometheus-client),
  // which raises on anything malformed; the script prints the sums it found.
  const std::string script = tmp / "check.py";
  std::ofstream(script) << R"(import sys
from prometheus_client.parser import text_string_to_metric_families
rows = files = waits = finished = written = 0
stage_files, stage_rows, stage_bytes, pools = {}, 0, 0, {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        if s.name == "edgarpipe_rows_total": rows += s.value
        if s.name == "edgarpipe_files_total" and s.labels["outcome"] == "loaded": files += s.value
        if s.name == "edgarpipe_stage_wait_seconds_total": waits += 1
        if s.name == "edgarpipe_stage_files_total":
            stage_files[s.labels["stage"]] = stage_files.get(s.labels["stage"], 0) + s.value
        if s.name == "edgarpipe_stage_rows_total": stage_rows += s.value
        if s.name == "edgarpipe_stage_bytes_total": stage_bytes += s.value
        if s.name == "edgarpipe_pool_chunks_in_use": pools[(s.labels["handoff"], "in_use")] = s.value
        if s.name == "edgarpipe_pool_chunks_capacity": pools[(s.labels["handoff"], "total")] = s.value
        if s.name == "edgarpipe_run_finished": finished = s.value
        if s.name == "edgarpipe_metrics_written_timestamp_seconds": written = s.value
print(int(rows), int(files), waits)
print(int(stage_files["reader"]), int(stage_files["parser"]), int(stage_files["writer"]), int(stage_rows),
      int(stage_bytes))
print(int(pools[("raw", "in_use")]), int(pools[("batch", "in_use")]), int(pools[("raw", "total")]) > 0)
# The text format's rules the library's parser forgives: each family's HELP and TYPE once, and
# all its samples right after them.
seen, family, grouped = set(), None, True
for line in open(sys.argv[1]):
    if line.startswith("# HELP "):
        family = line.split()[2]
        grouped = grouped and family not in seen
        seen.add(family)
    elif not line.startswith("#"):
        grouped = grouped and line.split("{")[0].split()[0] == family
print(int(finished), written > 1.7e9, grouped)
)";
  FILE* pipe = ::popen(fmt::format("/usr/bin/python3 {} {}", script, tmp / "m.prom").c_str(), "r");
  REQUIRE(pipe);
  char buf[256] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, pipe);
  REQUIRE(::pclose(pipe) == 0);
  const std::string json = read_text(tmp / "m.json");
  // rows = the summary's rows_total; files = files_loaded; one wait sample per process and reason.
  // Per stage: every file through each stage, the writers' rows and the readers' bytes are the
  // run's totals; the final snapshot has every pool chunk back (none in use).
  // Prometheus's own checker, where Debian's prometheus package installed it (deploy/install-deps.sh).
  if (::access("/usr/bin/promtool", X_OK) == 0) {
    const Result lint = run_shell(fmt::format("/usr/bin/promtool check metrics < {}", tmp / "m.prom"));
    INFO(lint.output);
    CHECK(lint.exit_code == 0);
  } else {
    WARN("promtool not installed: the metrics file was not checked by it");
  }
  const long files = json_number(json, "files_loaded");
  CHECK(std::string(buf, n) == fmt::format("{} {} {}\n{} {} {} {} {}\n0 0 True\n1 True True\n",
                                           json_number(json, "rows_total"), files, 2 * 4, files, files, files,
                                           json_number(json, "rows_total"), json_number(json, "bytes")));
}

TEST_CASE("the progress line (--progress always) shows totals, rates and an ETA", "[integration]") {
  TempDir tmp;
  // Slowed down (80 ms per file: ~2.3 s) so that several once-a-second lines appear.
  const Result r =
      run(fmt::format("run {} --sink sqlite:{} --progress always --progress-interval 1", kData, tmp / "p.db"),
          "EDGARPIPE_TEST_FAULT=slow:reader:80");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Not a terminal: plain lines, no width limit, so every part shows once rates exist.
  CHECK(std::regex_search(r.output, std::regex(R"(edgarpipe: \d+:\d\d \d+/29 files \d+% \| [0-9.]+/17\.4 MB \| )"
                                               R"(ETA [0-9:-]+ \| [0-9.k]+ files/s [0-9.]+ [kMG]?B/s \| )"
                                               R"([0-9.kM]+ rows/s \| 0 rejected \| busy r \d+% p \d+% w \d+%)")));
  const Result quiet = run(fmt::format("run {} --sink sqlite:{} --progress never", kData, tmp / "q.db"));
  CHECK(quiet.output.find("ETA") == std::string::npos);
}

TEST_CASE("usage errors exit 2 with a message", "[integration]") {
  CHECK(run("").exit_code == 2);
  CHECK(run("frobnicate").exit_code == 2);
  const Result missing = run("run /nonexistent/path --sink null:");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("no such file or directory: /nonexistent/path"));
  CHECK(run(fmt::format("run {} --sink mysql://x", kData)).exit_code == 2);
  CHECK(run(fmt::format("run {} --parsers 0", kData)).exit_code == 2);
  CHECK(run(fmt::format("run {} --bogus", kData)).exit_code == 2);
  CHECK(run(fmt::format("run {} --prune --shard 0/2", kData)).exit_code == 2);  // would delete the other shard
  CHECK(run(fmt::format("run {} --prune --retry-rejected", kData)).exit_code == 2);
  CHECK(run(fmt::format("run {} --max-restarts many", kData)).exit_code == 2);
  CHECK(run(fmt::format("run {} --max-restarts 101", kData)).exit_code == 2);
  // Options files: unreadable, or holding an option run does not know.
  TempDir tmp;
  const Result unreadable = run(fmt::format("run {} --options {}", kData, tmp / "absent.opts"));
  CHECK(unreadable.exit_code == 2);
  CHECK_THAT(unreadable.output, Catch::Contains("--options: cannot read"));
  std::ofstream(tmp / "bad.opts") << "# a comment\n--readers 1\n--frobnicate 2\n";
  const Result bad = run(fmt::format("run {} --options {} --sink null:", kData, tmp / "bad.opts"));
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output, Catch::Contains("unknown option --frobnicate"));
  // tune: no input, a zero sample, a scratch target that is the target, a bad schema name.
  CHECK(run("tune").exit_code == 2);
  CHECK(run(fmt::format("tune {} --sample-mb 0", kData)).exit_code == 2);
  const Result same =
      run(fmt::format("tune {} --sink sqlite:{} --scratch-sink sqlite:{}", kData, tmp / "t.db", tmp / "t.db"));
  CHECK(same.exit_code == 2);
  CHECK_THAT(same.output, Catch::Contains("must not be the --sink target"));
  CHECK(run(fmt::format("tune {} --sink 'postgresql://u@127.0.0.1:1/x?schema=Bad'", kData)).exit_code == 2);
  CHECK_FALSE(fs::exists(tmp / "t.db"));  // nothing was written on the way
  CHECK(run("--help").exit_code == 0);
  const Result schema = run("schema --sink sqlite:x.db");
  CHECK(schema.exit_code == 0);
  CHECK_THAT(schema.output, Catch::Contains("CREATE TABLE IF NOT EXISTS facts"));
}

TEST_CASE("a stage process that dies is restarted and the run ends with exactly one clean load",
          "[integration][crash]") {
  for (const char* stage : {"reader", "parser", "writer"}) {
    INFO(stage);
    TempDir tmp;
    const Result r = run(
        fmt::format("run {} --sink sqlite:{} --summary-json {} --max-restarts 3", kData, tmp / "c.db", tmp / "c.json"),
        fmt::format("EDGARPIPE_TEST_FAULT=kill-first:{}", stage));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains(fmt::format("{} process", stage)));
    CHECK_THAT(r.output, Catch::Contains("killed by signal 9"));
    CHECK_THAT(r.output, Catch::Contains("restart 1 of at most 3"));
    const std::string json = read_text(tmp / "c.json");
    CHECK(json_number(json, "restarts") == 1);
    CHECK(json_number(json, "files_loaded") == 29);
    // Bytes read count each input once, though the restart read some again.
    std::uint64_t input_bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(kData))
      if (e.path().extension() == ".json") input_bytes += fs::file_size(e.path());
    CHECK(json_number(json, "bytes") == static_cast<long>(input_bytes));
    CHECK_FALSE(segments_left_by(json_number(json, "supervisor_pid")));
    Db db(tmp / "c.db");
    CHECK(db.text("SELECT status FROM ingest_runs") == "completed");
    CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded'") == 29);
    CHECK(db.count("SELECT count(*) FROM filings") == 13888);
    CHECK(db.count("SELECT count(*) FROM facts") == 98502);
  }
}

TEST_CASE("a stage that keeps dying fails the run cleanly after --max-restarts", "[integration][crash]") {
  for (const char* stage : {"reader", "parser", "writer"}) {
    INFO(stage);
    TempDir tmp;
    const Result r = run(
        fmt::format("run {} --sink sqlite:{} --summary-json {} --max-restarts 1", kData, tmp / "c.db", tmp / "c.json"),
        fmt::format("EDGARPIPE_TEST_FAULT=kill:{}", stage));
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains(fmt::format("{} process", stage)));
    CHECK_THAT(r.output, Catch::Contains("after 1 restarts (--max-restarts)"));
    Db db(tmp / "c.db");
    CHECK(db.text("SELECT status FROM ingest_runs") == "failed");
    // Whatever was committed is whole files only: every loaded file has all its rows.
    CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded' AND rows = 0") == 0);
    const std::string json = read_text(tmp / "c.json");
    CHECK_THAT(json, Catch::Contains("\"status\": \"failed\""));
    // The supervisor's own segments are gone (its pid is in their names).
    CHECK_FALSE(segments_left_by(json_number(json, "supervisor_pid")));
  }
  TempDir tmp;
  const Result at_once = run(fmt::format("run {} --sink sqlite:{} --max-restarts 0", kData, tmp / "c.db"),
                             "EDGARPIPE_TEST_FAULT=kill-first:writer");
  CHECK(at_once.exit_code == 1);
  CHECK_THAT(at_once.output, Catch::Contains("writer process"));
}

TEST_CASE("a file that crashes the parser twice is rejected with that reason and the rest loads exactly",
          "[integration][crash]") {
  TempDir tmp;
  const Result r = run(fmt::format("run {} --sink sqlite:{} --max-restarts 3", kData, tmp / "p.db"),
                       "EDGARPIPE_TEST_FAULT=crash-on:companyfacts/CIK0000320193");
  INFO(r.output);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, Catch::Contains("restart 2 of at most 3"));  // the file's two crashes, no third
  CHECK_THAT(r.output, !Catch::Contains("restart 3 of"));
  CHECK_THAT(r.output, Catch::Contains("killed by signal 11 while holding " +
                                       fs::weakly_canonical(kData + "/companyfacts/CIK0000320193.json").string()));
  const Result clean = run(fmt::format("run {} --sink sqlite:{}", kData, tmp / "clean.db"));
  REQUIRE(clean.exit_code == 0);
  Db db(tmp / "p.db");
  Db reference(tmp / "clean.db");
  CHECK(db.text("SELECT error FROM ingest_files WHERE status = 'rejected'") ==
        "the parser process died twice while parsing this file (last: killed by signal 11); not tried again");
  CHECK(db.text("SELECT dataset || '/' || source_file FROM ingest_files WHERE status = 'rejected'") ==
        "companyfacts/CIK0000320193.json");
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded'") == 28);
  CHECK(db.count("SELECT count(*) FROM filings") == 13888);
  CHECK(db.count("SELECT count(*) FROM facts") == reference.count("SELECT count(*) FROM facts WHERE cik <> 320193"));
  CHECK(db.count("SELECT count(*) FROM entities") == reference.count("SELECT count(*) FROM entities") - 1);
}

TEST_CASE("Ctrl-C drains what is in flight, marks the run interrupted and exits 130", "[integration][signal]") {
  TempDir tmp;
  const std::string db_path = tmp / "i.db";
  const pid_t pid = start_slow_run(db_path, 100);  // 100 ms per file: the run takes ~3 s
  // Interrupt once the load is under way (a file committed), not after a guessed delay: a slow
  // machine must not turn this into a test of start-up.
  wait_for_a_commit(db_path);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK_FALSE(segments_left_by(pid));
  Db db(db_path);
  CHECK(db.text("SELECT status FROM ingest_runs") == "interrupted");
  const long loaded = db.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded'");
  CHECK(loaded > 0);
  CHECK(loaded < 29);
  // A rerun loads exactly what is missing and ends with the full content.
  const Result rest = run(fmt::format("run {} --sink sqlite:{} --summary-json {}", kData, db_path, tmp / "r.json"));
  REQUIRE(rest.exit_code == 0);
  CHECK(json_number(read_text(tmp / "r.json"), "files_skipped") == loaded);
  Db after(db_path);
  CHECK(after.count("SELECT count(*) FROM filings") == 13888);
  CHECK(after.count("SELECT count(*) FROM facts") == 98502);
}

TEST_CASE("a run marks dead runs interrupted, never one that is alive", "[integration][crash]") {
  TempDir tmp;
  const std::string db_path = tmp / "l.db";
  REQUIRE(std::system(fmt::format("{}/edgarpipe-gen --out {} --submissions 1 --companyfacts 0 --first-cik 990000000 "
                                  ">/dev/null",
                                  kBin, tmp / "other")
                          .c_str()) == 0);
  const pid_t live = start_slow_run(db_path, 150);  // a live run of ~4 s
  wait_for_a_commit(db_path);
  // Another run on the same database meanwhile must leave the live one alone.
  const Result other = run(fmt::format("run {} --sink sqlite:{}", tmp / "other", db_path));
  CHECK(other.exit_code == 0);
  CHECK_THAT(other.output, !Catch::Contains("marked interrupted"));
  CHECK(Db(db_path).text("SELECT status FROM ingest_runs WHERE run_id = 1") == "running");
  // Now kill the live run's supervisor: its stages die with it, and the next run marks it.
  ::kill(live, SIGKILL);
  int status = 0;
  ::waitpid(live, &status, 0);
  const Result next = run(fmt::format("run {} --sink sqlite:{}", kData, db_path));
  INFO(next.output);
  CHECK(next.exit_code == 0);
  CHECK_THAT(next.output, Catch::Contains("1 earlier run died without finishing"));
  Db db(db_path);
  CHECK(db.text("SELECT status FROM ingest_runs WHERE run_id = 1") == "interrupted");
  CHECK(db.count("SELECT count(*) FROM ingest_runs WHERE status = 'running'") == 0);
  CHECK(db.count("SELECT count(*) FROM filings WHERE cik < 990000000") == 13888);
  CHECK(db.count("SELECT count(*) FROM facts") == 98502);
}
