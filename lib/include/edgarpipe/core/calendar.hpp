// Calendar dates as EDGAR writes them (YYYY-MM-DD, proleptic Gregorian), parsed and checked in
// one place: a date the parser accepts is a day that exists, so every sink stores the same day.
// (2026-02-30 passed a 1-31 day check once; PostgreSQL's binary DATE turned it into 2026-03-02
// while SQLite kept the text. The fuzz target caught the disagreement.)
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace edgarpipe {

constexpr bool is_leap_year(std::int64_t y) noexcept { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

// Months 1-12. By arithmetic: a table built on the stack per call stalled the date check.
constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  if (m == 2) return is_leap_year(y) ? 29 : 28;
  return 30 + ((m ^ (m >> 3)) & 1);  // 31 for odd months to July, even ones from August
}

// Days from 1970-01-01 to y-m-d (H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// The year, month and day of "YYYY-MM-DD" naming a day that exists. The digits and dashes are
// checked eight bytes at a time: this runs for two or three dates of every companyfacts fact, and
// a byte loop was a fifth of that parser's time.
inline bool split_date(std::string_view s, unsigned& year, unsigned& month, unsigned& day) noexcept {
  if (s.size() != 10) return false;
  std::uint64_t head;  // "YYYY-MM-", byte 0 lowest
  std::uint16_t tail;  // "DD"
  std::memcpy(&head, s.data(), 8);
  std::memcpy(&tail, s.data() + 8, 2);
  constexpr std::uint64_t kDashBytes = 0xff0000ff00000000;  // bytes 4 and 7
  constexpr std::uint64_t kDigitBytes = ~kDashBytes;
  constexpr std::uint64_t kZeros = 0x3030303030303030;
  constexpr std::uint64_t kHigh = 0xf0f0f0f0f0f0f0f0;
  if ((head & kDashBytes) != 0x2d00002d00000000) return false;
  // A byte is a digit when it is 0x30-0x3f and still 0x3_ after adding 6. With the dashes checked
  // and every digit byte at most 0x3f, the addition carries out of no byte.
  const std::uint64_t digits = head & kDigitBytes;
  if ((digits & kHigh) != (kZeros & kDigitBytes) ||
      ((digits + 0x0606060606060606) & kHigh & kDigitBytes) != (kZeros & kDigitBytes))
    return false;
  if ((tail & 0xf0f0) != 0x3030 || ((tail + 0x0606) & 0xf0f0) != 0x3030) return false;
  const std::uint64_t v = digits - (kZeros & kDigitBytes);  // no borrows: every digit byte >= 0x30
  const auto at = [v](int byte) { return static_cast<unsigned>((v >> (8 * byte)) & 0xff); };
  year = at(0) * 1000 + at(1) * 100 + at(2) * 10 + at(3);
  month = at(5) * 10 + at(6);
  day = static_cast<unsigned>((tail & 0xff) - '0') * 10 + static_cast<unsigned>((tail >> 8) - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

// "YYYY-MM-DD" naming a day that exists.
inline bool is_date(std::string_view s) noexcept {
  unsigned y, m, d;
  return split_date(s, y, m, d);
}

// "YYYY-MM-DD" naming a day that exists; `days` is its number of days since 1970-01-01.
inline bool parse_date(std::string_view s, std::int64_t& days) noexcept {
  unsigned y, m, d;
  if (!split_date(s, y, m, d)) return false;
  days = days_from_civil(y, m, d);
  return true;
}

}  // namespace edgarpipe
