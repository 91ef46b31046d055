// edgarpipe-gen: reproducible corpora shaped like the real datasets, and every generated file,
// malformed ones included, gets exactly the verdict expected.tsv names when loaded.
#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "run_helpers.hpp"
#include "sqlite_db.hpp"

namespace fs = std::filesystem;
using namespace edgarpipe::test;

namespace {

int gen(const std::string& args) { return std::system((kBin + "/edgarpipe-gen " + args + " 2>/dev/null").c_str()); }

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// source file -> expected verdict, from expected.tsv.
std::map<std::string, std::string> expected(const fs::path& tsv) {
  std::map<std::string, std::string> m;
  std::ifstream in(tsv);
  std::string name, verdict, kind;
  while (std::getline(in, name, '\t') && std::getline(in, verdict, '\t') && std::getline(in, kind)) m[name] = verdict;
  return m;
}

}  // namespace

TEST_CASE("edgarpipe-gen: the same seed gives the same bytes, another seed another corpus", "[gen]") {
  TempDir tmp;
  REQUIRE(gen(fmt::format("--out {} --submissions 300 --companyfacts 4 --malformed 10 --seed 42", tmp / "a")) == 0);
  REQUIRE(gen(fmt::format("--out {} --submissions 300 --companyfacts 4 --malformed 10 --seed 42", tmp / "b")) == 0);
  REQUIRE(gen(fmt::format("--out {} --submissions 300 --companyfacts 4 --malformed 10 --seed 43", tmp / "c")) == 0);
  std::size_t files = 0, differing = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp.path / "a")) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = e.path().lexically_relative(tmp.path / "a");
    ++files;
    CHECK(read_bytes(e.path()) == read_bytes(tmp.path / "b" / rel));
    if (!fs::exists(tmp.path / "c" / rel) || read_bytes(e.path()) != read_bytes(tmp.path / "c" / rel)) ++differing;
  }
  CHECK(files > 300);
  CHECK(differing > files / 2);
}

TEST_CASE("edgarpipe-gen: sizes shaped like the real datasets", "[gen]") {
  TempDir tmp;
  REQUIRE(gen(fmt::format("--out {} --submissions 3000 --companyfacts 40 --seed 5", tmp / "g")) == 0);
  std::uint64_t main_files = 0, main_bytes = 0, facts_files = 0, facts_bytes = 0;
  std::set<std::string> filers_with_pages;
  for (const auto& e : fs::recursive_directory_iterator(tmp.path / "g")) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    if (name.find("-submissions-") != std::string::npos)
      filers_with_pages.insert(name.substr(0, 13));
    else if (e.path().parent_path().filename() == "submissions")
      ++main_files, main_bytes += e.file_size();
    else
      ++facts_files, facts_bytes += e.file_size();
  }
  REQUIRE(main_files == 3000);
  REQUIRE(facts_files == 40);
  const double main_kb = static_cast<double>(main_bytes) / main_files / 1000;
  const double facts_kb = static_cast<double>(facts_bytes) / facts_files / 1000;
  const double with_pages = 100.0 * filers_with_pages.size() / main_files;
  INFO("main files " << main_kb << " KB, companyfacts " << facts_kb << " KB, " << with_pages << "% with pages");
  // The real datasets: ~9.4 KB, ~600 KB, ~3% (bounds allow for sampling at this size).
  CHECK(main_kb > 6);
  CHECK(main_kb < 14);
  CHECK(facts_kb > 150);
  CHECK(facts_kb < 2000);
  CHECK(with_pages > 1.5);
  CHECK(with_pages < 5);
}

TEST_CASE("a generated corpus with every malformed kind loads with exactly the expected verdicts", "[gen][malformed]") {
  TempDir tmp;
  REQUIRE(gen(fmt::format("--out {} --submissions 400 --companyfacts 6 --malformed 30 --seed 11", tmp / "dir")) == 0);
  REQUIRE(gen(fmt::format("--zip {} --submissions 400 --companyfacts 6 --malformed 30 --seed 11", tmp / "c.zip")) == 0);
  const auto want = expected(tmp.path / "dir" / "expected.tsv");
  REQUIRE(want == expected(tmp / "c.zip.expected.tsv"));
  for (const std::string& input : {tmp / "dir", tmp / "c.zip"}) {
    INFO(input);
    const std::string db_path = input + ".db";
    const Result r = run(fmt::format("run {} --sink sqlite:{}", input, db_path));
    CHECK(r.exit_code == 3);  // some files are rejected, on purpose
    Db db(db_path);
    std::map<std::string, std::string> got;
    std::istringstream rows(db.text("SELECT dataset || '/' || source_file, status FROM ingest_files"));
    std::string line;
    while (std::getline(rows, line)) got[line.substr(0, line.find('|'))] = line.substr(line.find('|') + 1);
    CHECK(got == want);
  }
}

