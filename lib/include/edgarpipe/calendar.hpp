// Calendar dates as EDGAR writes them (YYYY-MM-DD, proleptic Gregorian), parsed and checked in
// one place: a date the parser accepts is a day that exists, so every sink stores the same day.
// (2026-02-30 passed a 1-31 day check once; PostgreSQL's binary DATE turned it into 2026-03-02
// while SQLite kept the text. The fuzz target caught the disagreement.)
#pragma once

#include <cstdint>
#include <string_view>

namespace edgarpipe {

constexpr bool is_leap_year(std::int64_t y) noexcept { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
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

// "YYYY-MM-DD" naming a day that exists; `days` is its number of days since 1970-01-01.
inline bool parse_date(std::string_view s, std::int64_t& days) noexcept {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  unsigned v[8];
  for (int i = 0, k = 0; i < 10; ++i) {
    if (i == 4 || i == 7) continue;
    if (s[i] < '0' || s[i] > '9') return false;
    v[k++] = static_cast<unsigned>(s[i] - '0');
  }
  const std::int64_t year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
  const unsigned month = v[4] * 10 + v[5];
  const unsigned day = v[6] * 10 + v[7];
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  days = days_from_civil(year, month, day);
  return true;
}

}  // namespace edgarpipe
