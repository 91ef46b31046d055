// Row batches: how parsed rows travel from a parser to a writer inside one shared-memory chunk.
//
// A batch is a sequence of records written back to back into the chunk's payload and read in
// place by the writer (text values are bound straight from the chunk; nothing is deserialized
// into objects). Three records frame the rows of each input file:
//
//   FileBegin {file_index}                 -> the sink opens a savepoint
//   Row {table, one value per column}      -> the sink inserts it
//     or EncodedRow {table, length, the row in the sink's own wire form}
//                                          -> the sink appends it as it is
//   FileEnd {status, dataset, cik, rows, unknown columns, error offset, error}
//                                          -> the sink releases (loaded) or rolls back (rejected)
//
// A file's records may span several chunks; the parser then sends those chunks to the same writer
// in order, so a file is all-or-nothing in the database. Values: a tag byte, then the payload
// (int64 and double as 8 raw bytes, text as a 32-bit length and the bytes). Multi-byte fields are
// unaligned and accessed with memcpy. All numbers are host byte order: a batch never leaves the box.
//
// The encoding of rows is chosen per run by the sink (BatchEncoding, in the control header).
// With kPgCopy the parser writes each row as a PostgreSQL binary COPY tuple (pg_binary.hpp: the
// types of the table's columns decide the wire forms, so a date is already days since 2000 and
// a NUMERIC already base-10000 digits); with kTdsCells, as the cells SQL Server's bulk copy binds
// (text already UTF-16LE and checked against its column's width, decimals at the column's
// scale). The writer only appends the row's bytes to its buffer: the encoding work runs in the
// parsers, which scale with --parsers, and not in the writer, which holds a connection. A value
// the encoding cannot take (an integer out of its column's range, a name longer than its
// column) rejects the file in the parser, with its offset in the input.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "edgarpipe/core/tables.hpp"