TEST_CASE("a malformed corpus of 18 kinds: each file rejected with its reason, every good file loaded, no crash",
          "[gen][malformed]") {
  TempDir tmp;
  // The generator's 9 malformed kinds (one file each), among good generated files.
  REQUIRE(gen(fmt::format("--out {} --submissions 40 --companyfacts 3 --malformed 9 --seed 3", tmp / "c")) == 0);
  auto want = expected(tmp.path / "c" / "expected.tsv");
  std::set<std::string> kinds;
  {
    std::ifstream in(tmp.path / "c" / "expected.tsv");
    std::string name, verdict, kind;
    while (std::getline(in, name, '\t') && std::getline(in, verdict, '\t') && std::getline(in, kind))
      if (verdict == "rejected") kinds.insert(kind);
  }
  REQUIRE(kinds.size() == 9);
  // Nine more, made by hand from a real file, with the reason each must get.
  const std::string fund = read_bytes(kData + "/submissions/CIK0001800903.json");
  const std::string facts = read_bytes(kData + "/companyfacts/CIK0001835632.json");
  const auto replace = [](std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  std::string utf16 = "\xFF\xFE";
  for (char c : fund) utf16 += std::string{c, '\0'};
  const std::map<std::string, std::pair<std::string, std::string>> hand = {
      {"submissions/CIK0000000011.json", {"[" + fund + "]", "expected a JSON object at the top level (at byte 0)"}},
      {"submissions/CIK0000000012.json",
       {fund + " {}", fmt::format("trailing content after the JSON document (at byte {})", fund.size() + 1)}},
      {"submissions/CIK0000000013.json",
       {replace(fund, "\"cik\":\"0001800903\"", "\"cik\":\"12345678901\""),
        "cik: \"12345678901\" is not a CIK (1 to 10 digits) (at byte 7)"}},
      {"submissions/CIK0000000014.json", {" \n\t ", "no JSON document, only whitespace (at byte 0)"}},
      {"submissions/CIK0000000015.json", {utf16, "UTF-16 text (byte order mark); EDGAR JSON is UTF-8 (at byte 0)"}},
      {"submissions/CIK0000000016.json",
       {replace(fund, "\"filingDate\":[\"", "\"filingDate\":[\"2020-13-45"),
        "filings.recent.filingDate: \"2020-13-45"}},
      {"companyfacts/CIK0000000017.json",
       {replace(facts, "\"facts\":{", "\"facts\":[1],\"x\":{"), "facts: expected an object, found an array"}},
      {"companyfacts/CIK0000000018.json", {replace(facts, "\"end\":", "\"End\":"), "fact without an \"end\" date"}},
      {"companyfacts/CIK0000000019.json",
       {replace(facts, "\"val\":", "\"val\":\"12abc\",\"v\":"), "val: expected a number, found a string"}},
  };
  for (const auto& [name, content] : hand) {
    std::ofstream(tmp.path / "c" / name, std::ios::binary) << content.first;
    want[name] = "rejected";
  }
  const Result r = run(
      fmt::format("run {} --sink sqlite:{} --parsers 2 --summary-json {}", tmp / "c", tmp / "c.db", tmp / "c.json"));
  INFO(r.output);
  CHECK(r.exit_code == 3);
  CHECK_THAT(read_bytes(tmp / "c.json"), Catch::Contains("\"restarts\": 0"));  // no process crashed
  Db db(tmp / "c.db");
  CHECK(db.text("SELECT status FROM ingest_runs") == "completed");
  std::map<std::string, std::string> got;
  std::istringstream rows(db.text("SELECT dataset || '/' || source_file, status FROM ingest_files"));
  std::string line;
  while (std::getline(rows, line)) got[line.substr(0, line.find('|'))] = line.substr(line.find('|') + 1);
  CHECK(got == want);  // every good file loaded, every bad one rejected
  for (const auto& [name, content] : hand) {
    INFO(name);
    // The reason, with the byte offset where the parser knows it.
    const std::string error =
        db.text(fmt::format("SELECT error FROM ingest_files WHERE dataset || '/' || source_file = '{}'", name));
    CHECK_THAT(error, Catch::StartsWith(content.second));
    CHECK_THAT(error, Catch::Contains("(at byte "));
  }
}
