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
  for (const std::string input : {tmp / "dir", tmp / "c.zip"}) {
    INFO(input);
    const std::string db_path = input + ".db";
    const Result r = run(fmt::format("run {} --sink sqlite:{}", input, db_path));
    CHECK(r.exit_code == 3);  // some files are rejected, on purpose
    Db db(db_path);
    std::map<std::string, std::string> got;
    std::istringstream rows(db.text("SELECT source_file, status FROM ingest_files"));
    std::string line;
    while (std::getline(rows, line)) got[line.substr(0, line.find('|'))] = line.substr(line.find('|') + 1);
    CHECK(got == want);
  }
}
