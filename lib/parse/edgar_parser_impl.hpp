// EdgarParser::Impl, the parser's state and steps, for edgar_parser.cpp and the walk fragments
// it includes (json_walk.inc, submissions_walk.inc, companyfacts_walk.inc). Internal: nothing
// outside lib/parse/ includes it.
#pragma once

#include "edgarpipe/parse/edgar_parser.hpp"

#include <simdjson.h>

#include <emmintrin.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "edgarpipe/core/calendar.hpp"
#include "edgarpipe/core/file_names.hpp"
#include "edgarpipe/core/utf8.hpp"
#include "json_index.hpp"

namespace edgarpipe {

// ---------------------------------------------------------------------------------------------
// Parsing

// The parser's own types, in a named namespace rather than an anonymous one: Impl's members use
// them, and GCC refuses (-Wsubobject-linkage) a type of internal linkage inside code it reads from
// a header.
namespace parse_detail {

// A bad-input verdict: reason plus where in the file (nullptr: unknown).
struct Reject {
  std::string reason;
  const char* where;
};

// One scalar kept until its row is written (columnar filings, company header fields). 24 bytes,
// not the 40 of an integer beside a string_view: a main file's 1,000 recent filings are 13,000
// cells, 312 KB instead of 520 KB to write and read back beside the document and the batch chunk.
struct Cell {
  enum Kind : std::uint8_t { kNull, kInt, kText };
  union {
    std::int64_t integer = 0;  // kInt
    const char* text_data;     // kText
  };
  const char* where = nullptr;  // the value's first byte in the document
  std::uint32_t text_size = 0;
  Kind kind = kNull;

  std::string_view text() const noexcept { return {text_data, text_size}; }
  // Fits: a string lies inside a file of at most --max-file-size, which is at most 4096 MiB.
  void set_text(std::string_view s) noexcept {
    kind = kText;
    text_data = s.data();
    text_size = static_cast<std::uint32_t>(s.size());
  }
};
static_assert(sizeof(Cell) == 24);

enum class CellType : std::uint8_t { kText, kInt, kDate, kTimestamp };

// The value of up to 8 ASCII digits, the first in the lowest byte of `w` (bytes past `n` are
// ignored), or false if one of the n is not a digit. Eight bytes at a time: integers are parsed
// for two values of every companyfacts fact, and a byte loop was 8% of that parser's time.
[[gnu::always_inline]] inline bool eight_digits(std::uint64_t w, std::size_t n, std::uint64_t& value) noexcept {
  if (n < 8) w = (w << (8 * (8 - n))) | (0x3030303030303030 >> (8 * n));  // leading '0's
  // A byte's high bit is set below '0' (by the subtraction) or above '9' (by the addition); a
  // borrow or carry reaches only bytes above the first bad one.
  if ((((w + 0x4646464646464646) | (w - 0x3030303030303030)) & 0x8080808080808080) != 0) return false;
  w = ((w & 0x0F0F0F0F0F0F0F0F) * 2561) >> 8;  // D. Lemire's multiply-and-shift reduction
  w = ((w & 0x00FF00FF00FF00FF) * 6553601) >> 16;
  value = ((w & 0x0000FFFF0000FFFF) * 42949672960001) >> 32;
  return true;
}

// A JSON integer in its canonical form, -?(0|[1-9][0-9]*), of at most 18 digits (so it fits an
// int64 without a check). False for anything else, which then takes the general number path and
// its errors: leading zeros, fractions, exponents, longer numbers, junk. Reads up to 16 bytes
// from the first digit: the token lies in a padded document.
bool plain_integer(std::string_view s, std::int64_t& value) noexcept {
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 18 || (s[0] == '0' && s.size() > 1)) return false;
  std::uint64_t v = 0;
  if (s.size() <= 16) {
    constexpr std::uint64_t kPowers[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    std::uint64_t head, tail = 0;
    std::memcpy(&head, s.data(), 8);
    if (!eight_digits(head, std::min<std::size_t>(s.size(), 8), v)) return false;
    if (s.size() > 8) {
      std::memcpy(&head, s.data() + 8, 8);
      if (!eight_digits(head, s.size() - 8, tail)) return false;
      v = v * kPowers[s.size() - 8] + tail;
    }
  } else {
    for (const char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
  }
  value = negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
  return true;
}

// One comparison for the usual byte, which is above ' ' (every token is trimmed this way).
bool is_json_space(char c) noexcept {
  return static_cast<unsigned char>(c) <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t');
}

[[gnu::always_inline]] inline std::string_view trim_right(std::string_view s) noexcept {
  while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
  return s;
}

// Whether [begin, end) of the document holds a backslash, 16 bytes at a time; reads up to 15
// bytes past `end`, which the document's padding covers. Asked per key and string, it replaced a
// memchr pass over every document (7% of the parser in the pipeline, where the document arrives
// cold from the reader's core): backslashes are rare in SEC files.
[[gnu::always_inline]] inline bool has_backslash(const char* begin, const char* end) noexcept {
  const __m128i backslash = _mm_set1_epi8('\\');
  for (const char* p = begin; p < end; p += 16) {
    auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), backslash)));
    if (end - p < 16) mask &= (1u << (end - p)) - 1;
    if (mask != 0) return true;
  }
  return false;
}

