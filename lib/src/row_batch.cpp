#include "edgarpipe/row_batch.hpp"

namespace edgarpipe {

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
