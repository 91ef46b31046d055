// SEC file names: what a name says of the document it holds (../shared/edgar-format.md), used by
// input enumeration, the parser, the sinks' records and `fetch`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edgarpipe/core/tables.hpp"

namespace edgarpipe {

// What an SEC file name says (letter case aside): the filer and the page, the key a document is
// known by (../shared/edgar-tables.md: ingest_files is keyed by dataset, cik and page).
struct FileNameInfo {
  bool overflow_page = false;  // CIK##########-submissions-NNN.json (NNN >= 1)
  std::int64_t cik = -1;       // from a CIK##########... name, else -1
  std::int32_t page = -1;      // 0 for CIK##########.json, NNN for an overflow page, else -1
};
FileNameInfo parse_file_name(std::string_view path) noexcept;
// The SEC's name of a document: CIK0000320193.json (page 0), CIK0000320193-submissions-001.json.
std::string sec_file_name(std::int64_t cik, std::int32_t page);

// "submissions" or "companyfacts" when a directory component of `path` names the dataset.
Dataset dataset_hint_from_path(std::string_view path) noexcept;

}  // namespace edgarpipe
