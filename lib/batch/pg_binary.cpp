#include "edgarpipe/batch/pg_binary.hpp"

#include "edgarpipe/core/calendar.hpp"
#include "edgarpipe/core/decimal_text.hpp"

#include <cstring>
#include <vector>

namespace edgarpipe::pg {

namespace {

bool digits(std::string_view s, int& value) noexcept {
  value = 0;
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

constexpr std::int64_t kPgEpochDays = 10957;  // 2000-01-01 - 1970-01-01

// NUMERIC's header and digit groups, big-endian, built in place and appended at once (a
// push_back per byte was 5% of the parser's time).
void append_numeric_wire(std::string& out, std::int16_t weight, bool negative, std::uint16_t dscale,
                         const std::uint16_t* groups, std::size_t count) {
  const std::size_t at = out.size();
  out.resize(at + 8 + 2 * count);
  auto* p = reinterpret_cast<unsigned char*>(out.data() + at);
  auto put16 = [&p](std::uint16_t v) {
    *p++ = static_cast<unsigned char>(v >> 8);
    *p++ = static_cast<unsigned char>(v);
  };
  put16(static_cast<std::uint16_t>(count));
  put16(static_cast<std::uint16_t>(weight));
  put16(negative ? 0x4000 : 0x0000);
  put16(dscale);
  for (std::size_t g = 0; g < count; ++g) put16(groups[g]);
}

}  // namespace

bool date_days(std::string_view s, std::int32_t& days) noexcept {
  std::int64_t since_1970;
  if (!parse_date(s, since_1970)) return false;
  days = static_cast<std::int32_t>(since_1970 - kPgEpochDays);
  return true;
}

bool timestamp_micros(std::string_view s, std::int64_t& micros) noexcept {
  std::int32_t days;
  int hh, mm, ss;
  if (s.size() < 19 || !date_days(s.substr(0, 10), days) || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
      !digits(s.substr(11, 2), hh) || !digits(s.substr(14, 2), mm) || !digits(s.substr(17, 2), ss) || hh > 23 ||
      mm > 59 || ss > 59)
    return false;
  std::int64_t fraction = 0;
  if (s.size() > 19) {
    const std::string_view f = s.substr(20);
    if (s[19] != '.' || f.empty() || f.size() > 6) return false;
    int v;
    if (!digits(f, v)) return false;
    fraction = v;
    for (std::size_t i = f.size(); i < 6; ++i) fraction *= 10;
  }
  micros = ((static_cast<std::int64_t>(days) * 24 + hh) * 60 + mm) * 60 * 1'000'000LL + ss * 1'000'000LL + fraction;
  return true;
}

bool append_numeric(std::string_view text, std::string& out) {
  DecimalDigits d;
  if (!split_decimal(text, d)) return false;
  bool negative = d.negative;
  const std::string& all = d.digits;
  const int point = d.point;
  // Display scale: digits after the point, as written (PostgreSQL keeps "6.110" as 6.110).
  const int dscale = std::max(0, static_cast<int>(all.size()) - point);
  // Left-pad so the integer part is a whole number of 4-digit groups, right-pad the fraction.
  std::string padded;
  int int_digits = point;
  if (int_digits < 0) {
    padded.assign(static_cast<std::size_t>(-int_digits), '0');
    int_digits = 0;
  }
  padded += all;
  if (point > static_cast<int>(all.size()))
    padded.append(static_cast<std::size_t>(point - static_cast<int>(all.size())), '0');
  const int lead = (4 - int_digits % 4) % 4;
  padded.insert(0, static_cast<std::size_t>(lead), '0');
  int_digits += lead;
  while (padded.size() % 4 != 0) padded.push_back('0');
  std::vector<std::uint16_t> groups;
  for (std::size_t g = 0; g < padded.size(); g += 4)
    groups.push_back(static_cast<std::uint16_t>((padded[g] - '0') * 1000 + (padded[g + 1] - '0') * 100 +
                                                (padded[g + 2] - '0') * 10 + (padded[g + 3] - '0')));
  int weight = int_digits / 4 - 1;
  // Normalise: no leading or trailing zero groups.
  std::size_t first = 0;
  while (first < groups.size() && groups[first] == 0) {
    ++first;
    --weight;
  }
  std::size_t last = groups.size();
  while (last > first && groups[last - 1] == 0) --last;
  const std::size_t ndigits = last - first;
  if (ndigits == 0) {
    weight = 0;
    negative = false;
  }
  append_numeric_wire(out, static_cast<std::int16_t>(weight), negative, static_cast<std::uint16_t>(dscale),
                      groups.data() + first, ndigits);
  return true;
}

void append_numeric(std::int64_t value, std::string& out) {
  // Base-10000 groups straight from the integer (the common case for facts: most values are
  // whole numbers), without going through text.
  const bool negative = value < 0;
  std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  std::uint16_t low_first[5];  // groups[0] is the lowest
  int n = 0;
  while (magnitude != 0) {
    low_first[n++] = static_cast<std::uint16_t>(magnitude % 10000);
    magnitude /= 10000;
  }
  int low = 0;  // trailing zero groups are implied by the weight
  while (low < n && low_first[low] == 0) ++low;
  std::uint16_t groups[5];  // highest first, as on the wire
  for (int g = n - 1; g >= low; --g) groups[n - 1 - g] = low_first[g];
  append_numeric_wire(out, static_cast<std::int16_t>(n == 0 ? 0 : n - 1), negative, 0, groups,
                      static_cast<std::size_t>(n - low));
}

}  // namespace edgarpipe::pg