// The text of a plain string token [value, end): quotes right at both ends (no space before the
// next structural character) and no backslash between them. False for any other token.
[[gnu::always_inline]] inline bool plain_string(const char* value, const char* end, std::string_view& text) noexcept {
  if (*value != '"' || end[-1] != '"' || end - value < 2 || has_backslash(value, end)) return false;
  text = {value + 1, static_cast<std::size_t>(end - value - 2)};
  return true;
}

bool is_number_start(char c) noexcept { return c == '-' || (c >= '0' && c <= '9'); }

// The JSON type a value's first byte announces (as simdjson's type() reads it); nullptr for a
// byte no JSON value starts with.
const char* type_named_by(char c) noexcept {
  switch (c) {
    case '{':
      return "an object";
    case '[':
      return "an array";
    case '"':
      return "a string";
    case 't':
    case 'f':
      return "a boolean";
    case 'n':
      return "null";
    default:
      return is_number_start(c) ? "a number" : nullptr;
  }
}

// A token quoted for a message: at most 20 bytes, and when cut, how long it was (a 401-digit
// number shown as its first 20 digits alone reads as a different number).
std::string quoted_excerpt(std::string_view token) {
  const std::string_view whole = trim_right(token);
  const std::string_view shown = text_excerpt(whole, 20);
  if (shown.size() == whole.size()) return "\"" + std::string(shown) + "\"";
  const auto digits = std::count_if(whole.begin(), whole.end(), [](char c) { return c >= '0' && c <= '9'; });
  return "\"" + std::string(shown) + "...\" (" +
         (is_number_start(whole[0]) ? std::to_string(digits) + " digits" : std::to_string(whole.size()) + " bytes") +
         ")";
}

[[noreturn]] void invalid_json(std::string_view token, std::string_view what) {
  throw Reject{"invalid JSON: " + std::string(what) + " " + quoted_excerpt(token), token.data()};
}

// `token` is a value's raw token (its first byte is the value's). A number is quoted, and one
// with no fraction or exponent that does not fit 64 bits says so.
[[noreturn]] void wrong_type(std::string_view token, std::string_view path, std::string_view expected) {
  const char* found = type_named_by(token.empty() ? '\0' : token[0]);
  if (found == nullptr) invalid_json(token, "expected a value, found");
  std::string what = found;
  if (is_number_start(token[0])) {
    const std::string_view n = trim_right(token);
    std::int64_t ignored = 0;
    const bool integral = n.find_first_of(".eE") == std::string_view::npos;
    what = "the number " + quoted_excerpt(n);
    if (integral && std::from_chars(n.data(), n.data() + n.size(), ignored).ec != std::errc{})
      what += ", beyond a 64-bit integer";
  }
  throw Reject{std::string(path) + ": expected " + std::string(expected) + ", found " + what, token.data()};
}

// Stage 1 marks where a scalar starts but does not read it: the literals are checked here.
void null_literal(std::string_view token) {
  if (trim_right(token) != "null") invalid_json(token, "not a JSON value:");
}
bool bool_literal(std::string_view token) {
  const std::string_view s = trim_right(token);
  if (s == "true") return true;
  if (s != "false") invalid_json(token, "not a JSON value:");
  return false;
}

