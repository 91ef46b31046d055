// Test helpers: run EdgarParser on bytes and decode the emitted row batches into strings.
#pragma once

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "edgarpipe/batch/row_batch.hpp"
#include "edgarpipe/parse/edgar_parser.hpp"

namespace edgarpipe::test {

using Cell = std::optional<std::string>;  // nullopt = SQL NULL
using Row = std::vector<Cell>;

// Collects every flushed buffer, like a parser stage without shared memory.
class CollectingOutput final : public RowBatchWriter::Output {
 public:
  explicit CollectingOutput(std::size_t capacity) : capacity_(capacity), current_(capacity) {}
  std::span<std::byte> flush(std::size_t used, std::size_t open_file_at) override {
    if (used == 0) return {current_.data(), capacity_};
    current_.resize(used);
    chunks.push_back(std::move(current_));
    open_at_flush.push_back(open_file_at);
    current_.assign(capacity_, std::byte{});
    return {current_.data(), capacity_};
  }
  std::span<std::byte> first() { return {current_.data(), capacity_}; }
  void finish(std::size_t used) {
    current_.resize(used);
    chunks.push_back(std::move(current_));
    open_at_flush.push_back(RowBatchWriter::kNoOpenFile);
  }
  std::vector<std::vector<std::byte>> chunks;
  std::vector<std::size_t> open_at_flush;  // per chunk: open_file_at, as flushed

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

// Canonical text of a decimal ("6.110" -> "6.11", "1e-05" -> "0.00001", "-0" -> "0"), so that the
// JSON's text and a NUMERIC read back from its wire form compare equal.
inline std::string canonical_decimal(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  std::string digits;
  long point = -1, exponent = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] != 'e' && s[i] != 'E'; ++i) {
    if (s[i] == '.')
      point = static_cast<long>(digits.size());
    else
      digits += s[i];
  }
  if (i < s.size()) exponent = std::stol(std::string(s.substr(i + 1)));
  if (point < 0) point = static_cast<long>(digits.size());
  point += exponent;
  while (point <= 0) {
    digits.insert(0, 1, '0');
    ++point;
  }
  while (static_cast<long>(digits.size()) < point) digits += '0';
  std::string whole = digits.substr(0, static_cast<std::size_t>(point)),
              fraction = digits.substr(static_cast<std::size_t>(point));
  while (whole.size() > 1 && whole[0] == '0') whole.erase(0, 1);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  std::string out = whole + (fraction.empty() ? "" : "." + fraction);
  return (negative && out != "0") ? "-" + out : out;
}

// A PostgreSQL binary COPY tuple (BatchEncoding::kPgCopy) back to text, written independently of
// the encoder: integers in decimal, DATE as YYYY-MM-DD, TIMESTAMP as YYYY-MM-DD HH:MM:SS[.f],
// NUMERIC through canonical_decimal.
inline Row decode_pg_tuple(TableId table, std::span<const std::byte> t) {
  const auto* p = reinterpret_cast<const unsigned char*>(t.data());
  const auto* end = p + t.size();
  auto be = [&](int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | *p++;
    return v;
  };
  auto civil = [](std::int64_t days) {  // days since 2000-01-01 -> Y-M-D (H. Hinnant's algorithm)
    std::int64_t z = days + 10957 + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(yoe + era * 400 + (m <= 2)),
                  static_cast<long long>(m), static_cast<long long>(d));
    return std::string(buf);
  };
  const auto& columns = table_def(table).columns;
  if (be(2) != columns.size()) throw std::runtime_error("tuple field count differs from the table's");
  Row row;
  for (const Column& c : columns) {
    const auto len = static_cast<std::int32_t>(be(4));
    if (len == -1) {
      row.emplace_back(std::nullopt);
      continue;
    }
    const unsigned char* next = p + len;
    switch (c.type) {
      case ColumnType::kBigInt:
        row.emplace_back(std::to_string(static_cast<std::int64_t>(be(8))));
        break;
      case ColumnType::kInt:
        row.emplace_back(std::to_string(static_cast<std::int32_t>(be(4))));
        break;
      case ColumnType::kSmallInt:
        row.emplace_back(std::to_string(static_cast<std::int16_t>(be(2))));
        break;
      case ColumnType::kText:
        row.emplace_back(std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len)));
        p += len;
        break;
      case ColumnType::kDate:
        row.emplace_back(civil(static_cast<std::int32_t>(be(4))));
        break;
      case ColumnType::kTimestamp: {
        const auto us = static_cast<std::int64_t>(be(8));
        constexpr std::int64_t kDay = 86'400'000'000LL;
        const std::int64_t day = us / kDay - (us % kDay < 0), rest = us - day * kDay;  // floor: before 2000 too
        char buf[64];
        std::snprintf(buf, sizeof buf, " %02lld:%02lld:%02lld", static_cast<long long>(rest / 3'600'000'000LL),
                      static_cast<long long>(rest / 60'000'000 % 60), static_cast<long long>(rest / 1'000'000 % 60));
        std::string text = civil(day) + buf;
        if (rest % 1'000'000 != 0) {  // the fraction without trailing zeros, as as_pg_reads_it writes it
          std::string fraction = std::to_string(1'000'000 + rest % 1'000'000).substr(1);
          while (fraction.back() == '0') fraction.pop_back();
          text += "." + fraction;
        }
        row.emplace_back(text);
        break;
      }
      case ColumnType::kDecimal: {
        const auto ndigits = static_cast<int>(be(2));
        const auto weight = static_cast<std::int16_t>(be(2));
        const auto sign = be(2);
        be(2);  // dscale: display only
        std::string digits;
        for (int i = 0; i < ndigits; ++i) {
          const std::string g = std::to_string(10000 + be(2)).substr(1);
          digits += g;
        }
        // The value is 0.digits x 10^(4 x (weight + 1)).
        const std::string text =
            (sign == 0x4000 ? "-0." : "0.") + (digits.empty() ? "0" : digits) + "e" + std::to_string(4 * (weight + 1));
        row.emplace_back(canonical_decimal(text));
        break;
      }
    }
    if (p != next) throw std::runtime_error("a field's length differs from its type's wire form");
  }
  if (p != end) throw std::runtime_error("bytes after the tuple's last field");
  return row;
}

