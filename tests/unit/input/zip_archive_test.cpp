// The zip reader of input/ against archives written by libzip (the writer most tools use):
// stored and deflated members read whole and in part, names in CP437, a stub before the archive,
// methods and encryption it does not read, an archive replaced after listing, and files that are
// not archives. Each refusal is a reason naming the member and the archive.
#include <unistd.h>
#include <zip.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "edgarpipe/input/zip_archive.hpp"

using namespace edgarpipe;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path = fs::temp_directory_path() / ("edgarpipe-zip-test-" + std::to_string(::getpid()));
  Dir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Dir() { fs::remove_all(path); }
};

struct Member {
  std::string name, bytes;
  zip_int32_t method = ZIP_CM_DEFLATE;
  zip_flags_t encoding = ZIP_FL_ENC_UTF_8;
};

void write_zip(const fs::path& path, const std::vector<Member>& members) {
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  REQUIRE(z != nullptr);
  for (const Member& m : members) {
    zip_source_t* src = zip_source_buffer(z, m.bytes.data(), m.bytes.size(), 0);
    REQUIRE(src != nullptr);
    const zip_int64_t index = zip_file_add(z, m.name.c_str(), src, m.encoding);
    REQUIRE(index >= 0);
    REQUIRE(zip_set_file_compression(z, static_cast<zip_uint64_t>(index), m.method, 0) == 0);
  }
  REQUIRE(zip_close(z) == 0);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A JSON-like text that compresses as real documents do (~10:1), `n` bytes.
std::string document(std::size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::string s = "{\"cik\":" + std::to_string(seed) + ",\"filings\":[";
  while (s.size() < n) s += "{\"form\":\"10-K\",\"accession\":\"0000" + std::to_string(random() % 100000) + "\"},";
  s.resize(n);
  return s;
}

std::map<std::string, ZipEntry> listing(const fs::path& archive, std::string* error = nullptr) {
  std::map<std::string, ZipEntry> entries;
  const std::string why = list_zip(archive.string(), [&](const ZipEntry& e) {
    const auto it = entries.emplace(std::string(e.name), e).first;
    it->second.name = it->first;  // the listing's name lives only for the call
  });
  if (error != nullptr)
    *error = why;
  else
    REQUIRE(why.empty());
  return entries;
}

std::string read_member(ZipReader& zips, const fs::path& archive, const std::string& name, const ZipEntry& e,
                        std::size_t bytes, std::string& error) {
  std::string out(bytes, '\0');
  error = zips.read(archive.string(), e.directory_offset, name, e.size,
                    std::span(reinterpret_cast<std::byte*>(out.data()), out.size()));
  return out;
}

}  // namespace

TEST_CASE("stored and deflated members are listed with their sizes and read whole or in part", "[zip]") {
  Dir dir;
  const std::string big = document(300000, 1), small = document(5000, 2), empty;
  write_zip(dir.path / "a.zip", {{"sub/CIK0000000001.json", big},
                                 {"CIK0000000002.json", small, ZIP_CM_STORE},
                                 {"empty.json", empty},
                                 {"folder/", ""}});
  const auto entries = listing(dir.path / "a.zip");
  REQUIRE(entries.size() == 4);
  CHECK(entries.at("folder/").is_directory());
  CHECK(entries.at("sub/CIK0000000001.json").method == 8);
  CHECK(entries.at("sub/CIK0000000001.json").compressed_size < big.size() / 3);
  CHECK(entries.at("CIK0000000002.json").method == 0);

  ZipReader zips;
  for (const auto& [name, content] : {std::pair<std::string, std::string>{"sub/CIK0000000001.json", big},
                                      {"CIK0000000002.json", small},
                                      {"empty.json", empty}}) {
    INFO(name);
    const ZipEntry& e = entries.at(name);
    CHECK(e.size == content.size());
    std::string error;
    CHECK(read_member(zips, dir.path / "a.zip", name, e, e.size, error) == content);
    CHECK(error.empty());
    const std::size_t head = std::min<std::size_t>(4096, content.size());
    CHECK(read_member(zips, dir.path / "a.zip", name, e, head, error) == content.substr(0, head));
    CHECK(error.empty());
  }
}

TEST_CASE("a stub before the archive (a self-extractor) shifts every offset: still read", "[zip]") {
  Dir dir;
  const std::string doc = document(20000, 3);
  write_zip(dir.path / "plain.zip", {{"CIK0000000003.json", doc}});
  std::ofstream(dir.path / "stub.zip", std::ios::binary) << std::string(777, 'X') << read_file(dir.path / "plain.zip");
  const auto entries = listing(dir.path / "stub.zip");
  ZipReader zips;
  std::string error;
  CHECK(read_member(zips, dir.path / "stub.zip", "CIK0000000003.json", entries.at("CIK0000000003.json"), doc.size(),
                    error) == doc);
  CHECK(error.empty());
}

