// Test helpers: run EdgarParser on bytes and decode the emitted row batches into strings.
#pragma once

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "edgarpipe/edgar_parser.hpp"
#include "edgarpipe/row_batch.hpp"

namespace edgarpipe::test {

using Cell = std::optional<std::string>;  // nullopt = SQL NULL
using Row = std::vector<Cell>;

// Collects every flushed buffer, like a parser stage without shared memory.
class CollectingOutput final : public RowBatchWriter::Output {
 public:
  explicit CollectingOutput(std::size_t capacity) : capacity_(capacity), current_(capacity) {}
  std::span<std::byte> flush(std::size_t used, bool file_open) override {
    if (used == 0) return {current_.data(), capacity_};
    current_.resize(used);
    chunks.push_back(std::move(current_));
    open_at_flush.push_back(file_open);
    current_.assign(capacity_, std::byte{});
    return {current_.data(), capacity_};
  }
  std::span<std::byte> first() { return {current_.data(), capacity_}; }
  void finish(std::size_t used) {
    current_.resize(used);
    chunks.push_back(std::move(current_));
    open_at_flush.push_back(false);
  }
  std::vector<std::vector<std::byte>> chunks;
  std::vector<bool> open_at_flush;

 private:
  std::size_t capacity_;
  std::vector<std::byte> current_;
};

struct Decoded {
  std::map<TableId, std::vector<Row>> rows;
  std::vector<FileEndInfo> ends;
  std::vector<std::string> end_errors;
  std::size_t file_begins = 0;
  std::size_t count(TableId t) const {
    auto it = rows.find(t);
    return it == rows.end() ? 0 : it->second.size();
  }
};

inline Decoded decode(const std::vector<std::vector<std::byte>>& chunks) {
  Decoded d;
  for (const auto& chunk : chunks) {
    RowBatchReader reader(chunk.data(), chunk.size());
    Record r;
    while (reader.next(r)) {
      if (r.kind == RecordKind::kFileBegin) ++d.file_begins;
      if (r.kind == RecordKind::kFileEnd) {
        d.ends.push_back(r.end);
        d.end_errors.emplace_back(r.end.error);
      }
      if (r.kind != RecordKind::kRow) continue;
      ValueCursor c(r.values);
      Row row;
      for (std::size_t i = 0; i < table_def(r.table).columns.size(); ++i) {
        const ValueView v = c.next();
        switch (v.tag) {
          case ValueTag::kNull:
            row.emplace_back(std::nullopt);
            break;
          case ValueTag::kInt:
            row.emplace_back(std::to_string(v.integer));
            break;
          case ValueTag::kText:
            row.emplace_back(std::string(v.text));
            break;
          case ValueTag::kDecimal:
            row.emplace_back(std::string(v.text));
            break;
        }
      }
      reader.skip_to(c.position());
      d.rows[r.table].push_back(std::move(row));
    }
  }
  return d;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ParsedFile {
  ParseOutcome outcome;
  Decoded decoded;
};

// Parses `bytes` as if read from `path`, framed the way the parser stage frames a file.
inline ParsedFile parse_bytes(const std::string& bytes, const std::string& path, Dataset hint = Dataset::kUnknown,
                              bool forced = false, std::size_t chunk = 1 << 20) {
  static EdgarParser parser;
  std::string padded = bytes;
  padded.append(64, '\0');
  CollectingOutput out(chunk);
  RowBatchWriter writer(out);
  writer.reset(out.first());
  writer.begin_file(0);
  ParsedFile result;
  result.outcome = parser.parse(padded.data(), bytes.size(), padded.size(), path, hint, forced, writer);
  FileEndInfo end;
  end.status = result.outcome.ok ? FileStatus::kLoaded : FileStatus::kRejected;
  end.error = result.outcome.error;
  if (result.outcome.ok)
    writer.end_file(end);
  else
    writer.reject_file(end);
  out.finish(writer.used());
  result.decoded = decode(out.chunks);
  return result;
}

inline ParsedFile parse_sample(const std::string& relative, std::size_t chunk = 1 << 20) {
  return parse_bytes(read_file(std::string(EDGARPIPE_TEST_DATA_DIR) + "/" + relative), relative, Dataset::kUnknown,
                     false, chunk);
}

// The first row of `table` whose column `column` equals `value`.
inline const Row* find_row(const Decoded& d, TableId table, std::size_t column, const std::string& value) {
  auto it = d.rows.find(table);
  if (it == d.rows.end()) return nullptr;
  for (const Row& r : it->second)
    if (r[column] && *r[column] == value) return &r;
  return nullptr;
}

inline std::size_t column_index(TableId table, std::string_view name) {
  const auto& cols = table_def(table).columns;
  for (std::size_t i = 0; i < cols.size(); ++i)
    if (cols[i].name == name) return i;
  throw std::invalid_argument("no column " + std::string(name));
}

}  // namespace edgarpipe::test
