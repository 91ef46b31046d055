// PostgreSQL binary COPY encodings, byte for byte (hand-computed from the wire format:
// NUMERIC = ndigits, weight, sign, dscale, base-10000 digits; DATE days and TIMESTAMP microseconds
// since 2000-01-01). The postgres integration tests check the same against a real server.
#include <catch2/catch.hpp>
#include <string>

#include "edgarpipe/batch/pg_binary.hpp"

using namespace edgarpipe::pg;

namespace {
std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}
std::string numeric(std::string_view text) {
  std::string out;
  REQUIRE(append_numeric(text, out));
  return hex(out);
}
}  // namespace

TEST_CASE("NUMERIC wire form from decimal text", "[pg]") {
  CHECK(numeric("0") == "0000000000000000");
  CHECK(numeric("6.11") ==
        "0002000000000002"
        "0006044c");
  CHECK(numeric("0.00001") ==
        "0001fffe00000005"
        "03e8");
  CHECK(numeric("1e-05") ==
        "0001fffe00000005"
        "03e8");  // same value, same display scale
  CHECK(numeric("10000") ==
        "0001000100000000"
        "0001");
  CHECK(numeric("-12345678") ==
        "0002000140000000"
        "04d2162e");
  CHECK(numeric("-0.5") ==
        "0001ffff40000001"
        "1388");
  // 2,830,067,000,000 = 2|8300|6700 in base 10000, weight 3 (trailing zero group dropped).
  CHECK(numeric("2830067000000") ==
        "0003000300000000"
        "0002"
        "206c"
        "1a2c");
  CHECK(numeric("-0.000") == "0000000000000003");  // zero keeps its scale, loses its sign
  std::string out;
  append_numeric(INT64_MIN, out);
  CHECK(hex(out) == numeric("-9223372036854775808"));
  for (const char* bad : {"", "-", "1.2.3", "abc", "1e", "0x10", "1,5"}) {
    INFO(bad);
    std::string ignored;
    CHECK_FALSE(append_numeric(bad, ignored));
  }
}

TEST_CASE("DATE and TIMESTAMP wire values", "[pg]") {
  std::int32_t d = 1;
  REQUIRE(date_days("2000-01-01", d));
  CHECK(d == 0);
  REQUIRE(date_days("1999-12-31", d));
  CHECK(d == -1);
  REQUIRE(date_days("1970-01-01", d));
  CHECK(d == -10957);
  REQUIRE(date_days("2024-02-29", d));
  CHECK(d == 8825);
  CHECK_FALSE(date_days("2024-13-01", d));
  CHECK_FALSE(date_days("2024-1-01", d));
  // Only days that exist: binary DATE would otherwise roll 2026-02-30 over to March 2.
  for (const char* impossible : {"2026-02-30", "2023-02-29", "1900-02-29", "2026-04-31", "2026-01-00", "2026-01-32"})
    CHECK_FALSE(date_days(impossible, d));
  REQUIRE(date_days("2000-02-29", d));
  CHECK(d == 59);
  REQUIRE(date_days("2026-12-31", d));
  std::int64_t us = 1;
  for (const char* impossible : {"2000-01-01 24:00:00", "2000-01-01 00:60:00", "2000-01-01 00:00:60"})
    CHECK_FALSE(timestamp_micros(impossible, us));
  REQUIRE(timestamp_micros("2000-01-01 00:00:00", us));
  CHECK(us == 0);
  REQUIRE(timestamp_micros("2024-11-01 10:01:36", us));
  CHECK(us == (9071LL * 86400 + 10 * 3600 + 1 * 60 + 36) * 1'000'000);  // 9071 days since 2000-01-01
  REQUIRE(timestamp_micros("2000-01-01 00:00:00.5", us));
  CHECK(us == 500'000);
  CHECK_FALSE(timestamp_micros("2000-01-01T00:00:00", us));
}

TEST_CASE("COPY buffer framing: header, tuples, NULLs and trailer", "[pg]") {
  CHECK(hex(std::string(CopyBuffer::kHeader)) ==
        "5047434f50590aff0d0a00"
        "00000000"
        "00000000");
  CopyBuffer b;
  b.begin_tuple(3);
  b.int64(320193);
  b.null();
  b.text("AAPL");
  CHECK(hex(b.bytes()) ==
        "0003"
        "00000008"
        "000000000004e2c1"
        "ffffffff"
        "00000004"
        "4141504c");
  CHECK(hex(std::string(CopyBuffer::kTrailer)) == "ffff");
}
