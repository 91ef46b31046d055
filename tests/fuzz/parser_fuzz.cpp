// libFuzzer target for the parsers (built three times, one per input kind, by tests/fuzz/
// CMakeLists.txt: EDGARPIPE_FUZZ_PATH is the file name the bytes pretend to come from, which
// picks the parser). Besides what AddressSanitizer and UBSan catch, it checks the parser's own
// contract on every input: a rejected file names a reason on one line and no offset past the end, and
// an accepted file's row batches decode to rows of the contract's width. The same bytes are parsed
// again into PostgreSQL COPY tuples and into SQL Server cells, which must decode to the same rows,
// or be refused for a value that does not fit its column, with an offset; a file refused for
// SQLite alone (an integer beyond 64 bits no double equals) may load in those.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../unit/parse_helpers.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // libFuzzer saves the input that got here
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgarpipe;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // Small batch buffers, so rows that continue across buffers are exercised too.
  const test::ParsedFile parsed = test::parse_bytes(bytes, EDGARPIPE_FUZZ_PATH, EDGARPIPE_FUZZ_HINT, true, 4096);
  const ParseOutcome& outcome = parsed.outcome;
  require(parsed.decoded.file_begins == 1 && parsed.decoded.ends.size() == 1);
  if (outcome.ok) {
    require(outcome.error.empty());
    for (const auto& [table, rows] : parsed.decoded.rows)
      for (const auto& row : rows) require(row.size() == table_def(table).columns.size());
  } else {
    require(!outcome.error.empty());
    require(outcome.error.find('\n') == std::string::npos);  // one line
    require(outcome.error_offset <= static_cast<std::int64_t>(size));
  }

  for (const BatchEncoding encoding : {BatchEncoding::kPgCopy, BatchEncoding::kTdsCells}) {
    const test::ParsedFile encoded =
        test::parse_bytes(bytes, EDGARPIPE_FUZZ_PATH, EDGARPIPE_FUZZ_HINT, true, 4096, encoding);
    if (!outcome.ok && outcome.error.find("SQLite would store rounded") != std::string::npos) {
      // Refused for SQLite alone (an integer beyond 64 bits no double equals): the exact
      // encodings keep it, or refuse the file for another reason.
      require(encoded.outcome.ok || encoded.outcome.error.find('\n') == std::string::npos);
    } else if (!outcome.ok) {
      // Refused too; maybe for an earlier value its column cannot take, rows being encoded as
      // they are written (an over-long accession number before a missing one).
      require(!encoded.outcome.ok && encoded.outcome.error.find('\n') == std::string::npos);
      require(encoded.outcome.error_offset <= static_cast<std::int64_t>(size));
    } else if (!encoded.outcome.ok) {  // a value its column cannot take
      require(encoded.outcome.error.find('\n') == std::string::npos);
      require(encoded.outcome.error_offset >= 0 && encoded.outcome.error_offset <= static_cast<std::int64_t>(size));
    } else {
      for (const auto& [table, rows] : parsed.decoded.rows) {
        const auto it = encoded.decoded.rows.find(table);
        require(it != encoded.decoded.rows.end() && it->second.size() == rows.size());
        const auto& columns = table_def(table).columns;
        for (std::size_t r = 0; r < rows.size(); ++r)
          for (std::size_t c = 0; c < columns.size(); ++c)
            require(it->second[r][c] == test::as_encoded_reads_it(encoding, columns[c], rows[r][c]));
      }
    }
  }
  return 0;
}
