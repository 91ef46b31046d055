#include "edgarpipe/batch/mssql_values.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

#include "edgarpipe/core/decimal_text.hpp"

namespace edgarpipe::mssql {

std::size_t utf16le_from_utf8(std::string_view utf8, char* out) noexcept {
  const auto* s = reinterpret_cast<const std::uint8_t*>(utf8.data());
  const std::size_t n = utf8.size();
  auto* o = reinterpret_cast<std::uint8_t*>(out);
  auto put_unit = [&o](std::uint32_t unit) {
    *o++ = static_cast<std::uint8_t>(unit & 0xFF);
    *o++ = static_cast<std::uint8_t>(unit >> 8);
  };
  for (std::size_t i = 0; i < n;) {
    // Eight ASCII bytes at a time (nearly all SEC text): each widens to one unit.
    if (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        for (int k = 0; k < 8; ++k) {
          *o++ = static_cast<std::uint8_t>(word >> (8 * k));
          *o++ = 0;
        }
        i += 8;
        continue;
      }
    }
    const std::uint8_t c = s[i];
    std::uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if (c < 0xE0) {
      cp = (c & 0x1Fu) << 6 | (s[i + 1] & 0x3Fu);
      i += 2;
    } else if (c < 0xF0) {
      cp = (c & 0x0Fu) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3Fu);
      i += 3;
    } else {
      cp = (c & 0x07u) << 18 | (s[i + 1] & 0x3Fu) << 12 | (s[i + 2] & 0x3Fu) << 6 | (s[i + 3] & 0x3Fu);
      i += 4;
    }
    if (cp >= 0x10000) {  // a surrogate pair
      cp -= 0x10000;
      put_unit(0xD800 + (cp >> 10));
      put_unit(0xDC00 + (cp & 0x3FF));
    } else {
      put_unit(cp);
    }
  }
  return static_cast<std::size_t>(o - reinterpret_cast<std::uint8_t*>(out));
}

std::size_t append_utf16le(std::string_view utf8, std::string& out) {
  const std::size_t at = out.size();
  out.resize(at + 2 * utf8.size());
  const std::size_t bytes = utf16le_from_utf8(utf8, out.data() + at);
  out.resize(at + bytes);
  return bytes / 2;
}

std::size_t utf16_length(std::string_view utf8) noexcept {
  std::size_t units = 0;
  for (const char ch : utf8) {
    const auto c = static_cast<std::uint8_t>(ch);
    if ((c & 0xC0) != 0x80) units += 1;  // every sequence's lead byte
    if (c >= 0xF0) units += 1;           // four-byte sequences need a surrogate pair
  }
  return units;
}

bool fixed_scale_decimal(std::string_view text, std::string& out, int precision, int scale) {
  DecimalDigits d;
  if (!split_decimal(text, d)) return false;
  const int n = static_cast<int>(d.digits.size());
  const auto digit_at = [&](int position) {  // digit `position` places left of the point (0 = units)
    const int index = d.point - 1 - position;
    return index >= 0 && index < n ? d.digits[static_cast<std::size_t>(index)] : '0';
  };
  // Nonzero digits past the scale would be rounded away by the server.
  for (int index = std::max(0, d.point + scale); index < n; ++index)
    if (d.digits[static_cast<std::size_t>(index)] != '0') return false;
  int top = d.point - 1;  // highest position with a nonzero digit
  while (top >= 0 && digit_at(top) == '0') --top;
  if (top + 1 > precision - scale) return false;
  out.clear();
  if (d.negative) out.push_back('-');  // dropped again below if every digit is zero
  bool zero = true;
  for (int position = std::max(top, 0); position >= -scale; --position) {
    if (position == -1) out.push_back('.');
    const char c = digit_at(position);
    zero = zero && c == '0';
    out.push_back(c);
  }
  if (d.negative && zero) out.erase(0, 1);
  return true;
}

void fixed_scale_decimal(std::int64_t value, std::string& out, int scale) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.assign(digits, end);
  if (scale > 0) {
    out.push_back('.');
    out.append(static_cast<std::size_t>(scale), '0');
  }
}

int text_width(std::string_view table, std::string_view column) noexcept {
  if (column == "accession_number") return 32;
  if (table == "submission_pages" && column == "name") return 255;
  if (column == "taxonomy") return 128;
  if (column == "concept") return 255;
  if (column == "unit") return 64;
  if (table == "ingest_files" && column == "source_file") return 400;  // an SEC name, or a key-less file's
  if (column == "dataset" || column == "status") return 16;
  if (column == "content_hash") return 32;
  if ((table == "concepts" && (column == "label" || column == "description")) ||
      (table == "companies" && column == "description") || column == "error" || column == "sources" || column == "sink")
    return 0;
  return 4000;
}

}  // namespace edgarpipe::mssql