TEST_CASE("a name that is not valid UTF-8 is read as CP437", "[zip]") {
  Dir dir;
  write_zip(dir.path / "dos.zip", {{"\x81"
                                    "ber.json",
                                    "{}", ZIP_CM_STORE, ZIP_FL_ENC_RAW},
                                   {"caf\xc3\xa9.json", "{}", ZIP_CM_STORE, ZIP_FL_ENC_RAW}});
  const auto entries = listing(dir.path / "dos.zip");
  CHECK(entries.count("\xc3\xbc"
                      "ber.json") == 1);          // 0x81 is u-umlaut in CP437
  CHECK(entries.count("caf\xc3\xa9.json") == 1);  // valid UTF-8 stays as it is

  // Flagged UTF-8 (bit 11, in both headers) yet not UTF-8: damaged; read as CP437 all the same,
  // since no database text holds invalid UTF-8.
  std::string flagged = read_file(dir.path / "dos.zip");
  for (const auto& [signature, offset] :
       {std::pair{std::string("PK\x03\x04", 4), 7}, {std::string("PK\x01\x02", 4), 9}})
    flagged[flagged.find(signature) + offset] |= 0x08;
  std::ofstream(dir.path / "flagged.zip", std::ios::binary) << flagged;
  CHECK(listing(dir.path / "flagged.zip")
            .count("\xc3\xbc"
                   "ber.json") == 1);
}

TEST_CASE("damaged members: each reason names the member and the archive", "[zip][malformed]") {
  Dir dir;
  const std::string doc = document(50000, 4);
  write_zip(dir.path / "a.zip", {{"CIK0000000004.json", doc, ZIP_CM_STORE}, {"CIK0000000005.json", doc}});
  ZipReader zips;
  std::string error;

  SECTION("a changed stored byte fails the CRC-32") {
    std::string bytes = read_file(dir.path / "a.zip");
    bytes[bytes.find("{\"cik\":4") + 20] ^= 1;
    std::ofstream(dir.path / "a.zip", std::ios::binary) << bytes;
    const auto entries = listing(dir.path / "a.zip");
    read_member(zips, dir.path / "a.zip", "CIK0000000004.json", entries.at("CIK0000000004.json"), doc.size(), error);
    CHECK_THAT(error, Catch::Contains("member CIK0000000004.json of ") && Catch::Contains("a.zip") &&
                          Catch::Contains("CRC-32"));
  }
  SECTION("an archive replaced after it was listed is not read under the old names") {
    const auto entries = listing(dir.path / "a.zip");
    write_zip(dir.path / "a.zip", {{"CIK0000000005.json", doc}, {"CIK0000000004.json", doc, ZIP_CM_STORE}});
    ZipReader fresh;  // a reader that opens the new archive
    read_member(fresh, dir.path / "a.zip", "CIK0000000004.json", entries.at("CIK0000000004.json"), doc.size(), error);
    CHECK_THAT(error, Catch::Contains("changed since it was listed"));
  }
  SECTION("a method other than stored or deflated is refused by name") {
    // LZMA (14) declared in the local header and the directory entry of a stored member.
    std::string bytes = read_file(dir.path / "a.zip");
    for (const auto& [signature, offset] :
         {std::pair{std::string("PK\x03\x04", 4), 8}, {std::string("PK\x01\x02", 4), 10}})
      bytes[bytes.find(signature) + offset] = 14;
    std::ofstream(dir.path / "a.zip", std::ios::binary) << bytes;
    const auto entries = listing(dir.path / "a.zip");
    read_member(zips, dir.path / "a.zip", "CIK0000000004.json", entries.at("CIK0000000004.json"), doc.size(), error);
    CHECK_THAT(error, Catch::Contains("member CIK0000000004.json of ") && Catch::Contains("compressed with method 14"));
  }
}

TEST_CASE("files that are not readable archives: the reason says what is wrong", "[zip][malformed]") {
  Dir dir;
  write_zip(dir.path / "whole.zip", {{"CIK0000000007.json", document(40000, 7)}});
  const std::string whole = read_file(dir.path / "whole.zip");
  const std::ofstream empty(dir.path / "empty.zip", std::ios::binary);
  std::ofstream(dir.path / "text.zip", std::ios::binary) << "<html>not found</html>";
  std::ofstream(dir.path / "cut.zip", std::ios::binary) << whole.substr(0, whole.size() / 2);
  std::string damaged = whole;
  damaged[damaged.rfind("PK\x01\x02")] = 'Q';  // the directory entry's signature
  std::ofstream(dir.path / "damaged.zip", std::ios::binary) << damaged;
  for (const auto& [name, words] : {std::pair{"empty.zip", "an empty file"},
                                    {"text.zip", "does not begin with a zip signature"},
                                    {"cut.zip", "cut short"},
                                    {"damaged.zip", "central directory is damaged"}}) {
    INFO(name);
    std::string error;
    CHECK(listing(dir.path / name, &error).empty());
    CHECK_THAT(error, Catch::StartsWith("cannot read zip archive " + (dir.path / name).string() + ": ") &&
                          Catch::Contains(words));
  }
}