// A key of at most 8 bytes as one integer (little-endian, zero past its end), so a switch can
// dispatch on it: comparing string_views called memcmp per key (11% of the companyfacts reader).
// Keys lie in a padded document or unescape buffer, so the 8-byte load stays in bounds.
constexpr std::uint64_t short_key(std::string_view k) noexcept {
  std::uint64_t w = 0;
  if (std::is_constant_evaluated()) {
    for (std::size_t i = 0; i < k.size() && i < 8; ++i) w |= std::uint64_t{static_cast<unsigned char>(k[i])} << (8 * i);
    return w;
  }
  std::memcpy(&w, k.data(), 8);
  return k.size() >= 8 ? w : w & ((std::uint64_t{1} << (8 * k.size())) - 1);
}

// A fact's columns after the prefix, in the order SEC writes their keys.
enum FactColumn : std::uint8_t { kStart, kEnd, kVal, kAccn, kFy, kFp, kForm, kFiled, kFrame, kFactColumns };
// Each key with its closing quote, as the 8 bytes loaded from after its opening quote read it
// (the mask keeps the key's bytes).
struct QuotedKey {
  std::uint64_t bytes, mask;
};
constexpr QuotedKey quoted_key(std::string_view key_and_quote) {
  return {short_key(key_and_quote), ~std::uint64_t{0} >> (64 - 8 * key_and_quote.size())};
}
constexpr QuotedKey kFactKeys[kFactColumns] = {quoted_key("start\""), quoted_key("end\""),   quoted_key("val\""),
                                               quoted_key("accn\""),  quoted_key("fy\""),    quoted_key("fp\""),
                                               quoted_key("form\""),  quoted_key("filed\""), quoted_key("frame\"")};

enum class NumberKind { kInt64, kOther };  // kOther: a fraction, an exponent, or beyond int64

// A number token (trimmed), checked against JSON's grammar -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// (simdjson's own number parsers are not public). Integers that fit go to `as_int`.
NumberKind read_number(std::string_view s, std::int64_t& as_int) {
  const auto digit = [&](std::size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  std::size_t i = s[0] == '-' ? 1 : 0;
  bool integral = true;
  if (!digit(i)) invalid_json(s, "malformed number");
  if (s[i] == '0')
    ++i;
  else
    while (digit(i)) ++i;
  if (i < s.size() && s[i] == '.') {
    integral = false;
    if (!digit(++i)) invalid_json(s, "malformed number");
    while (digit(i)) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    integral = false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) invalid_json(s, "malformed number");
    while (digit(i)) ++i;
  }
  if (i != s.size()) invalid_json(s, "malformed number");
  return integral && std::from_chars(s.data(), s.data() + s.size(), as_int).ec == std::errc{} ? NumberKind::kInt64
                                                                                              : NumberKind::kOther;
}

// The nearest double of a number read_number() accepted. Like simdjson, a number too small for a
// double reads as 0 and one too large is refused; from_chars says only "out of range", so strtod
// (the "C" locale: nothing here calls setlocale) tells the two apart.
double nearest_double(std::string_view s) {
  double d = 0;
  if (std::from_chars(s.data(), s.data() + s.size(), d).ec != std::errc::result_out_of_range) return d;
  d = std::strtod(std::string(s).c_str(), nullptr);
  if (std::isinf(d)) invalid_json(s, "number out of the range of a double:");
  return d;
}

bool is_digits(std::string_view s) noexcept {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// YYYY-MM-DDTHH:MM:SS[.fff]Z (UTC), or a plain date meaning midnight.
bool is_timestamp(std::string_view s) noexcept {
  if (s.size() == 10) return is_date(s);
  if (s.size() < 20 || !is_date(s.substr(0, 10)) || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s.back() != 'Z')
    return false;
  if (!is_digits(s.substr(11, 2)) || !is_digits(s.substr(14, 2)) || !is_digits(s.substr(17, 2))) return false;
  if ((s[11] - '0') * 10 + (s[12] - '0') > 23 || (s[14] - '0') > 5 || (s[17] - '0') > 5) return false;
  const std::string_view fraction = s.substr(19, s.size() - 20);  // "" or ".fff"
  return fraction.empty() ||
         (fraction[0] == '.' && fraction.size() <= 4 && fraction.size() >= 2 && is_digits(fraction.substr(1)));
}

// The SQL form "YYYY-MM-DD HH:MM:SS[.fff]" of a timestamp is_timestamp() accepted (milliseconds
// kept only when not zero), written into `out`; returns its length. Cells are checked when read
// and written later, so this only moves bytes.
std::size_t sql_timestamp(std::string_view s, char (&out)[24]) noexcept {
  if (s.size() == 10) {
    std::memcpy(out, s.data(), 10);
    std::memcpy(out + 10, " 00:00:00", 9);
    return 19;
  }
  std::memcpy(out, s.data(), 19);
  out[10] = ' ';
  const std::string_view fraction = s.substr(19, s.size() - 20);  // "" or ".fff"
  for (std::size_t i = 1; i < fraction.size(); ++i)
    if (fraction[i] != '0') {
      std::memcpy(out + 19, fraction.data(), fraction.size());
      return 19 + fraction.size();
    }
  return 19;
}

// The first byte below 0x20 other than JSON whitespace (for UNESCAPED_CHARS), or nullptr.
const char* first_control_char(const char* data, std::size_t len) noexcept {
  for (std::size_t i = 0; i < len; ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return data + i;
  }
  return nullptr;
}

// Columns of filings.recent / overflow pages, by JSON key.
struct FilingColumn {
  std::string_view key;
  std::uint8_t column;
  CellType type;
};
constexpr FilingColumn kFilingColumns[] = {
    {"accessionNumber", filings_col::accession_number, CellType::kText},
    {"filingDate", filings_col::filing_date, CellType::kDate},
    {"reportDate", filings_col::report_date, CellType::kDate},
    {"acceptanceDateTime", filings_col::acceptance_datetime, CellType::kTimestamp},
    {"act", filings_col::act, CellType::kText},
    {"form", filings_col::form, CellType::kText},
    {"fileNumber", filings_col::file_number, CellType::kText},
    {"filmNumber", filings_col::film_number, CellType::kText},
    {"items", filings_col::items, CellType::kText},
    {"core_type", filings_col::core_type, CellType::kText},
    {"size", filings_col::size, CellType::kInt},
    {"isXBRL", filings_col::is_xbrl, CellType::kInt},
    {"isInlineXBRL", filings_col::is_inline_xbrl, CellType::kInt},
    {"isXBRLNumeric", filings_col::is_xbrl_numeric, CellType::kInt},
    {"primaryDocument", filings_col::primary_document, CellType::kText},
    {"primaryDocDescription", filings_col::primary_doc_description, CellType::kText},
};

// Company header fields (top level of a main file) -> companies column.
struct CompanyField {
  std::string_view key;
  std::uint8_t column;
  CellType type;
};
constexpr CompanyField kCompanyFields[] = {
    {"name", 1, CellType::kText},
    {"entityType", 2, CellType::kText},
    {"sic", 3, CellType::kText},
    {"sicDescription", 4, CellType::kText},
    {"ownerOrg", 5, CellType::kText},
    {"insiderTransactionForOwnerExists", 6, CellType::kInt},
    {"insiderTransactionForIssuerExists", 7, CellType::kInt},
    {"ein", 8, CellType::kText},
    {"lei", 9, CellType::kText},
    {"description", 10, CellType::kText},
    {"website", 11, CellType::kText},
    {"investorWebsite", 12, CellType::kText},
    {"category", 13, CellType::kText},
    {"fiscalYearEnd", 14, CellType::kText},
    {"stateOfIncorporation", 15, CellType::kText},
    {"stateOfIncorporationDescription", 16, CellType::kText},
    {"phone", 17, CellType::kText},
    {"flags", 18, CellType::kText},
};
constexpr std::size_t kCompanyColumns = 39;
constexpr std::uint8_t kMailingBase = 19;
constexpr std::uint8_t kBusinessBase = 29;

constexpr CompanyField kAddressFields[] = {
    {"street1", 0, CellType::kText},
    {"street2", 1, CellType::kText},
    {"city", 2, CellType::kText},
    {"stateOrCountry", 3, CellType::kText},
    {"zipCode", 4, CellType::kText},
    {"stateOrCountryDescription", 5, CellType::kText},
    {"isForeignLocation", 6, CellType::kInt},
    {"foreignStateTerritory", 7, CellType::kText},
    {"country", 8, CellType::kText},
    {"countryCode", 9, CellType::kText},
};

template <class Table>
const auto* find_key(const Table& table, std::string_view key) noexcept {
  for (const auto& entry : table)
    if (entry.key == key) return &entry;
  return static_cast<decltype(&table[0])>(nullptr);
}

bool is_submissions_key(std::string_view key) noexcept {
  return key == "filings" || key == "entityType" || key == "name" || key == "tickers" || key == "exchanges" ||
         key == "formerNames" || key == "addresses" || key == "sic" || find_key(kCompanyFields, key) != nullptr;
}
bool is_companyfacts_key(std::string_view key) noexcept { return key == "entityName" || key == "facts"; }

// One companyfacts fact's fields, gathered before they are checked and written. A key given twice
// keeps its last value, "val" included (an integer then a decimal kept the integer once).
struct Fact {
  Cell start, end, accn, fy, fp, form, filed, frame;
  Cell val;  // kNull, kInt, or kText holding a non-integral number's token (with val_double)
  double val_double = 0;
  bool have_val = false;
};

}  // namespace parse_detail

using namespace parse_detail;

// The parser's state and steps. One struct because every step reads the same cursor and document
// state; its member definitions live in edgar_parser.cpp and, by job, in json_walk.inc,
// submissions_walk.inc and companyfacts_walk.inc, which edgar_parser.cpp includes, so the parser
// stays one translation unit (the steps inline into the hot loops) while each file holds one job.
struct EdgarParser::Impl {
  JsonIndex index;

  // Per-document state.
  const char* base = nullptr;
  RowBatchWriter* out = nullptr;
  ParseOutcome result;
  enum class Kind { kUnknown, kMain, kPage, kFacts } kind = Kind::kUnknown;
  std::int64_t json_cik = -1;
  bool cik_looked_up = false;  // "facts" came first, and the rest was searched for "cik"
  std::int64_t name_cik = -1;
  Dataset fallback = Dataset::kUnknown;  // the path's hint, for documents that do not say
  const char* value_where = nullptr;     // the input position of the value being written
  // companyfacts: where the keys that fact rows take as values are (each key's first byte)
  const char* taxonomy_where = nullptr;
  const char* concept_where = nullptr;
  const char* unit_where = nullptr;
  RowBatchWriter::RowPrefix fact_prefix;  // the unit's facts' cik, taxonomy, concept and unit

  // Submissions main file, kept until the end of the document (the CIK may come last).
  std::array<Cell, kCompanyColumns> company{};
  bool have_company_fields = false;
  std::vector<Cell> tickers, exchanges;
  const char* tickers_where = nullptr;
  std::vector<std::array<Cell, 3>> former_names;
  struct Page {
    Cell name, count, from, to;
  };
  std::vector<Page> pages;
  // Filing columns (recent or overflow page).
  std::array<std::vector<Cell>, filings_col::count_> columns;
  std::array<bool, filings_col::count_> column_present{};
  std::array<const char*, filings_col::count_> column_where{};
  bool have_filings = false;
  // companyfacts
  Cell entity_name;
  bool have_entity_name = false;

  // A key given twice in one object is refused at its second place: JSON (RFC 8259) leaves its
  // meaning open, and the walk would keep the last value without a word. Keys of fixed sets take
  // a bit each (the document's object: its companies column, then kTopKey*). Unknown keys, which
  // are skipped, are not looked at.
  enum : unsigned {
    kTopKeyCik = 40,
    kTopKeyTickers,
    kTopKeyExchanges,
    kTopKeyFormerNames,
    kTopKeyAddresses,
    kTopKeyFilings,
    kTopKeyEntityName,
    kTopKeyFacts
  };
  static_assert(kTopKeyCik >= kCompanyColumns && kTopKeyFacts < 64);
  std::uint64_t top_keys = 0;
  static void once(std::uint64_t& seen, unsigned bit, std::string_view key, const char* where,
                   std::string_view object) {
    if ((seen >> bit & 1U) != 0) duplicate_key(key, where, object);
    seen |= std::uint64_t{1} << bit;
  }
  [[noreturn]] static void duplicate_key(std::string_view key, const char* where, std::string_view object) {
    throw Reject{"key \"" + std::string(key) + "\" given twice in " + std::string(object) +
                     " (JSON keys must be unique: which value is meant is unknown)",
                 where};
  }
  // The open sets (the taxonomies, a taxonomy's concepts, a concept's units) are checked when
  // their object ends, by sorting hashes: no allocation per key (a set of strings cost 6% of the
  // companyfacts parser). A key read with escapes (not a view of the document) is compared by its
  // hash alone.
  struct KeyLog {
    struct Key {
      std::size_t hash;
      const char* where;      // the key's first byte in the document
      std::string_view text;  // the key as a view of the document, or empty
    };
    std::vector<Key> keys;
  };
  KeyLog taxonomy_keys, concept_keys, unit_keys;
  void log_key(KeyLog& log, std::string_view key, const char* where) {
    const bool in_document = key.data() >= base && key.data() <= base + len_;
    log.keys.push_back({std::hash<std::string_view>{}(key), where, in_document ? key : std::string_view{}});
  }
  void check_keys(KeyLog& log, std::string_view object) {
    auto& keys = log.keys;
    if (keys.size() > 1) {
      std::sort(keys.begin(), keys.end(), [](const KeyLog::Key& a, const KeyLog::Key& b) {
        return std::tie(a.hash, a.where) < std::tie(b.hash, b.where);
      });
      for (std::size_t i = 1; i < keys.size(); ++i) {
        const KeyLog::Key &first = keys[i - 1], &second = keys[i];
        if (first.hash == second.hash && (first.text.empty() || second.text.empty() || first.text == second.text))
          duplicate_key(second.text.empty() ? first.text : second.text, second.where, object);
      }
    }
    keys.clear();
  }

  void reset_document();

  std::int64_t cik() const noexcept { return json_cik >= 0 ? json_cik : name_cik; }

  // -- the structural index -------------------------------------------------------------------
  //
  // Documents are walked over simdjson's structural index (JsonIndex: stage 1 alone), not through
  // On-Demand: a companyfacts fact is a flat object of ~9 scalars and a filings column an array
  // of short ones, and On-Demand's iteration and its step over each value were about half of the
  // parser's time. Here a field is four index entries (key, ':', value, ',' or '}') read without a
  // dependency on the bytes between them. The walker checks the grammar it walks and every scalar
  // it reads, and skips other values by bracket depth, as On-Demand does.

  const std::uint32_t* at_ = nullptr;  // offsets of the structural characters
  std::uint32_t n_ = 0;                // how many; at_[n_] is the document's length
  std::uint32_t i_ = 0;                // the cursor
  std::size_t len_ = 0;

  static constexpr const char* kEndsEarly = "the document ends before its objects and arrays close";

  // The structural character at the cursor ('\0' past the end, or a NUL byte: neither is a
  // structural character, so either way the walker refuses what it expected there).
  char op() const noexcept { return i_ < n_ ? base[at_[i_]] : '\0'; }
  char op_at(std::uint32_t j) const noexcept { return j < n_ ? base[at_[j]] : '\0'; }
  const char* here() const noexcept { return base + (i_ < n_ ? at_[i_] : len_); }
  [[noreturn]] void bad_json(const char* what) const;
  // The value at the cursor up to the next structural character.
  std::string_view value_token() const;
  std::string_view unescaped(std::string_view raw);
  // The key at index entry j (its ':' follows at j + 1).
  [[gnu::always_inline]] std::string_view key_at(std::uint32_t j);

  // Calls on_field(key, key_where) for each field of the object at the cursor, with the cursor on
  // the field's value; on_field steps past the value. Leaves the cursor after the object.
  template <class OnField>
  [[gnu::always_inline]] void for_each_field(OnField&& on_field);
  template <class OnElement>
  [[gnu::always_inline]] void for_each_element(OnElement&& on_element);
  // Steps over the value at the cursor: a scalar is one entry, a container runs to its matching
  // close by depth.
  void skip_value();
  void require_container(char open, std::string_view path, std::string_view expected);

  void text_cell_here(Cell& c, std::string_view path);
  void date_cell_here(Cell& c, std::string_view path);
  void int_cell_here(Cell& c, std::string_view path);
  // A text or integer cell, checked against its column's type (dates, timestamps).
  void cell_here(Cell& c, CellType type, std::string_view path);

  // -- scalar cells --------------------------------------------------------------------------

  // Cells are read from a value's raw token, its bytes up to the next structural character: its
  // first byte says the type and its address is the value's offset.

  void text_cell(Cell& c, std::string_view token, std::string_view path);

  void int_cell(Cell& c, std::string_view token, std::string_view path);

  // Inline for the common case, text and integer cells: a call per cell was 13% of submissions.
  [[gnu::always_inline]] static void check_cell(const Cell& c, CellType type, std::string_view path);
  static void check_calendar_cell(const Cell& c, CellType type, std::string_view path);

  // Writes a validated cell as a column value of `type`.
  void write(const Cell& c, CellType type);