namespace edgarpipe {

enum class RecordKind : std::uint8_t { kFileBegin = 1, kRow = 2, kFileEnd = 3, kEncodedRow = 4 };
enum class BatchEncoding : std::uint8_t {
  kValues = 0,  // Row records of tagged values, read by SQLite and null: (the server sinks'
                // writers refuse them: their rows come encoded, below)
  kPgCopy = 1,  // EncodedRow records holding PostgreSQL binary COPY tuples
  // EncodedRow records of SQL Server bind-ready cells (mssql_values.hpp): per column a 32-bit
  // host-order length (-1: NULL) and the bytes bcp_colptr points at; text as UTF-16LE for
  // NVARCHAR columns (kTdsCells) or UTF-8 for VARCHAR with a UTF-8 collation (kTdsCellsUtf8).
  kTdsCells = 2,
  kTdsCellsUtf8 = 3,
};
enum class ValueTag : std::uint8_t { kNull = 0, kInt = 1, kText = 2, kDecimal = 3 };
enum class FileStatus : std::uint8_t { kLoaded = 0, kRejected = 1 };

struct FileEndInfo {
  std::uint32_t file_index = 0;
  FileStatus status = FileStatus::kLoaded;
  Dataset dataset = Dataset::kUnknown;
  std::int64_t cik = -1;  // -1: unknown
  std::uint64_t rows = 0;
  std::uint32_t unknown_columns = 0;
  std::int64_t error_offset = -1;  // -1: unknown
  std::string_view error;
};

// Thrown when one row alone does not fit in an empty batch chunk.
struct RowTooLarge : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown by an encoding writer for a value its column cannot take ("facts.fiscal_year:
// \"3000000000\" does not fit INTEGER"); the parser turns it into the file's rejection at the
// value's offset.
struct ValueRejected : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Copies n bytes; the short strings rows are made of (dates, accession numbers, forms) without
// a library call, as two overlapping fixed-size moves: a variable-length memcpy is a call, and
// it was a fifth of the cost of writing a companyfacts row.
[[gnu::always_inline]] inline void copy_short(std::byte* dst, const char* src, std::size_t n) noexcept {
  const auto pair = [&](auto word) {
    decltype(word) head, tail;
    std::memcpy(&head, src, sizeof word);
    std::memcpy(&tail, src + n - sizeof word, sizeof word);
    std::memcpy(dst, &head, sizeof word);
    std::memcpy(dst + n - sizeof word, &tail, sizeof word);
  };
  struct Bytes16 {
    char bytes[16];
  };
  if (n >= 16 && n <= 32)
    pair(Bytes16{});
  else if (n >= 8 && n < 16)
    pair(std::uint64_t{});
  else if (n >= 4 && n < 8)
    pair(std::uint32_t{});
  else if (n > 0 && n < 4) {
    dst[0] = static_cast<std::byte>(src[0]);
    dst[n / 2] = static_cast<std::byte>(src[n / 2]);
    dst[n - 1] = static_cast<std::byte>(src[n - 1]);
  } else if (n > 32)
    std::memcpy(dst, src, n);
}

// Writes records into a chunk; asks its Output for a fresh chunk when one is full.
class RowBatchWriter {
 public:
  class Output {
   public:
    virtual ~Output() = default;
    // Hands over the `used` bytes of the current buffer and returns the next empty buffer.
    // open_file_at: where the records of the file that continues in the next buffer begin in
    // this one (0 if it began in an earlier buffer), or kNoOpenFile. Every file before that
    // offset is whole, so a consumer can take them without waiting for the next buffer.
    virtual std::span<std::byte> flush(std::size_t used, std::size_t open_file_at) = 0;
  };
  static constexpr std::size_t kNoOpenFile = SIZE_MAX;

  explicit RowBatchWriter(Output& output, BatchEncoding encoding = BatchEncoding::kValues)
      : output_(output), encoding_(encoding) {}
  BatchEncoding encoding() const noexcept { return encoding_; }

  void reset(std::span<std::byte> buffer) noexcept {
    buffer_ = buffer;
    limit_ = buffer.size();
    used_ = 0;
    file_begin_offset_ = kNotInBuffer;
  }
  std::size_t used() const noexcept { return used_; }
  bool empty() const noexcept { return used_ == 0; }

  void begin_file(std::uint32_t file_index) {
    begin_record();
    put_u8(static_cast<std::uint8_t>(RecordKind::kFileBegin));
    put(&file_index, sizeof file_index);
    end_record();
    file_open_ = true;
    file_begin_offset_ = record_start_;  // 0 if the record was moved to a fresh buffer
  }

  void begin_row(TableId table) {
    begin_record();
    if (encoding_ != BatchEncoding::kValues) {
      begin_encoded_row(table);
    } else {
      put_u8(static_cast<std::uint8_t>(RecordKind::kRow));
      put_u8(static_cast<std::uint8_t>(table));
    }
    values_start_ = used_;
  }

  // Drops the row begun last, whatever of it was written: nothing of it reaches the batch.
  void cancel_row() noexcept {
    used_ = record_start_;
    stop_spilling();
    in_record_ = false;
  }

  // Leading values that consecutive rows of a table share (a fact's cik, taxonomy, concept and
  // unit), kept as written in the run's encoding: later rows copy the bytes instead of encoding
  // and checking the values again (four of a fact row's thirteen values, ~10% of the
  // companyfacts parser).
  struct RowPrefix {
    std::vector<std::byte> bytes;
    std::size_t columns = 0;
    bool valid = false;
  };
  // After the first `columns` values of a row: keeps them in `prefix` (unless the row spills).
  void keep_prefix(RowPrefix& prefix, std::size_t columns) {
    prefix.valid = limit_ != 0;
    if (!prefix.valid) return;
    prefix.bytes.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(values_start_),
                        buffer_.begin() + static_cast<std::ptrdiff_t>(used_));
    prefix.columns = columns;
  }
  // Right after begin_row() for the same table: writes a kept prefix. False if there is none.
  bool repeat_prefix(const RowPrefix& prefix) {
    if (!prefix.valid) return false;
    put(prefix.bytes.data(), prefix.bytes.size());
    row_column_ += prefix.columns;  // encoded rows count their columns
    return true;
  }
  void null() {
    if (encoding_ != BatchEncoding::kValues) {
      encoded_null();
      return;
    }
    put_u8(static_cast<std::uint8_t>(ValueTag::kNull));
  }
  void integer(std::int64_t v) {
    if (encoding_ != BatchEncoding::kValues) return encoded_integer(v);
    if (std::byte* p = room(9)) {  // fast path: one capacity check per value
      *p = static_cast<std::byte>(ValueTag::kInt);
      std::memcpy(p + 1, &v, 8);
      return;
    }
    put_u8(static_cast<std::uint8_t>(ValueTag::kInt));
    put(&v, sizeof v);
  }
  void text(std::string_view s) {
    if (encoding_ != BatchEncoding::kValues) return encoded_text(s);
    if (s.size() <= UINT32_MAX - 5) {
      if (std::byte* p = room(5 + s.size())) {
        const auto len = static_cast<std::uint32_t>(s.size());
        *p = static_cast<std::byte>(ValueTag::kText);
        std::memcpy(p + 1, &len, 4);
        copy_short(p + 5, s.data(), s.size());
        return;
      }
    }
    put_u8(static_cast<std::uint8_t>(ValueTag::kText));
    put_len(s.size());
    put(s.data(), s.size());
  }
  // A non-integral number: nearest double plus the exact decimal text as written in the JSON.
  void decimal(double nearest, std::string_view exact) {
    if (encoding_ != BatchEncoding::kValues) return encoded_text(exact);
    if (std::fabs(nearest) >= 0x1p63) refuse_inexact_integer(nearest, exact);
    put_u8(static_cast<std::uint8_t>(ValueTag::kDecimal));
    put(&nearest, sizeof nearest);
    put_len(exact.size());
    put(exact.data(), exact.size());
  }
  void end_row() {
    if (encoding_ != BatchEncoding::kValues) end_encoded_row();
    end_record();
  }

  void end_file(const FileEndInfo& info);

  // Drops whatever this file wrote that is still in the current buffer (and any partial record),
  // then ends the file as rejected. Earlier buffers of the file are rolled back by the sink.
  void reject_file(const FileEndInfo& info);

 private:
  static constexpr std::size_t kNotInBuffer = SIZE_MAX;

  void begin_record() noexcept {
    record_start_ = used_;
    stop_spilling();
    in_record_ = true;
  }
  void end_record();
  void stop_spilling() noexcept {
    spill_.clear();
    limit_ = buffer_.size();
  }
  // Reserves n bytes in the buffer and returns where they start, or nullptr if the record is
  // already spilling or the bytes do not fit (then the slow path spills).
  std::byte* room(std::size_t n) noexcept {
    if (used_ + n > limit_) return nullptr;
    std::byte* p = buffer_.data() + used_;
    used_ += n;
    return p;
  }
  void put(const void* p, std::size_t n) {
    if (n == 0) return;  // an empty string_view may carry a null pointer
    if (used_ + n <= limit_) {
      std::memcpy(buffer_.data() + used_, p, n);
      used_ += n;
    } else {
      limit_ = 0;  // the rest of the record follows it into spill_
      const auto* b = static_cast<const std::byte*>(p);
      spill_.insert(spill_.end(), b, b + n);
    }
  }
  void put_u8(std::uint8_t v) { put(&v, 1); }
  void put_be32(std::uint32_t v) {
    v = __builtin_bswap32(v);
    put(&v, 4);
  }

  // EncodedRow records (row_batch.cpp): the record's header, then each value in the wire form of
  // its column's type, checked against the column.
  void begin_encoded_row(TableId table);
  const Column& next_column();
  void encoded_null();
  void encoded_integer(std::int64_t v);
  void encoded_text(std::string_view s);  // text, and a decimal's exact text
  // kValues (SQLite) stores a number as a 64-bit integer or a double: an integer beyond 64 bits
  // that no double equals (99999999999999999999) is refused, never stored rounded.
  static void refuse_inexact_integer(double nearest, std::string_view exact);
  void end_encoded_row();
  void encoded_text_as(const Column& column, std::string_view s);
  void put_cell(std::string_view cell);  // SQL Server: host-order 32-bit length, then the bytes
  [[noreturn]] void reject_value(const Column& column, std::string_view value, std::string_view why);
  [[noreturn]] void reject_misfit(const Column& column, std::string_view value);  // "does not fit TYPE"
  void put_len(std::size_t n) {
    if (n > UINT32_MAX) throw RowTooLarge("text value longer than 4 GiB");
    const auto len = static_cast<std::uint32_t>(n);
    put(&len, sizeof len);
  }

  Output& output_;
  BatchEncoding encoding_;
  const TableDef* row_table_ = nullptr;  // encoded rows: the row's table and its next column
  std::size_t row_column_ = 0;
  std::string scratch_;  // a value built before its length is known (NUMERIC, UTF-16, decimal)
  std::span<std::byte> buffer_;
  std::size_t limit_ = 0;  // buffer_.size(), or 0 while a record spills: one comparison per value
  std::size_t used_ = 0;
  std::size_t record_start_ = 0;
  std::size_t values_start_ = 0;  // where the current row's first value begins
  std::size_t file_begin_offset_ = kNotInBuffer;
  bool file_open_ = false;
  bool in_record_ = false;
  std::vector<std::byte> spill_;
};

// One value of a row, decoded in place.
struct ValueView {
  ValueTag tag = ValueTag::kNull;
  std::int64_t integer = 0;
  double nearest = 0;
  std::string_view text;  // kText; for kDecimal the exact decimal text
};

class ValueCursor {
 public:
  explicit ValueCursor(const std::byte* p) noexcept : p_(p) {}
  ValueView next() noexcept {
    ValueView v;
    v.tag = static_cast<ValueTag>(*p_++);
    switch (v.tag) {
      case ValueTag::kNull:
        break;
      case ValueTag::kInt:
        std::memcpy(&v.integer, p_, 8);
        p_ += 8;
        break;
      case ValueTag::kText:
        v.text = take_text();
        break;
      case ValueTag::kDecimal:
        std::memcpy(&v.nearest, p_, 8);
        p_ += 8;
        v.text = take_text();
        break;
    }
    return v;
  }
  const std::byte* position() const noexcept { return p_; }

