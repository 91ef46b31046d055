// calendar.hpp's date check reads eight bytes at a time; here it is held against the plain
// byte-by-byte reading of "YYYY-MM-DD" on every byte value at every position and on every day of
// four centuries, so a wrong mask or a carry between bytes cannot slip through.
#include <catch2/catch.hpp>
#include <string>

#include "edgarpipe/core/calendar.hpp"

using namespace edgarpipe;

namespace {

// The obvious reading, one byte at a time.
bool plain_date(std::string_view s, std::int64_t& days) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  unsigned v[8];
  for (int i = 0, k = 0; i < 10; ++i) {
    if (i == 4 || i == 7) continue;
    if (s[i] < '0' || s[i] > '9') return false;
    v[k++] = static_cast<unsigned>(s[i] - '0');
  }
  const unsigned year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
  const unsigned month = v[4] * 10 + v[5];
  const unsigned day = v[6] * 10 + v[7];
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  days = days_from_civil(year, month, day);
  return true;
}

void same_verdict(const std::string& s) {
  std::int64_t expected = 0, got = 0;
  const bool ok = plain_date(s, expected);
  INFO(s);
  REQUIRE(parse_date(s, got) == ok);
  REQUIRE(is_date(s) == ok);
  if (ok) REQUIRE(got == expected);
}

}  // namespace

TEST_CASE("Dates: the eight-byte check agrees with a byte-by-byte reading", "[calendar]") {
  for (const std::string base : {"2024-02-29", "1999-12-31", "0000-01-01", "9999-12-31"})
    for (std::size_t at = 0; at < base.size(); ++at)
      for (int byte = 0; byte < 256; ++byte) {
        std::string s = base;
        s[at] = static_cast<char>(byte);
        same_verdict(s);
      }
  // Every day (and the impossible 29th-31st) of 1900-2299: leap years, month lengths, days.
  char s[11];
  for (unsigned y = 1900; y < 2300; ++y)
    for (unsigned m = 0; m <= 13; ++m)
      for (unsigned d = 0; d <= 32; ++d) {
        std::snprintf(s, sizeof s, "%04u-%02u-%02u", y, m, d);
        same_verdict(s);
      }
  for (const char* other : {"", "2024-02-2", "2024-02-290", "2024/02/29", "2024-0229-", "+024-02-29"})
    same_verdict(other);
  std::int64_t days = 0;
  REQUIRE(parse_date("1970-01-01", days));
  CHECK(days == 0);
  REQUIRE(parse_date("2000-03-01", days));
  CHECK(days == 11017);
  CHECK_FALSE(is_date("2026-02-30"));
  CHECK_FALSE(is_date("2100-02-29"));
  CHECK(is_date("2000-02-29"));
}
