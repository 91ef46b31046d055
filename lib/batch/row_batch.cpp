#include "edgarpipe/batch/row_batch.hpp"

#include <fmt/format.h>

#include "edgarpipe/batch/mssql_values.hpp"
#include "edgarpipe/batch/pg_binary.hpp"
#include "edgarpipe/core/decimal_text.hpp"
#include "edgarpipe/core/utf8.hpp"

namespace edgarpipe {

// -- Encoded rows ----------------------------------------------------------------------------
// Record: kind, table, a 32-bit host-order length of the row, then the row in the run's
// encoding. kPgCopy: a big-endian 16-bit field count, then per field a big-endian 32-bit length
// (-1: NULL) and the value's bytes (pg_binary.hpp). kTdsCells: per column a host-order 32-bit
// length (-1: NULL) and the bytes bcp_colptr points at (mssql_values.hpp). The length is patched
// in end_encoded_row(), when it is known.

namespace {
constexpr std::size_t kLengthAt = 2;  // the length's offset in the record
}

void RowBatchWriter::begin_encoded_row(TableId table) {
  row_table_ = &table_def(table);
  row_column_ = 0;
  put_u8(static_cast<std::uint8_t>(RecordKind::kEncodedRow));
  put_u8(static_cast<std::uint8_t>(table));
  const std::uint32_t placeholder = 0;
  put(&placeholder, 4);
  if (encoding_ == BatchEncoding::kPgCopy) {
    const auto fields = __builtin_bswap16(static_cast<std::uint16_t>(row_table_->columns.size()));
    put(&fields, 2);
  }
}

const Column& RowBatchWriter::next_column() {
  if (row_column_ >= row_table_->columns.size())
    throw ValueRejected(
        fmt::format("{}: more values than the table's {} columns", row_table_->name, row_table_->columns.size()));
  return row_table_->columns[row_column_++];
}

void RowBatchWriter::reject_value(const Column& column, std::string_view value, std::string_view why) {
  throw ValueRejected(fmt::format("{}.{}: \"{}\" {}", row_table_->name, column.name, text_excerpt(value, 40), why));
}

void RowBatchWriter::refuse_inexact_integer(double nearest, std::string_view exact) {
  DecimalDigits d;
  if (!split_decimal(exact, d) || !std::isfinite(nearest)) return;  // an infinity is refused by the parser
  const std::size_t whole = d.point <= 0 ? 0 : static_cast<std::size_t>(d.point);
  if (d.digits.find_first_not_of('0', std::min(whole, d.digits.size())) != std::string::npos) return;  // fractional
  std::string integer = d.digits.substr(0, std::min(whole, d.digits.size()));
  integer.append(whole - integer.size(), '0');
  integer.erase(0, std::min(integer.find_first_not_of('0'), integer.size()));
  if (integer == fmt::format("{:.0f}", std::fabs(nearest))) return;  // the double is exact (1e20)
  throw ValueRejected(fmt::format(
      "\"{}\" is an integer beyond 64 bits that SQLite would store rounded (as the double {:.17g}); refused rather "
      "than stored inexactly",
      text_excerpt(exact, 40), nearest));
}

void RowBatchWriter::reject_misfit(const Column& column, std::string_view value) {
  const std::string_view type =
      sql_type_name(column.type, encoding_ == BatchEncoding::kPgCopy ? SqlFlavor::kPostgres : SqlFlavor::kMssql);
  reject_value(column, value, fmt::format("does not fit {}", type));
}

void RowBatchWriter::encoded_null() {
  const Column& column = next_column();
  if (encoding_ == BatchEncoding::kPgCopy) {
    put_be32(0xFFFFFFFFu);
    return;
  }
  // FreeTDS 1.3.17 aborts the process on a NULL for a NOT NULL column: refused here.
  if (column.not_null)
    throw ValueRejected(fmt::format("{}.{}: NULL in a NOT NULL column", row_table_->name, column.name));
  const std::int32_t null = -1;
  put(&null, 4);
}

void RowBatchWriter::encoded_integer(std::int64_t v) {
  const Column& column = next_column();
  const bool pg = encoding_ == BatchEncoding::kPgCopy;
  std::int64_t lo = INT64_MIN, hi = INT64_MAX;
  if (column.type == ColumnType::kInt) lo = INT32_MIN, hi = INT32_MAX;
  if (column.type == ColumnType::kSmallInt) lo = INT16_MIN, hi = INT16_MAX;
  switch (column.type) {
    case ColumnType::kBigInt:
    case ColumnType::kInt:
    case ColumnType::kSmallInt:
      if (v < lo || v > hi) reject_misfit(column, std::to_string(v));
      if (!pg) {  // SQL Server: every integer bound as int64; FreeTDS converts to the column's size
        const std::int32_t len = 8;
        put(&len, 4);
        put(&v, 8);
      } else if (column.type == ColumnType::kBigInt) {
        put_be32(8);
        const std::uint64_t be = __builtin_bswap64(static_cast<std::uint64_t>(v));
        put(&be, 8);
      } else if (column.type == ColumnType::kInt) {
        put_be32(4);
        put_be32(static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
      } else {
        put_be32(2);
        const std::uint16_t be = __builtin_bswap16(static_cast<std::uint16_t>(static_cast<std::int16_t>(v)));
        put(&be, 2);
      }
      return;
    case ColumnType::kDecimal:
      if (pg) {
        scratch_.clear();
        pg::append_numeric(v, scratch_);
        put_be32(static_cast<std::uint32_t>(scratch_.size()));
        put(scratch_.data(), scratch_.size());
        return;
      }
      scratch_.clear();
      mssql::fixed_scale_decimal(v, scratch_);  // a whole number always fits DECIMAL(38,12)
      put_cell(scratch_);
      return;
    default:
      reject_misfit(column, std::to_string(v));
  }
}

void RowBatchWriter::encoded_text(std::string_view s) { encoded_text_as(next_column(), s); }

void RowBatchWriter::encoded_text_as(const Column& column, std::string_view s) {
  if (encoding_ == BatchEncoding::kPgCopy) {
    switch (column.type) {
      case ColumnType::kText:
        if (s.size() > INT32_MAX) reject_value(column, s, "is longer than 2 GiB");
        put_be32(static_cast<std::uint32_t>(s.size()));
        put(s.data(), s.size());
        return;
      case ColumnType::kDate: {
        std::int32_t days;
        if (!pg::date_days(s, days)) reject_misfit(column, s);
        put_be32(4);
        put_be32(static_cast<std::uint32_t>(days));
        return;
      }
      case ColumnType::kTimestamp: {
        std::int64_t micros;
        if (!pg::timestamp_micros(s, micros)) reject_misfit(column, s);
        put_be32(8);
        const std::uint64_t be = __builtin_bswap64(static_cast<std::uint64_t>(micros));
        put(&be, 8);
        return;
      }
      case ColumnType::kDecimal:
        scratch_.clear();
        if (!pg::append_numeric(s, scratch_)) reject_misfit(column, s);
        put_be32(static_cast<std::uint32_t>(scratch_.size()));
        put(scratch_.data(), scratch_.size());
        return;
      default:
        reject_misfit(column, s);
    }
  }
  // SQL Server cells.
  std::string_view cell = s;
  switch (column.type) {
    case ColumnType::kText: {
      // FreeTDS truncates over-long strings silently: the width is checked here.
      const int width = mssql::text_width(row_table_->name, column.name);
      if (encoding_ == BatchEncoding::kTdsCellsUtf8) {
        if (width > 0 && s.size() > static_cast<std::size_t>(width))
          reject_value(column, s, fmt::format("is longer than the column: {} bytes, VARCHAR({})", s.size(), width));
        break;
      }
      // FreeTDS does not convert bound data: UTF-16LE, written straight into the chunk when it
      // has room for the longest possible result.
      std::size_t bytes;
      if (std::byte* p = room(4 + 2 * s.size())) {
        bytes = mssql::utf16le_from_utf8(s, reinterpret_cast<char*>(p + 4));
        used_ -= 2 * s.size() - bytes;
        const auto len = static_cast<std::int32_t>(bytes);
        std::memcpy(p, &len, 4);
      } else {
        scratch_.clear();
        bytes = 2 * mssql::append_utf16le(s, scratch_);
        put_cell(scratch_);
      }
      if (width > 0 && bytes / 2 > static_cast<std::size_t>(width))
        reject_value(column, s,
                     fmt::format("is longer than the column: {} characters, NVARCHAR({})", bytes / 2, width));
      return;
    }
    case ColumnType::kDate:
      if (s.size() != 10) reject_value(column, s, "does not fit DATE");
      break;
    case ColumnType::kTimestamp:
      if (s.size() < 19) reject_value(column, s, "does not fit DATETIME2");
      break;
    case ColumnType::kDecimal:
      scratch_.clear();
      if (!mssql::fixed_scale_decimal(s, scratch_)) reject_value(column, s, "does not fit DECIMAL(38,12) exactly");
      cell = scratch_;
      break;
    default:
      reject_value(column, s, "has the wrong type for the column");
  }
  put_cell(cell);
}

void RowBatchWriter::put_cell(std::string_view cell) {
  const auto len = static_cast<std::int32_t>(cell.size());
  put(&len, 4);
  put(cell.data(), cell.size());
}

void RowBatchWriter::end_encoded_row() {
  if (row_column_ != row_table_->columns.size())
    throw ValueRejected(fmt::format("{}: {} values for the table's {} columns", row_table_->name, row_column_,
                                    row_table_->columns.size()));
  // The record's bytes are the buffer from record_start_ on, then whatever spilled.
  const std::size_t in_buffer = used_ - record_start_;
  const auto length = static_cast<std::uint32_t>(in_buffer + spill_.size() - kLengthAt - 4);
  const auto* bytes = reinterpret_cast<const std::byte*>(&length);
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t at = kLengthAt + i;
    if (at < in_buffer)
      buffer_[record_start_ + at] = bytes[i];
    else
      spill_[at - in_buffer] = bytes[i];
  }
}

void RowBatchWriter::end_record() {
  in_record_ = false;
  if (spill_.empty()) return;
  // The record did not fit: hand over everything before it and restart it in a fresh buffer.
  std::vector<std::byte> record(buffer_.begin() + static_cast<std::ptrdiff_t>(record_start_),
                                buffer_.begin() + static_cast<std::ptrdiff_t>(used_));
  record.insert(record.end(), spill_.begin(), spill_.end());
  stop_spilling();
  const std::size_t open_file_at =
      !file_open_ ? kNoOpenFile : (file_begin_offset_ == kNotInBuffer ? 0 : file_begin_offset_);
  std::span<std::byte> next = output_.flush(record_start_, open_file_at);
  reset(next);
  if (record.size() > buffer_.size())
    throw RowTooLarge("a single row of " + std::to_string(record.size()) + " bytes does not fit in a batch chunk of " +
                      std::to_string(buffer_.size()) + " bytes");
  std::memcpy(buffer_.data(), record.data(), record.size());
  used_ = record.size();
  record_start_ = 0;
}

void RowBatchWriter::end_file(const FileEndInfo& info) {
  begin_record();
  put_u8(static_cast<std::uint8_t>(RecordKind::kFileEnd));
  put(&info.file_index, 4);
  put_u8(static_cast<std::uint8_t>(info.status));
  put_u8(static_cast<std::uint8_t>(info.dataset));
  put(&info.cik, 8);
  put(&info.rows, 8);
  put(&info.unknown_columns, 4);
  put(&info.error_offset, 8);
  put_len(info.error.size());
  put(info.error.data(), info.error.size());
  end_record();
  file_open_ = false;
  file_begin_offset_ = kNotInBuffer;
}

void RowBatchWriter::reject_file(const FileEndInfo& info) {
  stop_spilling();
  if (file_begin_offset_ != kNotInBuffer) {
    // The whole file is still in this buffer: cut it out and keep only FileBegin + FileEnd.
    used_ = file_begin_offset_;
    file_open_ = false;
    begin_file(info.file_index);
  } else if (in_record_) {
    used_ = record_start_;  // drop the partial record; earlier buffers are rolled back by the sink
  }
  in_record_ = false;
  end_file(info);
}

bool RowBatchReader::next(Record& r) {
  if (p_ >= end_) return false;
  r.kind = static_cast<RecordKind>(*p_++);
  switch (r.kind) {
    case RecordKind::kFileBegin:
      std::memcpy(&r.file_index, p_, 4);
      p_ += 4;
      return true;
    case RecordKind::kRow:
      r.table = static_cast<TableId>(*p_++);
      r.values = p_;
      return true;
    case RecordKind::kEncodedRow: {
      r.table = static_cast<TableId>(*p_++);
      std::uint32_t len;
      std::memcpy(&len, p_, 4);
      p_ += 4;
      r.encoded = {p_, len};
      p_ += len;
      return true;
    }
    case RecordKind::kFileEnd: {
      std::memcpy(&r.end.file_index, p_, 4);
      p_ += 4;
      r.end.status = static_cast<FileStatus>(*p_++);
      r.end.dataset = static_cast<Dataset>(*p_++);
      std::memcpy(&r.end.cik, p_, 8);
      std::memcpy(&r.end.rows, p_ + 8, 8);
      std::memcpy(&r.end.unknown_columns, p_ + 16, 4);
      std::memcpy(&r.end.error_offset, p_ + 20, 8);
      std::uint32_t len;
      std::memcpy(&len, p_ + 28, 4);
      p_ += 32;
      r.end.error = std::string_view(reinterpret_cast<const char*>(p_), len);
      p_ += len;
      return true;
    }
  }
  throw std::runtime_error("row batch: unknown record kind " + std::to_string(static_cast<int>(r.kind)));
}

// Steps over the values by their tags alone: the null: sink and rejected files skip every row,
// and decoding each value through ValueCursor was most of the null: writer's time.
const std::byte* skip_row_values(TableId table, const std::byte* p) noexcept {
  const std::size_t columns = table_def(table).columns.size();
  for (std::size_t i = 0; i < columns; ++i) {
    switch (static_cast<ValueTag>(*p++)) {
      case ValueTag::kNull:
        break;
      case ValueTag::kInt:
        p += 8;
        break;
      case ValueTag::kDecimal:
        p += 8;  // the nearest double, then the text
        [[fallthrough]];
      case ValueTag::kText: {
        std::uint32_t len;
        std::memcpy(&len, p, 4);
        p += 4 + len;
        break;
      }
    }
  }
  return p;
}

}  // namespace edgarpipe