  std::int64_t parse_cik(std::string_view token);

  // -- submissions ---------------------------------------------------------------------------

  // The object at the cursor: filing columns, each an array of cells (filings.recent, or a whole
  // overflow page).
  void parse_columns(std::string_view prefix);

  // The array at the cursor into `cells`; returns how many. An element is two index entries, value
  // and ',' or ']', read with a local index: a plain string or a canonical integer is taken here,
  // anything else (null, escapes, spaces, bad values) goes through cell_here and its checks (-11%
  // instructions for submissions). `cells` is grown by hand and keeps its capacity from file to
  // file: emplace_back's call and zeroed Cell per element were 12% of the submissions parser.
  std::size_t read_column(std::vector<Cell>& cells, CellType type, std::string_view path);

  [[gnu::always_inline]] static bool plain_cell(Cell& c, CellType type, const char* value, const char* end);

  void emit_filings(std::int64_t cik, std::string_view prefix);

  static std::string_view column_key(int column) noexcept;

  void parse_address(std::uint8_t base_column, std::string_view path);

  // A top-level field of a main file, with the cursor on its value.
  void submissions_field(std::string_view key, const char* key_where);

  void parse_page_entry();

  void emit_main();

  // -- companyfacts --------------------------------------------------------------------------

  void val_cell_here(Fact& f);

  // "facts" came before "cik": the rows need the CIK, so read the first "cik" after it (keys
  // compared as written), then come back. Without one, the file name's CIK is used.
  void look_up_cik();

  void facts_here();

  void units_here(std::int64_t id, std::string_view taxonomy, std::string_view concept_name);

  // The values a unit's fact rows begin with, written once and then copied (RowPrefix).
  void begin_fact_row(std::int64_t id, std::string_view taxonomy, std::string_view concept_name,
                      std::string_view unit) {
    out->begin_row(TableId::kFacts);
    if (out->repeat_prefix(fact_prefix)) return;  // else the first fact of a unit, or after a spilled row
    out->integer(id);
    value_where = taxonomy_where;
    out->text(taxonomy);
    value_where = concept_where;
    out->text(concept_name);
    value_where = unit_where;
    out->text(unit);
    out->keep_prefix(fact_prefix, 4);
  }

  // The plain fact, written straight from the index into its row: keys as SEC writes them
  // (start?, end, val, accn, fy, fp, form, filed, frame?: the table's column order), strings
  // without escapes or spaces, dates that exist, numbers fact_here would accept, nulls where
  // a column may be null. That is 98% of Apple's facts; the general path gathered them into Cells,
  // checked, then wrote them, at about twice the instructions. Anything else cancels the row and
  // returns false, the cursor still on the fact: fact_here then reads it and says what, if
  // anything, is wrong.
  bool plain_fact_here(std::int64_t id, std::string_view taxonomy, std::string_view concept_name,
                       std::string_view unit) {
    std::uint32_t j = i_ + 1;
    begin_fact_row(id, taxonomy, concept_name, unit);
    try {
      if (plain_fact_fields(j)) {
        value_where = here();  // a row too large for a chunk names its fact
        out->end_row();
        result.rows += 1;
        i_ = j;
        return true;
      }
    } catch (const ValueRejected&) {
      // A value the run's encoding refuses (SQL Server's NVARCHAR(32) accession number): the general
      // path refuses it too, unless the fact gives that key again (the last value counts).
    }
    out->cancel_row();
    return false;
  }

  // The fields of a plain fact from index entry j on, written into the row; true with j past the
  // fact's '}' if all were plain.
  bool plain_fact_fields(std::uint32_t& j);

  // One value of a plain fact, written; false if it is not plain (see plain_fact_here).
  [[gnu::always_inline]] bool plain_fact_value(FactColumn column, const char* value, const char* end);

  void fact_here(std::int64_t id, std::string_view taxonomy, std::string_view concept_name, std::string_view unit);

  void emit_entity();

  // -- document ------------------------------------------------------------------------------

  // A top-level key that names the document's kind settles it (the first one), and must agree
  // with it after that.
  void check_kind(std::string_view key, const char* value_at);

  void parse_document(std::size_t len);

  void finish_document();

  // Stage 1's verdict, with the offset of what it refused where it can be found.
  void check_stage1(simdjson::error_code e, std::size_t len) const;