 private:
  std::string_view take_text() noexcept {
    std::uint32_t len;
    std::memcpy(&len, p_, 4);
    p_ += 4;
    std::string_view s(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    return s;
  }
  const std::byte* p_;
};

struct Record {
  RecordKind kind{};
  std::uint32_t file_index = 0;        // kFileBegin
  TableId table{};                     // kRow, kEncodedRow
  const std::byte* values = nullptr;   // kRow: first value, read with ValueCursor
  std::span<const std::byte> encoded;  // kEncodedRow: the row in the run's encoding
  FileEndInfo end;                     // kFileEnd
};

// Walks the records of one batch. The caller must consume each kRow record's values with a
// ValueCursor and hand its end position back through skip_to() (the reader does not know column
// counts); a kEncodedRow record carries its length and needs nothing.
class RowBatchReader {
 public:
  RowBatchReader(const std::byte* data, std::size_t length) noexcept : p_(data), end_(data + length) {}
  bool next(Record& r);
  // After a kRow record: the position just past its last value.
  void skip_to(const std::byte* p) noexcept { p_ = p; }
  // Just past the last record read.
  const std::byte* position() const noexcept { return p_; }

 private:
  const std::byte* p_;
  const std::byte* end_;
};

// Reads a row's values past the last column of `table`: used by sinks that skip rows.
const std::byte* skip_row_values(TableId table, const std::byte* values) noexcept;

}  // namespace edgarpipe
