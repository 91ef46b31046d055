// Zip archives as inputs (built here with libzip, the way the SEC's archives are laid out) and
// sharding. Each test runs the real executables into real SQLite files.
#include <sqlite3.h>
#include <zip.h>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "run_helpers.hpp"
#include "sqlite_db.hpp"

namespace fs = std::filesystem;
using namespace edgarpipe::test;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes an archive of (name, bytes) members; `store` keeps members uncompressed.
void write_zip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& members,
               bool store = false) {
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  REQUIRE(z != nullptr);
  for (const auto& [name, bytes] : members) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    REQUIRE(src != nullptr);
    const zip_int64_t index = zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_UTF_8);
    REQUIRE(index >= 0);
    if (store) REQUIRE(zip_set_file_compression(z, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0) == 0);
  }
  REQUIRE(zip_close(z) == 0);  // the buffers above stay alive until here
}

// Every data file of tests/data as (path relative to tests/data, bytes).
std::vector<std::pair<std::string, std::string>> sample_members() {
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& e : fs::recursive_directory_iterator(kData))
    if (e.is_regular_file() && e.path().extension() == ".json")
      members.emplace_back(e.path().lexically_relative(kData).generic_string(), read_bytes(e.path()));
  return members;
}

}  // namespace

TEST_CASE("the same corpus as a directory and as a zip loads identical content", "[zip]") {
  TempDir tmp;
  write_zip(tmp.path / "samples.zip", sample_members());
  REQUIRE(run(fmt::format("run {} --sink sqlite:{}", kData, tmp / "dir.db")).exit_code == 0);
  const Result r = run(fmt::format("run {} --sink sqlite:{}", (tmp.path / "samples.zip").string(), tmp / "zip.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string from_dir = Db(tmp / "dir.db").dump(), from_zip = Db(tmp / "zip.db").dump();
  CHECK(from_dir.size() > 1'000'000);
  CHECK(from_dir == from_zip);  // rows, and ingest_files down to source names and content hashes
}

TEST_CASE("a ZIP64 archive with more than 65,535 members loads completely", "[zip][slow]") {
  TempDir tmp;
  const std::string fund = read_bytes(fs::path(kData) / "submissions" / "CIK0001800903.json");
  constexpr int kMembers = 70'000;
  std::vector<std::pair<std::string, std::string>> members;
  members.reserve(kMembers);
  for (int i = 1; i <= kMembers; ++i) {
    // Distinct filers: the CIK in the name and in the document.
    std::string body = fund;
    const std::string cik = fmt::format("{:010d}", 10'000'000 + i);
    body.replace(body.find("0001800903"), 10, cik);
    members.emplace_back(fmt::format("submissions/CIK{}.json", cik), std::move(body));
  }
  write_zip(tmp.path / "many.zip", members);
  REQUIRE(read_bytes(tmp.path / "many.zip").find(std::string("PK\x06\x06", 4)) != std::string::npos);  // ZIP64 EOCD
  const Result r = run(fmt::format("run {} --sink sqlite:{} --summary-json {}", (tmp.path / "many.zip").string(),
                                   tmp / "many.db", tmp / "s.json"));
  INFO(r.output.substr(0, 2000));
  REQUIRE(r.exit_code == 0);
  Db db(tmp / "many.db");
  CHECK(db.count("SELECT count(*) FROM companies") == kMembers);
  CHECK(db.count("SELECT count(*) FROM filings") == kMembers);
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'loaded'") == kMembers);
}

TEST_CASE("hostile and broken archives: each gets its verdict, the good members still load", "[zip][malformed]") {
  TempDir tmp;
  const std::string apple = read_bytes(fs::path(kData) / "submissions" / "CIK0000320193.json");
  const std::string fund = read_bytes(fs::path(kData) / "submissions" / "CIK0001800903.json");

  // CRC mismatch: a stored member whose bytes are changed after the archive was written.
  write_zip(tmp.path / "crc.zip", {{"CIK0000320193.json", apple}, {"CIK0001800903.json", fund}}, /*store=*/true);
  std::string crc = read_bytes(tmp.path / "crc.zip");
  const auto at = crc.find("\"name\":\"Apple Inc.\"");
  REQUIRE(at != std::string::npos);
  crc[at + 9] = 'X';
  std::ofstream(tmp.path / "crc.zip", std::ios::binary) << crc;

  // A zip bomb: 64 MiB of spaces compress about 1000:1.
  write_zip(tmp.path / "bomb.zip", {{"CIK0000000777.json", std::string(64 << 20, ' ')}});

  // A truncated archive: no central directory.
  write_zip(tmp.path / "whole.zip",
            {{"CIK0001318605.json", read_bytes(fs::path(kData) / "submissions" / "CIK0001318605.json")}});
  const std::string whole = read_bytes(tmp.path / "whole.zip");
  std::ofstream(tmp.path / "truncated.zip", std::ios::binary) << whole.substr(0, whole.size() / 2);
  fs::remove(tmp.path / "whole.zip");

  // A member that is not JSON, and one that is not named *.json (ignored).
  write_zip(tmp.path / "mixed.zip",
            {{"CIK0000000009.json", "<Error><Code>NoSuchKey</Code></Error>"},
             {"README.txt", "not data"},
             {"CIK0001324424.json", read_bytes(fs::path(kData) / "submissions" / "CIK0001324424.json")}});

  const Result r = run(fmt::format("run {} {} {} {} --sink sqlite:{}", (tmp.path / "crc.zip").string(),
                                   (tmp.path / "bomb.zip").string(), (tmp.path / "truncated.zip").string(),
                                   (tmp.path / "mixed.zip").string(), tmp / "h.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 3);
  Db db(tmp / "h.db");
  CHECK_THAT(db.text("SELECT error FROM ingest_files WHERE source_file = 'CIK0000320193.json'"),
             Catch::Contains("CRC"));
  CHECK_THAT(db.text("SELECT error FROM ingest_files WHERE source_file = 'CIK0000000777.json'"),
             Catch::Contains("zip bomb?") && Catch::Contains("bomb.zip"));
  CHECK_THAT(db.text("SELECT error FROM ingest_files WHERE source_file = 'truncated.zip'"),
             Catch::Contains("cannot read zip archive") && Catch::Contains("truncated.zip"));
  CHECK_THAT(db.text("SELECT error FROM ingest_files WHERE source_file = 'CIK0000000009.json'"),
             Catch::Contains("invalid JSON"));
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE source_file = 'README.txt'") == 0);
  // The good members: the fund (1 filing) from crc.zip and Expedia (1002) from mixed.zip.
  CHECK(db.text("SELECT cik FROM companies ORDER BY cik") == "1324424\n1800903");
  CHECK(db.count("SELECT count(*) FROM filings") == 1 + 1002);
  CHECK(db.count("SELECT count(*) FROM ingest_files WHERE status = 'rejected'") == 4);
  CHECK_THAT(r.output, Catch::Contains("mixed.zip:CIK0000000009.json: invalid JSON"));
}

// The member's uncompressed size, as both its local header and the central directory declare it.
static void declare_size(std::string& archive, std::uint32_t size) {
  for (const auto& [signature, offset] :
       {std::pair{std::string("PK\x03\x04", 4), 22}, {std::string("PK\x01\x02", 4), 24}}) {
    const auto at = archive.find(signature);
    REQUIRE(at != std::string::npos);
    for (int b = 0; b < 4; ++b) archive[at + offset + b] = static_cast<char>((size >> (8 * b)) & 0xff);
  }
}

TEST_CASE("deflated members that lie about their size or are damaged are rejected by name", "[zip][malformed]") {
  TempDir tmp;
  const std::string tesla = read_bytes(fs::path(kData) / "submissions" / "CIK0001318605.json");
  const auto size = static_cast<std::uint32_t>(tesla.size());
  write_zip(tmp.path / "one.zip", {{"CIK0001318605.json", tesla}});
  const std::string good = read_bytes(tmp.path / "one.zip");
  std::string shorter = good, longer = good, damaged = good;
  declare_size(shorter, size - 100);                             // inflates past what it declares
  declare_size(longer, size + 100);                              // inflates to less
  damaged[good.find("CIK0001318605.json") + 18 + 2000] ^= 0x55;  // inside the deflate stream
  for (const auto& [name, bytes] : {std::pair{"shorter", shorter}, {"longer", longer}, {"damaged", damaged}})
    std::ofstream(tmp.path / fmt::format("{}.zip", name), std::ios::binary) << bytes;

  for (const auto& [name, words] :
       {std::pair{"shorter", fmt::format("inflates past its declared {} bytes", size - 100)},
        {"longer", fmt::format("inflates to {} bytes, not its declared {}", size, size + 100)},
        {"damaged", std::string()}}) {
    const Result r = run(fmt::format("run {} --sink sqlite:{}", (tmp.path / fmt::format("{}.zip", name)).string(),
                                     tmp / fmt::format("{}.db", name)));
    INFO(r.output);
    CHECK(r.exit_code == 3);
    Db db(tmp / fmt::format("{}.db", name));
    const std::string error = db.text("SELECT error FROM ingest_files WHERE source_file = 'CIK0001318605.json'");
    CHECK_THAT(error, Catch::Contains("member CIK0001318605.json of ") && Catch::Contains(fmt::format("{}.zip", name)));
    if (words.empty())  // which check catches it depends on the byte: the stream or its CRC-32
      CHECK_THAT(error, Catch::Contains("invalid deflate data") || Catch::Contains("CRC-32"));
    else
      CHECK_THAT(error, Catch::Contains(words));
    CHECK(db.count("SELECT count(*) FROM filings") == 0);
  }
  // The intact archive loads: the checks above are the lies, not the path.
  const Result r = run(fmt::format("run {} --sink sqlite:{}", (tmp.path / "one.zip").string(), tmp / "good.db"));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(Db(tmp / "good.db").count("SELECT count(*) FROM filings") > 1000);
}

TEST_CASE("member names with .. or an absolute path are only names: nothing is written to disk", "[zip]") {
  TempDir tmp;
  const std::string fund = read_bytes(fs::path(kData) / "submissions" / "CIK0001800903.json");
  write_zip(tmp.path / "sly.zip", {{"../../escape/CIK0001800903.json", fund}, {"/abs/CIK0000000001.json", "{}"}});
  const Result r = run(fmt::format("run {} --sink sqlite:{}", (tmp.path / "sly.zip").string(), tmp / "sly.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  Db db(tmp / "sly.db");
  const std::string archive = fs::weakly_canonical(tmp.path / "sly.zip").string();
  CHECK(db.text("SELECT source_file, source_path FROM ingest_files ORDER BY 1") ==
        "CIK0000000001.json|" + archive + ":/abs/CIK0000000001.json\nCIK0001800903.json|" + archive +
            ":../../escape/CIK0001800903.json");
  CHECK(db.count("SELECT count(*) FROM filings WHERE cik = 1800903") == 1);
  CHECK_FALSE(fs::exists(tmp.path.parent_path().parent_path() / "escape"));
  CHECK_FALSE(fs::exists("/abs"));
}

TEST_CASE("shards: the union of --shard 0/3, 1/3 and 2/3 equals one full run, filers kept whole", "[zip][shard]") {
  TempDir tmp;
  REQUIRE(run(fmt::format("run {} --sink sqlite:{}", kData, tmp / "full.db")).exit_code == 0);
  for (int i = 0; i < 3; ++i) {
    const Result r = run(fmt::format("run {} --sink sqlite:{} --shard {}/3 --summary-json {}", kData,
                                     tmp / "sharded.db", i, tmp / fmt::format("s{}.json", i)));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(read_bytes(tmp.path / fmt::format("s{}.json", i)).find("\"files_loaded\": 0,") == std::string::npos);
  }
  Db full(tmp / "full.db"), sharded(tmp / "sharded.db");
  CHECK(full.dump() == sharded.dump());
  // A filer's main file and its overflow pages were loaded by the same shard's run.
  CHECK(sharded.count("SELECT count(*) FROM ingest_files a JOIN ingest_files b ON a.cik = b.cik AND "
                      "a.dataset = 'submissions' AND b.dataset = 'submissions' AND a.run_id <> b.run_id") == 0);
  CHECK(run(fmt::format("run {} --sink null: --shard 3/3", kData)).exit_code == 2);
}