  ParseOutcome parse(const char* data, std::size_t len, std::size_t capacity, std::string_view path, Dataset hint,
                     bool forced, RowBatchWriter& writer) {
    reset_document();
    base = data;
    out = &writer;
    const FileNameInfo name = parse_file_name(path);
    name_cik = name.cik;
    fallback = hint;
    if (name.overflow_page)
      kind = Kind::kPage;
    else if (forced && hint == Dataset::kSubmissions)
      kind = Kind::kMain;
    else if (forced && hint == Dataset::kCompanyfacts)
      kind = Kind::kFacts;

    const char* error_where = nullptr;
    bool where_known = false;
    bool nul_named = false;  // past the checks that name what a NUL byte may be part of (UTF-16)
    if (capacity < len + simdjson::SIMDJSON_PADDING)
      throw std::invalid_argument("EdgarParser::parse: the buffer lacks simdjson's padding");
    try {
      if (forced && name.overflow_page && hint == Dataset::kCompanyfacts)
        throw Reject{"a submissions overflow page (by its name), and --dataset companyfacts loads companyfacts only",
                     nullptr};
      if (len == 0) throw Reject{"empty file", data};
      // A byte order mark is invisible in an editor: name it, not "expected a value".
      if (len >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        throw Reject{"a UTF-8 byte order mark (EF BB BF) begins the file; JSON (RFC 8259) and EDGAR's files have none",
                     data};
      // A byte order mark of UTF-16 (a file re-saved by a Windows tool): say so, not "NUL byte".
      if (len >= 2 && ((data[0] == '\xFF' && data[1] == '\xFE') || (data[0] == '\xFE' && data[1] == '\xFF')))
        throw Reject{"UTF-16 text (byte order mark); EDGAR JSON is UTF-8", data};
      if (std::all_of(data, data + len, [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }))
        throw Reject{"no JSON document, only whitespace", data};
      // Text must not carry NUL (PostgreSQL cannot store it). Stage 1 refuses a raw NUL byte in a
      // string (a control character), and the walker one where it reads a value, so the document
      // is scanned for NUL bytes only once refused, to name them (a scan of every document was 5%
      // of the parser's time). A \u0000 escape is looked for in each string that is unescaped.
      nul_named = true;
      parse_document(len);
      // A document is known by the key of its SEC name: a name and a document that disagree on
      // the filer would load one filer's rows under another's key.
      if (name_cik < 0 && json_cik < 0)
        throw Reject{
            "no CIK: the file name is not an SEC name (CIK##########.json) and the document has no "
            "\"cik\" (an overflow page is known by its name alone)",
            nullptr};
      if (name_cik >= 0 && json_cik >= 0 && json_cik != name_cik)
        throw Reject{"the document's cik " + std::to_string(json_cik) + " is not the CIK of its file name (" +
                         std::to_string(name_cik) + ")",
                     nullptr};
      result.ok = true;
    } catch (const Reject& r) {
      result.error = r.reason;
      error_where = r.where;
      where_known = r.where != nullptr;
    } catch (const simdjson::simdjson_error& e) {
      result.error = std::string("invalid JSON: ") + simdjson::error_message(e.error());
      if (e.error() == simdjson::UNCLOSED_STRING) {
        error_where = data + len;  // the document ends too early
        where_known = true;
      }
    } catch (const ValueRejected& e) {
      result.error = e.what();
      error_where = value_where;
      where_known = value_where != nullptr;
    } catch (const RowTooLarge& e) {
      result.error = e.what();
      error_where = value_where;  // a value of the row: which row it was
      where_known = value_where != nullptr;
    }
    if (!result.ok) {
      const void* nul = nul_named ? std::memchr(data, 0, len) : nullptr;
      if (nul != nullptr) {  // the first NUL byte is the reason, as it is the first thing wrong
        result.error = "NUL byte in the document";
        error_where = static_cast<const char*>(nul);
        where_known = true;
      }
      result.rows = 0;
      result.error = one_line(result.error);
      if (where_known && error_where >= data && error_where <= data + len) result.error_offset = error_where - data;
    }
    result.cik = cik();
    result.dataset = (kind == Kind::kFacts)     ? Dataset::kCompanyfacts
                     : (kind == Kind::kUnknown) ? (name.overflow_page ? Dataset::kSubmissions : hint)
                                                : Dataset::kSubmissions;
    return result;
  }
};

}  // namespace edgarpipe
