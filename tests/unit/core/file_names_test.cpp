// SEC file names: what a name says of its document's key (../shared/edgar-format.md).
#include <catch2/catch.hpp>
#include <utility>

#include "edgarpipe/core/file_names.hpp"

using namespace edgarpipe;

TEST_CASE("file names: main files, overflow pages and their CIKs", "[file-names]") {
  CHECK(parse_file_name("x/CIK0000320193.json").cik == 320193);
  CHECK_FALSE(parse_file_name("x/CIK0000320193.json").overflow_page);
  CHECK(parse_file_name("CIK0001318605-submissions-001.json").overflow_page);
  CHECK(parse_file_name("CIK0001318605-submissions-001.json").cik == 1318605);
  CHECK(parse_file_name("CIK123.json").cik == -1);
  CHECK(parse_file_name("CIK0001318605-submissions-.json").cik == -1);
  CHECK(parse_file_name("apple.json").cik == -1);
  CHECK(dataset_hint_from_path("/data/companyfacts/CIK0000320193.json") == Dataset::kCompanyfacts);
  CHECK(dataset_hint_from_path("/data/submissions/x/CIK0000320193.json") == Dataset::kSubmissions);
  CHECK(dataset_hint_from_path("/data/submissions/companyfacts/CIK1.json") == Dataset::kCompanyfacts);
  CHECK(dataset_hint_from_path("CIK0000320193.json") == Dataset::kUnknown);
}

TEST_CASE("file names give the key: CIK and page, whatever the letter case", "[file-names]") {
  CHECK(parse_file_name("CIK0000320193.json").page == 0);
  CHECK(parse_file_name("CIK0001318605-submissions-001.json").page == 1);
  CHECK(parse_file_name("CIK0001318605-submissions-1234.json").page == 1234);
  // Letter case is not part of a name: copies from a case-insensitive file system.
  CHECK(parse_file_name("cik0000320193.JSON").cik == 320193);
  CHECK(parse_file_name("Cik0001318605-Submissions-002.Json").page == 2);
  // Page 0 would be the main file's key: not an overflow page's name. Nor is an absurd number.
  CHECK(parse_file_name("CIK0001318605-submissions-000.json").cik == -1);
  CHECK(parse_file_name("CIK0001318605-submissions-1234567.json").cik == -1);
  CHECK(parse_file_name("apple.json").page == -1);
  CHECK(parse_file_name("CIK0000320193.json.bak").cik == -1);
  // The SEC's name of a key, and back.
  CHECK(sec_file_name(320193, 0) == "CIK0000320193.json");
  CHECK(sec_file_name(1318605, 1) == "CIK0001318605-submissions-001.json");
  CHECK(sec_file_name(1318605, 1234) == "CIK0001318605-submissions-1234.json");
  for (const auto& [cik, page] : {std::pair{320193LL, 0}, {1318605LL, 7}, {9999999999LL, 999}}) {
    const FileNameInfo back = parse_file_name(sec_file_name(cik, page));
    CHECK(back.cik == cik);
    CHECK(back.page == page);
  }
}
