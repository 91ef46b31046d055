#include "edgarpipe/row_batch.hpp"

#include <fmt/format.h>

#include "edgarpipe/pg_binary.hpp"

namespace edgarpipe {

// -- kPgCopy ---------------------------------------------------------------------------------
// Record: kind, table, a 32-bit host-order length of the tuple, then the tuple as COPY (FORMAT
// binary) wants it: a big-endian 16-bit field count, and per field a big-endian 32-bit length
// (-1: NULL) and the value's bytes. The length is patched in end_pg_tuple(), when it is known.

namespace {
constexpr std::size_t kPgLengthAt = 2;  // the length's offset in the record
}

void RowBatchWriter::begin_pg_tuple(TableId table) {
  pg_table_ = &table_def(table);
  pg_column_ = 0;
  put_u8(static_cast<std::uint8_t>(RecordKind::kEncodedRow));
  put_u8(static_cast<std::uint8_t>(table));
  const std::uint32_t placeholder = 0;
  put(&placeholder, 4);
  const auto fields =
      static_cast<std::uint16_t>(__builtin_bswap16(static_cast<std::uint16_t>(pg_table_->columns.size())));
  put(&fields, 2);
}

const Column& RowBatchWriter::next_pg_column() {
  if (pg_column_ >= pg_table_->columns.size())
    throw ValueRejected(
        fmt::format("{}: more values than the table's {} columns", pg_table_->name, pg_table_->columns.size()));
  return pg_table_->columns[pg_column_++];
}

void RowBatchWriter::reject_value(const Column& column, std::string_view value, std::string_view why) {
  throw ValueRejected(fmt::format("{}.{}: \"{}\" does not fit {}{}", pg_table_->name, column.name, value.substr(0, 40),
                                  pg::type_name(column.type), why));
}

void RowBatchWriter::pg_integer(std::int64_t v) {
  const Column& column = next_pg_column();
  switch (column.type) {
    case ColumnType::kBigInt: {
      put_be32(8);
      const std::uint64_t be = __builtin_bswap64(static_cast<std::uint64_t>(v));
      put(&be, 8);
      return;
    }
    case ColumnType::kInt:
      if (v < INT32_MIN || v > INT32_MAX) break;
      put_be32(4);
      put_be32(static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
      return;
    case ColumnType::kSmallInt: {
      if (v < INT16_MIN || v > INT16_MAX) break;
      put_be32(2);
      const std::uint16_t be = __builtin_bswap16(static_cast<std::uint16_t>(static_cast<std::int16_t>(v)));
      put(&be, 2);
      return;
    }
    case ColumnType::kDecimal:
      pg_scratch_.clear();
      pg::append_numeric(v, pg_scratch_);
      put_be32(static_cast<std::uint32_t>(pg_scratch_.size()));
      put(pg_scratch_.data(), pg_scratch_.size());
      return;
    default:
      break;
  }
  reject_value(column, std::to_string(v));
}

void RowBatchWriter::pg_text(std::string_view s) {
  const Column& column = next_pg_column();
  switch (column.type) {
    case ColumnType::kText:
      if (s.size() > INT32_MAX) reject_value(column, s, " (longer than 2 GiB)");
      put_be32(static_cast<std::uint32_t>(s.size()));
      put(s.data(), s.size());
      return;
    case ColumnType::kDate: {
      std::int32_t days;
      if (!pg::date_days(s, days)) break;
      put_be32(4);
      put_be32(static_cast<std::uint32_t>(days));
      return;
    }
    case ColumnType::kTimestamp: {
      std::int64_t micros;
      if (!pg::timestamp_micros(s, micros)) break;
      put_be32(8);
      const std::uint64_t be = __builtin_bswap64(static_cast<std::uint64_t>(micros));
      put(&be, 8);
      return;
    }
    case ColumnType::kDecimal:
      return pg_numeric_text(column, s);
    default:
      break;
  }
  reject_value(column, s);
}

void RowBatchWriter::pg_decimal(std::string_view exact) {
  const Column& column = next_pg_column();
  if (column.type != ColumnType::kDecimal) reject_value(column, exact);
  pg_numeric_text(column, exact);
}

void RowBatchWriter::pg_numeric_text(const Column& column, std::string_view s) {
  pg_scratch_.clear();
  if (!pg::append_numeric(s, pg_scratch_)) reject_value(column, s);
  put_be32(static_cast<std::uint32_t>(pg_scratch_.size()));
  put(pg_scratch_.data(), pg_scratch_.size());
}

void RowBatchWriter::end_pg_tuple() {
  if (pg_column_ != pg_table_->columns.size())
    throw ValueRejected(fmt::format("{}: {} values for the table's {} columns", pg_table_->name, pg_column_,
                                    pg_table_->columns.size()));
  // The record's bytes are the buffer from record_start_ on, then whatever spilled.
  const std::size_t in_buffer = used_ - record_start_;
  const std::uint32_t length = static_cast<std::uint32_t>(in_buffer + spill_.size() - kPgLengthAt - 4);
  const auto* bytes = reinterpret_cast<const std::byte*>(&length);
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t at = kPgLengthAt + i;
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
  spill_.clear();
  const bool open_before = file_open_;
  std::span<std::byte> next = output_.flush(record_start_, open_before);
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
  spill_.clear();
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

const std::byte* skip_row_values(TableId table, const std::byte* values) noexcept {
  ValueCursor cursor(values);
  for (std::size_t i = 0; i < table_def(table).columns.size(); ++i) cursor.next();
  return cursor.position();
}

}  // namespace edgarpipe