// A tagged value as the encoded form reads back: decimals canonical; for PostgreSQL a
// timestamp's zero fraction dropped (what decode_pg_tuple gives for the same value).
inline Cell as_encoded_reads_it(BatchEncoding encoding, const Column& column, const Cell& value) {
  if (!value) return value;
  if (column.type == ColumnType::kDecimal) return canonical_decimal(*value);
  if (column.type == ColumnType::kTimestamp && encoding == BatchEncoding::kPgCopy) {
    std::string t = *value;
    if (t.find('.') != std::string::npos) {
      while (t.back() == '0') t.pop_back();
      if (t.back() == '.') t.pop_back();
    }
    return t;
  }
  return value;
}

// SQL Server cells (BatchEncoding::kTdsCells, or kTdsCellsUtf8) back to text, written apart from
// the encoder: integers in decimal, UTF-16LE text back to UTF-8, decimals through
// canonical_decimal, dates and times as they were bound.
inline Row decode_tds_cells(TableId table, std::span<const std::byte> t, bool utf8_text) {
  const auto* p = reinterpret_cast<const unsigned char*>(t.data());
  const auto* end = p + t.size();
  Row row;
  for (const Column& c : table_def(table).columns) {
    std::int32_t len;
    std::memcpy(&len, p, 4);
    p += 4;
    if (len == -1) {
      row.emplace_back(std::nullopt);
      continue;
    }
    const std::string bytes(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len));
    p += len;
    if (c.type == ColumnType::kBigInt || c.type == ColumnType::kInt || c.type == ColumnType::kSmallInt) {
      if (len != 8) throw std::runtime_error("an integer cell is not 8 bytes");
      std::int64_t v;
      std::memcpy(&v, bytes.data(), 8);
      row.emplace_back(std::to_string(v));
    } else if (c.type == ColumnType::kText && !utf8_text) {
      if (len % 2 != 0) throw std::runtime_error("UTF-16LE text of an odd length");
      std::string out;
      for (std::size_t i = 0; i < bytes.size(); i += 2) {
        std::uint32_t u = static_cast<unsigned char>(bytes[i]) | static_cast<unsigned char>(bytes[i + 1]) << 8;
        if (u >= 0xD800 && u < 0xDC00) {
          i += 2;
          const std::uint32_t low = static_cast<unsigned char>(bytes[i]) | static_cast<unsigned char>(bytes[i + 1])
                                                                               << 8;
          u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
        }
        if (u < 0x80) {
          out += static_cast<char>(u);
        } else if (u < 0x800) {
          out += static_cast<char>(0xC0 | u >> 6);
          out += static_cast<char>(0x80 | (u & 0x3F));
        } else if (u < 0x10000) {
          out += static_cast<char>(0xE0 | u >> 12);
          out += static_cast<char>(0x80 | (u >> 6 & 0x3F));
          out += static_cast<char>(0x80 | (u & 0x3F));
        } else {
          out += static_cast<char>(0xF0 | u >> 18);
          out += static_cast<char>(0x80 | (u >> 12 & 0x3F));
          out += static_cast<char>(0x80 | (u >> 6 & 0x3F));
          out += static_cast<char>(0x80 | (u & 0x3F));
        }
      }
      row.emplace_back(out);
    } else if (c.type == ColumnType::kDecimal) {
      row.emplace_back(canonical_decimal(bytes));
    } else {
      row.emplace_back(bytes);
    }
  }
  if (p != end) throw std::runtime_error("bytes after the row's last cell");
  return row;
}

inline Decoded decode(const std::vector<std::vector<std::byte>>& chunks,
                      BatchEncoding encoding = BatchEncoding::kValues) {
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
      if (r.kind == RecordKind::kEncodedRow)
        d.rows[r.table].push_back(encoding == BatchEncoding::kPgCopy
                                      ? decode_pg_tuple(r.table, r.encoded)
                                      : decode_tds_cells(r.table, r.encoded, encoding == BatchEncoding::kTdsCellsUtf8));
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
                              bool forced = false, std::size_t chunk = 1 << 20,
                              BatchEncoding encoding = BatchEncoding::kValues) {
  static EdgarParser parser;
  std::string padded = bytes;
  padded.append(64, '\0');
  CollectingOutput out(chunk);
  RowBatchWriter writer(out, encoding);
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
  result.decoded = decode(out.chunks, encoding);
  return result;
}

inline ParsedFile parse_sample(const std::string& relative, std::size_t chunk = 1 << 20,
                               BatchEncoding encoding = BatchEncoding::kValues) {
  return parse_bytes(read_file(std::string(EDGARPIPE_TEST_DATA_DIR) + "/" + relative), relative, Dataset::kUnknown,
                     false, chunk, encoding);
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
