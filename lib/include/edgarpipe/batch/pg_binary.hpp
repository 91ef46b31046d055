// PostgreSQL binary COPY encoding (COPY ... FROM STDIN (FORMAT binary)): the file header and
// trailer, the wire forms of the types the contract uses (the parsers' RowBatchWriter encodes
// data rows with them, BatchEncoding::kPgCopy), and CopyBuffer, where the sink builds its own
// rows (ingest_files) and gathers the parsers' tuples per table. All integers big-endian.
//
// DATE is days since 2000-01-01; TIMESTAMP is microseconds since 2000-01-01 00:00:00 (the server
// must use integer datetimes, the default since 8.4); NUMERIC is
// ndigits, weight, sign, dscale (int16 each) and ndigits base-10000 digits, built exactly from the
// decimal text as written in the JSON (never through a double).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "edgarpipe/core/tables.hpp"

namespace edgarpipe::pg {

// "YYYY-MM-DD" -> days since 2000-01-01. False if malformed.
bool date_days(std::string_view ymd, std::int32_t& days) noexcept;
// "YYYY-MM-DD HH:MM:SS[.f{1,6}]" -> microseconds since 2000-01-01 00:00:00. False if malformed.
bool timestamp_micros(std::string_view ts, std::int64_t& micros) noexcept;
// Appends the NUMERIC wire form of a decimal ("-12.340", "0.00001", "1e-05"); false if malformed.
bool append_numeric(std::string_view decimal, std::string& out);
void append_numeric(std::int64_t value, std::string& out);

class CopyBuffer {
 public:
  static constexpr std::string_view kHeader{"PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19};
  static constexpr std::string_view kTrailer{"\377\377", 2};

  void begin_tuple(std::uint16_t fields) { put16(fields); }
  void null() { put32(0xFFFFFFFFu); }
  void int64(std::int64_t v) {
    put32(8);
    put64(static_cast<std::uint64_t>(v));
  }
  void int32(std::int32_t v) {
    put32(4);
    put32(static_cast<std::uint32_t>(v));
  }
  void text(std::string_view s) {
    put32(static_cast<std::uint32_t>(s.size()));
    bytes_.append(s);
  }
  bool timestamp(std::string_view ts) {
    std::int64_t us;
    if (!timestamp_micros(ts, us)) return false;
    int64(us);
    return true;
  }
  // Bytes encoded elsewhere (a parser's tuples, BatchEncoding::kPgCopy).
  void append(std::span<const std::byte> raw) { bytes_.append(reinterpret_cast<const char*>(raw.data()), raw.size()); }

  const std::string& bytes() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  void truncate(std::size_t size) { bytes_.resize(size); }
  // Empties the buffer and gives its memory back if it grew past `keep` bytes.
  void clear_and_trim(std::size_t keep) {
    bytes_.clear();
    if (bytes_.capacity() > keep) bytes_.shrink_to_fit();
  }

 private:
  void put16(std::uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    bytes_.append(b, 2);
  }
  void put32(std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
    bytes_.append(b, 4);
  }
  void put64(std::uint64_t v) {
    put32(static_cast<std::uint32_t>(v >> 32));
    put32(static_cast<std::uint32_t>(v));
  }
  std::string bytes_;
};

}  // namespace edgarpipe::pg
