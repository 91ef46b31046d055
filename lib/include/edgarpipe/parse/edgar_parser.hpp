// EdgarParser: turns one SEC EDGAR JSON document into rows of the contract tables.
//
// Input kinds (../shared/edgar-format.md): submissions main files `CIK##########.json`, overflow
// pages `CIK##########-submissions-NNN.json` (bare columns; CIK from the file name) and
// companyfacts `CIK##########.json`. The kind comes from the file name (overflow pages), then
// from `--dataset` if given, then from the document's own keys (`entityName`/`facts` vs
// `entityType`/`filings`/...), and for a document without telling keys (`{}`) from a directory
// named like the dataset.
//
// It parses in place: simdjson's first stage indexes the document, and the parser walks that index
// (lib/parse/json_index.hpp). The caller's buffer must have kTailPadding (SIMDJSON_PADDING) readable
// bytes past `length` (a shared-memory chunk does). Rows are written straight into a
// RowBatchWriter. On bad input it returns a one-line reason and, where known, the byte offset;
// rows already written for the file are the caller's to discard (RowBatchWriter::reject_file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "edgarpipe/batch/row_batch.hpp"
#include "edgarpipe/core/tables.hpp"

namespace edgarpipe {

struct ParseOutcome {
  bool ok = false;
  Dataset dataset = Dataset::kUnknown;
  std::int64_t cik = -1;
  std::uint64_t rows = 0;
  std::uint32_t unknown_columns = 0;  // filings columns not in the contract (ignored)
  std::string error;                  // one line, no file name (the caller adds it)
  std::int64_t error_offset = -1;     // byte offset in the file, -1 if unknown
};

class EdgarParser {
 public:
  EdgarParser();
  ~EdgarParser();
  EdgarParser(const EdgarParser&) = delete;
  EdgarParser& operator=(const EdgarParser&) = delete;

  // `path` gives the overflow-page kind and the CIK of the file name. `hint` names the dataset:
  // when `forced` (--dataset) the document must be of that kind; otherwise the document's own
  // keys decide and the hint only settles documents that say nothing (`{}`). May be kUnknown.
  ParseOutcome parse(const char* data, std::size_t length, std::size_t capacity, std::string_view path, Dataset hint,
                     bool forced, RowBatchWriter& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgarpipe
