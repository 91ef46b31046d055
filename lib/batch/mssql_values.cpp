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

namespace {

// Widths from ../shared/edgar-format.md (longest values seen, then a margin of about 2-4x for
// codes and more for free text): a longer value rejects its file, by column and length, so a
// width errs wide. Key columns stay within SQL Server's index key limits (900 bytes for a primary
// key's clustered index, 1,700 for facts_key: 8 + 2 x (128 + 255 + 128 + 32) + 2 x 3 = 1,100).
struct TextWidth {
  std::string_view table, column;  // an empty table: the column in every table
  int width;                       // 0: (MAX)
};
constexpr TextWidth kTextWidths[] = {
    // Keys and codes.
    {"", "accession_number", 32},  // 20 characters
    {"", "taxonomy", 128},         // dei, us-gaap, ifrs-full
    {"", "concept", 255},          // an XBRL element name
    {"", "unit", 128},             // USD/shares; free-form custom units
    {"submission_pages", "name", 255},
    {"", "form", 64},  // "SCHEDULE 13G/A": up to 16
    {"", "core_type", 64},
    {"", "act", 16},
    {"", "sic", 16},  // 4 digits
    {"", "ein", 32},  // 9 digits
    {"", "lei", 32},  // 20 characters
    {"", "entity_type", 64},
    {"", "fiscal_year_end", 16},  // MMDD
    {"", "fiscal_period", 16},    // FY, Q1
    {"", "frame", 32},            // CY2024Q3I
    {"", "ticker", 32},
    {"", "exchange", 32},
    {"", "file_number", 64},  // 021-74964-7P
    {"", "film_number", 32},  // 6-9 digits
    {"", "state_of_incorporation", 16},
    {"", "mailing_state_or_country", 16},
    {"", "business_state_or_country", 16},
    {"", "mailing_country_code", 16},
    {"", "business_country_code", 16},
    {"", "mailing_zip_code", 32},
    {"", "business_zip_code", 32},
    {"", "phone", 64},
    {"", "dataset", 16},
    {"", "status", 16},
    {"", "content_hash", 32},
    {"statement_lines", "statement", 32},  // income_statement, balance_sheet, cash_flow
    {"statement_lines", "line", 128},
    // Names and short text.
    {"", "name", 400},  // EDGAR's conformed names: up to 150
    {"", "entity_name", 400},
    {"", "sic_description", 256},
    {"", "owner_org", 256},
    {"", "category", 512},  // "Non-accelerated filer<br>Smaller reporting company"
    {"", "state_of_incorporation_description", 128},
    {"", "mailing_state_or_country_description", 128},
    {"", "business_state_or_country_description", 128},
    {"", "mailing_foreign_state_territory", 128},
    {"", "business_foreign_state_territory", 128},
    {"", "mailing_country", 128},
    {"", "business_country", 128},
    {"", "mailing_city", 128},
    {"", "business_city", 128},
    {"", "mailing_street1", 256},
    {"", "mailing_street2", 256},
    {"", "business_street1", 256},
    {"", "business_street2", 256},
    {"", "website", 2048},
    {"", "investor_website", 2048},
    {"", "flags", 512},
    {"", "items", 2000},  // 8-K item lists; EFFECT and CT ORDER payloads
    {"", "primary_document", 512},
    {"", "primary_doc_description", 1000},  // up to 80
    {"ingest_files", "source_file", 400},   // an SEC name, or a key-less file's
    {"ingest_files", "source_path", 4000},  // a path (refused before a run when longer)
    // Free text: (MAX).
    {"", "label", 0},
    {"", "description", 0},  // concepts: up to 1,668
    {"", "error", 0},
    {"", "sources", 0},
    {"", "sink", 0},
};

}  // namespace

int text_width(std::string_view table, std::string_view column) noexcept {
  for (const TextWidth& w : kTextWidths)
    if (w.column == column && (w.table.empty() || w.table == table)) return w.width;
  return -1;
}

}  // namespace edgarpipe::mssql
