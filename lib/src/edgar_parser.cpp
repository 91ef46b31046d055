#include "edgarpipe/edgar_parser.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <vector>

#include "edgarpipe/calendar.hpp"
#include "edgarpipe/utf8.hpp"

namespace edgarpipe {

namespace od = simdjson::ondemand;

// ---------------------------------------------------------------------------------------------
// File names and hints

FileNameInfo parse_file_name(std::string_view path) noexcept {
  FileNameInfo info;
  const auto slash = path.find_last_of('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto digits = [](std::string_view s) {
    for (char c : s)
      if (c < '0' || c > '9') return false;
    return !s.empty();
  };
  if (name.size() < 3 + 10 + 5 || name.substr(0, 3) != "CIK" || !digits(name.substr(3, 10))) return info;
  std::int64_t cik = 0;
  std::from_chars(name.data() + 3, name.data() + 13, cik);
  std::string_view rest = name.substr(13);
  if (rest == ".json") {
    info.cik = cik;
  } else if (rest.size() > 13 + 5 && rest.substr(0, 13) == "-submissions-" && rest.substr(rest.size() - 5) == ".json" &&
             digits(rest.substr(13, rest.size() - 18))) {
    info.cik = cik;
    info.overflow_page = true;
  }
  return info;
}

Dataset dataset_hint_from_path(std::string_view path) noexcept {
  // The innermost directory component that names a dataset wins ("…/companyfacts/CIK….json").
  Dataset hint = Dataset::kUnknown;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) break;  // the last component is the file name
    std::string_view part = path.substr(start, end - start);
    if (part.find("companyfacts") != std::string_view::npos)
      hint = Dataset::kCompanyfacts;
    else if (part.find("submissions") != std::string_view::npos)
      hint = Dataset::kSubmissions;
    start = end + 1;
  }
  return hint;
}

// ---------------------------------------------------------------------------------------------
// Parsing

namespace {

// A bad-input verdict: reason plus where in the file (nullptr: unknown).
struct Reject {
  std::string reason;
  const char* where;
};

// The document has `facts` before `cik`: parse `cik` first, then start over.
struct NeedCikFirst {};

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

std::string_view type_name(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "an unknown value";
}

// The field an object iteration is at, by reference: `for (od::field f : obj)` copies the field
// out of its result, a 32-byte load of bytes just stored piecewise, which stalled store-to-load
// forwarding on every field (about a third of the companyfacts parser's time).
od::field& field_of(simdjson::simdjson_result<od::field>& r) {
  if (r.error() != simdjson::SUCCESS) throw simdjson::simdjson_error(r.error());
  return r.value_unsafe();
}
// The same for an array's elements (values are passed by reference below for the same reason).
od::value& value_of(simdjson::simdjson_result<od::value>& r) {
  if (r.error() != simdjson::SUCCESS) throw simdjson::simdjson_error(r.error());
  return r.value_unsafe();
}

[[gnu::always_inline]] inline const char* location_of(od::value& v) noexcept {
  auto r = v.current_location();
  return r.error() ? nullptr : r.value_unsafe();
}

// A JSON integer in its canonical form, -?(0|[1-9][0-9]*), of at most 18 digits (so it fits an
// int64 without a check). False for anything else, which then takes simdjson's own path and its
// errors: leading zeros, fractions, exponents, longer numbers, junk.
bool plain_integer(std::string_view s, std::int64_t& value) noexcept {
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 18 || (s[0] == '0' && s.size() > 1)) return false;
  std::int64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  value = negative ? -v : v;
  return true;
}

bool is_json_space(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Whether a span of the document holds a backslash. Backslashes are rare in SEC files, so the
// first one at or after the last query is kept and most queries are one comparison, not a scan
// per string (memchr on every value was 8% of the parser's time).
class BackslashFinder {
 public:
  void reset(const char* data, std::size_t length) noexcept {
    end_ = data + length;
    from_ = data;
    next_ = find(data);
  }
  // The first backslash of the document (its end if none), right after reset().
  const char* first() const noexcept { return next_; }
  bool any(const char* begin, const char* end) noexcept {
    if (begin < from_ || next_ < begin) {  // out of order, or past the known one: look again
      from_ = begin;
      next_ = find(begin);
    }
    return next_ < end;  // none in [from_, next_), and begin lies in that range
  }

 private:
  const char* find(const char* p) const noexcept {
    const void* q = std::memchr(p, '\\', static_cast<std::size_t>(end_ - p));
    return q == nullptr ? end_ : static_cast<const char*>(q);
  }
  const char* from_ = nullptr;
  const char* next_ = nullptr;
  const char* end_ = nullptr;
};

[[noreturn]] void wrong_type(od::value& v, std::string_view path, std::string_view expected) {
  const char* where = location_of(v);
  od::json_type t = v.type();
  throw Reject{std::string(path) + ": expected " + std::string(expected) + ", found " + std::string(type_name(t)),
               where};
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

// Whether the document may contain a \u0000 escape. Backslashes are rare in SEC files, so a memchr
// walk over them beats memmem; an escaped backslash before "u0000" only costs a needless check.
bool has_nul_escape(const char* data, std::size_t len) noexcept {
  const char* end = data + len;
  for (const char* p = data;
       (p = static_cast<const char*>(std::memchr(p, '\\', static_cast<std::size_t>(end - p)))) != nullptr; ++p)
    if (end - p >= 6 && std::memcmp(p + 1, "u0000", 5) == 0) return true;
  return false;
}

// The first byte below 0x20 other than JSON whitespace (for UNESCAPED_CHARS), or nullptr.
const char* first_control_char(const char* data, std::size_t len) noexcept {
  for (std::size_t i = 0; i < len; ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return data + i;
  }
  return nullptr;
}

std::string_view trim_right(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
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

}  // namespace

struct EdgarParser::Impl {
  od::parser parser;

  // Per-document state.
  const char* base = nullptr;
  RowBatchWriter* out = nullptr;
  ParseOutcome result;
  enum class Kind { kUnknown, kMain, kPage, kFacts } kind = Kind::kUnknown;
  std::int64_t json_cik = -1;
  bool cik_looked_up = false;  // the whole document was searched for "cik" (NeedCikFirst)
  std::int64_t name_cik = -1;
  Dataset fallback = Dataset::kUnknown;  // the path's hint, for documents that do not say
  bool nul_escape_in_document = false;
  BackslashFinder backslashes;
  const char* value_where = nullptr;  // the input position of the value being written
  // companyfacts: where the keys that fact rows take as values are (each key's first byte)
  const char* taxonomy_where = nullptr;
  const char* concept_where = nullptr;
  const char* unit_where = nullptr;

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

  void reset_document() {
    result = ParseOutcome{};
    value_where = nullptr;
    kind = Kind::kUnknown;
    json_cik = -1;
    cik_looked_up = false;
    company.fill(Cell{});
    have_company_fields = false;
    tickers.clear();
    exchanges.clear();
    tickers_where = nullptr;
    former_names.clear();
    pages.clear();
    for (auto& c : columns) c.clear();
    column_present.fill(false);
    column_where.fill(nullptr);
    have_filings = false;
    entity_name = Cell{};
    have_entity_name = false;
  }

  std::int64_t cik() const noexcept { return json_cik >= 0 ? json_cik : name_cik; }

  // A field's key without copying it: the bytes between its quotes, found back from the value's
  // first byte over the colon (simdjson has validated that structure). Keys with a backslash
  // (none in SEC files) take simdjson's unescaping path.
  [[gnu::always_inline]] std::string_view key_of(od::field& f) {
    const char* start = f.key().raw();
    const char* end = location_of(f.value());
    if (end == nullptr) return f.unescaped_key();
    do --end;
    while (is_json_space(*end));  // the colon
    do --end;
    while (is_json_space(*end));  // the closing quote
    if (backslashes.any(start, end)) return f.unescaped_key();
    return {start, static_cast<std::size_t>(end - start)};
  }

  // -- scalar cells --------------------------------------------------------------------------

  // Cells read the value's raw token once: its first byte says the type and its address is the
  // value's offset, where separate type(), location and token calls each re-check the iterator.
  void text_cell(Cell& c, od::value& v, std::string_view path) {
    c = Cell{};
    const std::string_view token = v.raw_json_token();
    c.where = token.data();
    if (!token.empty() && token[0] == '"') {
      // Zero-copy when the string has no escape (nearly all SEC text): the bytes between the
      // quotes in the document are the value, already UTF-8-validated by simdjson's first
      // stage. The value is left unconsumed; On-Demand skips it on the next step.
      const std::string_view raw = trim_right(token);
      const std::string_view inner = raw.substr(1, raw.size() - 2);
      if (raw.size() >= 2 && !backslashes.any(inner.data(), inner.data() + inner.size())) {
        c.set_text(inner);
        return;
      }
      const std::string_view unescaped = v.get_string();
      c.set_text(unescaped);
      if (nul_escape_in_document && std::memchr(unescaped.data(), '\0', unescaped.size()) != nullptr)
        throw Reject{std::string(path) + ": text contains a NUL character", c.where};
      return;
    }
    if (!token.empty() && token[0] == 'n' && v.is_null()) return;
    wrong_type(v, path, "a string or null");
  }

  void int_cell(Cell& c, od::value& v, std::string_view path) {
    c = Cell{};
    const std::string_view token = trim_right(v.raw_json_token());
    c.where = token.data();
    if (plain_integer(token, c.integer)) {  // nearly every SEC integer; anything else: simdjson
      c.kind = Cell::kInt;
      return;
    }
    switch (v.type()) {
      case od::json_type::number:
        if (v.get_number_type() != od::number_type::signed_integer) wrong_type(v, path, "an integer");
        c.kind = Cell::kInt;
        c.integer = v.get_int64();
        return;
      case od::json_type::boolean:  // flags are 0/1 in SEC files; a boolean means the same
        c.kind = Cell::kInt;
        c.integer = v.get_bool() ? 1 : 0;
        return;
      case od::json_type::null:
        if (v.is_null()) return;
        [[fallthrough]];
      default:
        wrong_type(v, path, "an integer or null");
    }
  }

  // Fills `c` in place: a Cell returned by value and then copied into its vector or field was
  // stored piecewise and reloaded whole, the same store-forwarding stall as field_of's.
  void cell(Cell& c, od::value& v, CellType type, std::string_view path) {
    if (type == CellType::kInt)
      int_cell(c, v, path);
    else
      text_cell(c, v, path);
    if (c.kind == Cell::kText && !c.text().empty()) {
      if (type == CellType::kDate && !is_date(c.text()))
        throw Reject{
            std::string(path) + ": \"" + std::string(text_excerpt(c.text(), 40)) + "\" is not a date (YYYY-MM-DD)",
            c.where};
      if (type == CellType::kTimestamp && !is_timestamp(c.text()))
        throw Reject{std::string(path) + ": \"" + std::string(text_excerpt(c.text(), 40)) +
                         "\" is not a UTC timestamp (YYYY-MM-DDTHH:MM:SS.000Z)",
                     c.where};
    }
  }

  // Writes a validated cell as a column value of `type`.
  void write(const Cell& c, CellType type) {
    value_where = c.where;  // for a value the run's encoding refuses (ValueRejected)
    switch (c.kind) {
      case Cell::kNull:
        out->null();
        return;
      case Cell::kInt:
        out->integer(c.integer);
        return;
      case Cell::kText:
        if (type == CellType::kDate) {
          if (c.text().empty())
            out->null();  // DATE columns map "" to NULL
          else
            out->text(c.text());
        } else if (type == CellType::kTimestamp) {
          if (c.text().empty()) {
            out->null();
          } else {
            char buf[24];
            out->text(std::string_view(buf, sql_timestamp(c.text(), buf)));  // checked in cell()
          }
        } else {
          out->text(c.text());
        }
        return;
    }
  }

  std::int64_t parse_cik(od::value& v) {
    const char* where = location_of(v);
    switch (v.type()) {
      case od::json_type::string: {
        std::string_view s = v.get_string();
        if (s.empty() || s.size() > 10 || !is_digits(s))
          throw Reject{"cik: \"" + std::string(text_excerpt(s, 20)) + "\" is not a CIK (1 to 10 digits)", where};
        std::int64_t cik = 0;
        std::from_chars(s.data(), s.data() + s.size(), cik);
        return cik;
      }
      case od::json_type::number: {
        if (v.get_number_type() != od::number_type::signed_integer) wrong_type(v, "cik", "a whole number");
        const std::int64_t cik = v.get_int64();
        if (cik < 0 || cik > 9'999'999'999) throw Reject{"cik: " + std::to_string(cik) + " is out of range", where};
        return cik;
      }
      default:
        wrong_type(v, "cik", "a string or number");
    }
  }

  // -- submissions ---------------------------------------------------------------------------

  void parse_columns(od::object obj, std::string_view prefix) {
    have_filings = true;
    for (auto f_result : obj) {
      od::field& f = field_of(f_result);
      std::string_view key = key_of(f);
      od::value& v = f.value();
      const FilingColumn* col = find_key(kFilingColumns, key);
      if (col == nullptr) {
        ++result.unknown_columns;
        continue;  // unknown columns are ignored (On-Demand skips the value)
      }
      const std::string path = prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
      if (v.type() != od::json_type::array) wrong_type(v, path, "an array");
      column_present[col->column] = true;
      column_where[col->column] = location_of(v);
      auto& cells = columns[col->column];
      cells.clear();
      for (auto element_result : v.get_array()) {
        od::value& element = value_of(element_result);
        cell(cells.emplace_back(), element, col->type, path);
      }
    }
  }

  void emit_filings(std::int64_t cik, std::string_view prefix) {
    if (!have_filings) return;
    std::size_t rows = 0;
    int first = -1;
    for (int c = 0; c < filings_col::count_; ++c) {
      if (!column_present[c]) continue;
      if (first < 0) {
        first = c;
        rows = columns[c].size();
      } else if (columns[c].size() != rows) {
        throw Reject{(prefix.empty() ? std::string("columns") : std::string(prefix)) + ": arrays of unequal length (" +
                         std::string(column_key(first)) + " has " + std::to_string(rows) + " entries, " +
                         std::string(column_key(c)) + " has " + std::to_string(columns[c].size()) + ")",
                     column_where[c]};
      }
    }
    if (rows == 0) return;
    if (!column_present[filings_col::accession_number])
      throw Reject{(prefix.empty() ? std::string("columns") : std::string(prefix)) +
                       ": filings without an accessionNumber column",
                   nullptr};
    for (std::size_t r = 0; r < rows; ++r) {
      const Cell& accession = columns[filings_col::accession_number][r];
      if (accession.kind != Cell::kText || accession.text().empty())
        throw Reject{(prefix.empty() ? std::string() : std::string(prefix) + ".") + "accessionNumber[" +
                         std::to_string(r) + "]: missing accession number",
                     accession.where};
      out->begin_row(TableId::kFilings);
      out->integer(cik);
      for (const FilingColumn& col : kFilingColumns) {
        // kFilingColumns lists every column after cik in table order.
        if (column_present[col.column])
          write(columns[col.column][r], col.type);
        else
          out->null();
      }
      out->end_row();
    }
    result.rows += rows;
  }

  static std::string_view column_key(int column) noexcept {
    for (const auto& c : kFilingColumns)
      if (c.column == column) return c.key;
    return "?";
  }

  void parse_address(od::value& v, std::uint8_t base, std::string_view path) {
    if (v.type() == od::json_type::null) {
      if (v.is_null()) return;
    }
    if (v.type() != od::json_type::object) wrong_type(v, path, "an object");
    for (auto f_result : v.get_object()) {
      od::field& f = field_of(f_result);
      std::string_view key = key_of(f);
      const CompanyField* field = find_key(kAddressFields, key);
      if (field == nullptr) continue;
      cell(company[base + field->column], f.value(), field->type, std::string(path) + "." + std::string(key));
    }
  }

  void submissions_field(std::string_view key, od::value& v) {
    if (const CompanyField* field = find_key(kCompanyFields, key)) {
      cell(company[field->column], v, field->type, key);
      have_company_fields = true;
    } else if (key == "tickers" || key == "exchanges") {
      auto& list = key == "tickers" ? tickers : exchanges;
      if (v.type() != od::json_type::array) wrong_type(v, key, "an array");
      if (key == "tickers") tickers_where = location_of(v);
      for (auto element_result : v.get_array()) {
        od::value& element = value_of(element_result);
        text_cell(list.emplace_back(), element, key);
      }
    } else if (key == "formerNames") {
      if (v.type() != od::json_type::array) wrong_type(v, key, "an array");
      for (auto element_result : v.get_array()) {
        od::value& element = value_of(element_result);
        if (element.type() != od::json_type::object) wrong_type(element, "formerNames[]", "an object");
        std::array<Cell, 3>& row = former_names.emplace_back();  // filled in place
        for (auto f_result : element.get_object()) {
          od::field& f = field_of(f_result);
          std::string_view k = key_of(f);
          if (k == "name")
            text_cell(row[0], f.value(), "formerNames[].name");
          else if (k == "from")
            cell(row[1], f.value(), CellType::kTimestamp, "formerNames[].from");
          else if (k == "to")
            cell(row[2], f.value(), CellType::kTimestamp, "formerNames[].to");
        }
      }
    } else if (key == "addresses") {
      if (v.type() != od::json_type::object) wrong_type(v, key, "an object");
      for (auto f_result : v.get_object()) {
        od::field& f = field_of(f_result);
        std::string_view k = key_of(f);
        if (k == "mailing")
          parse_address(f.value(), kMailingBase, "addresses.mailing");
        else if (k == "business")
          parse_address(f.value(), kBusinessBase, "addresses.business");
      }
    } else if (key == "filings") {
      if (v.type() != od::json_type::object) wrong_type(v, key, "an object");
      for (auto f_result : v.get_object()) {
        od::field& f = field_of(f_result);
        std::string_view k = key_of(f);
        od::value& fv = f.value();
        if (k == "recent") {
          if (fv.type() != od::json_type::object) wrong_type(fv, "filings.recent", "an object");
          parse_columns(fv.get_object(), "filings.recent");
        } else if (k == "files") {
          if (fv.type() != od::json_type::array) wrong_type(fv, "filings.files", "an array");
          for (auto element_result : fv.get_array()) {
            od::value& element = value_of(element_result);
            if (element.type() != od::json_type::object) wrong_type(element, "filings.files[]", "an object");
            Page page;
            const char* where = location_of(element);
            for (auto pf_result : element.get_object()) {
              od::field& pf = field_of(pf_result);
              std::string_view pk = key_of(pf);
              if (pk == "name")
                text_cell(page.name, pf.value(), "filings.files[].name");
              else if (pk == "filingCount")
                int_cell(page.count, pf.value(), "filings.files[].filingCount");
              else if (pk == "filingFrom")
                cell(page.from, pf.value(), CellType::kDate, "filings.files[].filingFrom");
              else if (pk == "filingTo")
                cell(page.to, pf.value(), CellType::kDate, "filings.files[].filingTo");
            }
            if (page.name.kind != Cell::kText || page.name.text().empty())
              throw Reject{"filings.files[]: page without a name", where};
            pages.push_back(page);
          }
        }
      }
    }
  }

  void emit_main() {
    if (json_cik < 0) throw Reject{"missing \"cik\": not a submissions main file", nullptr};
    const std::int64_t id = json_cik;
    const TableDef& companies = table_def(TableId::kCompanies);
    out->begin_row(TableId::kCompanies);
    out->integer(id);
    for (std::size_t c = 1; c < kCompanyColumns; ++c) {
      const ColumnType t = companies.columns[c].type;
      write(company[c], t == ColumnType::kSmallInt ? CellType::kInt : CellType::kText);
    }
    out->end_row();
    result.rows += 1;

    if (tickers.size() != exchanges.size())
      throw Reject{"tickers has " + std::to_string(tickers.size()) + " entries but exchanges has " +
                       std::to_string(exchanges.size()),
                   tickers_where};
    for (std::size_t i = 0; i < tickers.size(); ++i) {
      out->begin_row(TableId::kCompanyTickers);
      out->integer(id);
      out->integer(static_cast<std::int64_t>(i));
      write(tickers[i], CellType::kText);
      write(exchanges[i], CellType::kText);
      out->end_row();
    }
    for (std::size_t i = 0; i < former_names.size(); ++i) {
      out->begin_row(TableId::kFormerNames);
      out->integer(id);
      out->integer(static_cast<std::int64_t>(i));
      write(former_names[i][0], CellType::kText);
      write(former_names[i][1], CellType::kTimestamp);
      write(former_names[i][2], CellType::kTimestamp);
      out->end_row();
    }
    for (const Page& page : pages) {
      out->begin_row(TableId::kSubmissionPages);
      out->integer(id);
      write(page.name, CellType::kText);
      write(page.count, CellType::kInt);
      write(page.from, CellType::kDate);
      write(page.to, CellType::kDate);
      out->end_row();
    }
    result.rows += tickers.size() + former_names.size() + pages.size();
    emit_filings(id, "filings.recent");
  }

  // -- companyfacts --------------------------------------------------------------------------

  void parse_facts(od::value& v) {
    if (v.type() != od::json_type::object) wrong_type(v, "facts", "an object");
    const std::int64_t id = cik();
    for (auto tax_field_result : v.get_object()) {
      od::field& tax_field = field_of(tax_field_result);
      taxonomy_where = tax_field.key().raw();  // before key_of: unescaping consumes the key
      const std::string_view taxonomy = key_of(tax_field);
      od::value& tax_value = tax_field.value();
      if (tax_value.type() != od::json_type::object)
        wrong_type(tax_value, "facts." + std::string(taxonomy), "an object");
      for (auto concept_field_result : tax_value.get_object()) {
        od::field& concept_field = field_of(concept_field_result);
        concept_where = concept_field.key().raw();
        const std::string_view concept_name = key_of(concept_field);
        od::value& concept_value = concept_field.value();
        if (concept_value.type() != od::json_type::object)
          wrong_type(concept_value, "facts." + std::string(taxonomy) + "." + std::string(concept_name), "an object");
        Cell label, description;
        for (auto cf_result : concept_value.get_object()) {
          od::field& cf = field_of(cf_result);
          std::string_view k = key_of(cf);
          if (k == "label")
            text_cell(label, cf.value(), "label");
          else if (k == "description")
            text_cell(description, cf.value(), "description");
          else if (k == "units")
            parse_units(cf.value(), id, taxonomy, concept_name);
        }
        out->begin_row(TableId::kConcepts);
        value_where = taxonomy_where;
        out->text(taxonomy);
        value_where = concept_where;
        out->text(concept_name);
        write(label, CellType::kText);
        write(description, CellType::kText);
        out->end_row();
        result.rows += 1;
      }
    }
  }

  void parse_units(od::value& v, std::int64_t id, std::string_view taxonomy, std::string_view concept_name) {
    if (v.type() != od::json_type::object) wrong_type(v, "units", "an object");
    for (auto unit_field_result : v.get_object()) {
      od::field& unit_field = field_of(unit_field_result);
      unit_where = unit_field.key().raw();
      const std::string_view unit = key_of(unit_field);
      od::value& rows = unit_field.value();
      if (rows.type() != od::json_type::array) wrong_type(rows, "units." + std::string(unit), "an array");
      for (auto fact_result : rows.get_array()) {
        od::value& fact = value_of(fact_result);
        parse_fact(fact, id, taxonomy, concept_name, unit);
      }
    }
  }

  void parse_fact(od::value& fact, std::int64_t id, std::string_view taxonomy, std::string_view concept_name,
                  std::string_view unit) {
    const char* fact_where = location_of(fact);
    Fact f;
    gather_fact(fact, f);
    if (f.end.kind != Cell::kText || f.end.text_size == 0) throw Reject{"fact without an \"end\" date", fact_where};
    if (f.accn.kind != Cell::kText || f.accn.text_size == 0) throw Reject{"fact without an \"accn\"", fact_where};
    if (!f.have_val) throw Reject{"fact without a \"val\"", fact_where};
    out->begin_row(TableId::kFacts);
    out->integer(id);
    value_where = taxonomy_where;
    out->text(taxonomy);
    value_where = concept_where;
    out->text(concept_name);
    value_where = unit_where;
    out->text(unit);
    write(f.start, CellType::kDate);
    write(f.end, CellType::kDate);
    value_where = f.val.where;
    if (f.val.kind == Cell::kNull)
      out->null();
    else if (f.val.kind == Cell::kInt)
      out->integer(f.val.integer);
    else
      out->decimal(f.val_double, f.val.text());
    write(f.accn, CellType::kText);
    write(f.fy, CellType::kInt);
    write(f.fp, CellType::kText);
    write(f.form, CellType::kText);
    write(f.filed, CellType::kDate);
    write(f.frame, CellType::kText);
    out->end_row();
    result.rows += 1;
  }

  void gather_fact(od::value& fact, Fact& f) {
    if (fact.type() != od::json_type::object) wrong_type(fact, "fact", "an object");
    for (auto field_result : fact.get_object()) {
      od::field& field = field_of(field_result);
      std::string_view k = key_of(field);
      od::value& fv = field.value();
      switch (k.size()) {
        case 2:
          if (k == "fy")
            int_cell(f.fy, fv, "fy");
          else if (k == "fp")
            text_cell(f.fp, fv, "fp");
          break;
        case 3:
          if (k == "end")
            cell(f.end, fv, CellType::kDate, "end");
          else if (k == "val")
            val_cell(f, fv);
          break;
        case 4:
          if (k == "accn")
            text_cell(f.accn, fv, "accn");
          else if (k == "form")
            text_cell(f.form, fv, "form");
          break;
        case 5:
          if (k == "start")
            cell(f.start, fv, CellType::kDate, "start");
          else if (k == "filed")
            cell(f.filed, fv, CellType::kDate, "filed");
          else if (k == "frame")
            text_cell(f.frame, fv, "frame");
          break;
        default:
          break;
      }
    }
  }

  void val_cell(Fact& f, od::value& v) {
    f.have_val = true;
    Cell& c = f.val;
    c = Cell{};
    c.where = location_of(v);
    if (v.type() == od::json_type::null) {
      if (!v.is_null()) wrong_type(v, "val", "a number");
      return;
    }
    if (v.type() != od::json_type::number) wrong_type(v, "val", "a number");
    if (v.get_number_type() == od::number_type::signed_integer) {
      c.kind = Cell::kInt;
      c.integer = v.get_int64();
    } else {
      c.set_text(trim_right(v.raw_json_token()));
      f.val_double = v.get_double();
    }
  }

  void companyfacts_field(std::string_view key, od::value& v) {
    if (key == "entityName") {
      text_cell(entity_name, v, key);
      have_entity_name = true;
    } else if (key == "facts") {
      if (json_cik < 0 && !cik_looked_up) throw NeedCikFirst{};  // else the file name's CIK
      parse_facts(v);
    }
  }

  void emit_entity() {
    if (json_cik < 0 && !have_entity_name) return;  // `{}`: a valid file with no facts
    if (cik() < 0) throw Reject{"missing \"cik\" in a companyfacts file", nullptr};
    out->begin_row(TableId::kEntities);
    out->integer(cik());
    write(entity_name, CellType::kText);
    out->end_row();
    result.rows += 1;
  }

  // -- document ------------------------------------------------------------------------------

  // After the top-level value, only the end of input may follow.
  static void check_trailing(od::document& doc) {
    auto where = doc.current_location();  // an error here means: at the end
    if (!where.error()) throw Reject{"trailing content after the JSON document", where.value_unsafe()};
  }

  void parse_document(od::document& doc, bool cik_known) {
    if (kind == Kind::kPage) {
      if (doc.type() != od::json_type::object) throw Reject{"expected a JSON object at the top level", base};
      parse_columns(doc.get_object(), "");
      check_trailing(doc);
      emit_filings(name_cik, "");
      return;
    }
    if (doc.type() != od::json_type::object) throw Reject{"expected a JSON object at the top level", base};
    for (auto f_result : doc.get_object()) {
      od::field& f = field_of(f_result);
      std::string_view key = key_of(f);
      od::value& v = f.value();
      if (key == "cik") {
        if (!cik_known) json_cik = parse_cik(v);
        continue;
      }
      const Kind says = is_companyfacts_key(key)  ? Kind::kFacts
                        : is_submissions_key(key) ? Kind::kMain
                                                  : Kind::kUnknown;
      if (kind == Kind::kUnknown) {
        kind = says;
      } else if (says != Kind::kUnknown && says != kind) {
        throw Reject{"key \"" + std::string(key) + "\" does not belong in a " +
                         (kind == Kind::kMain ? "submissions main file" : "companyfacts file"),
                     location_of(v)};
      }
      if (kind == Kind::kMain)
        submissions_field(key, v);
      else if (kind == Kind::kFacts)
        companyfacts_field(key, v);
    }
    check_trailing(doc);
    if (kind == Kind::kUnknown) {
      // `{}` or only unknown keys: no rows. The path's hint names the dataset it is recorded under.
      kind = fallback == Dataset::kSubmissions ? Kind::kMain : Kind::kFacts;
      if (kind == Kind::kMain) throw Reject{"no submissions keys (cik, name, filings...) in the document", nullptr};
    }
    if (kind == Kind::kMain)
      emit_main();
    else
      emit_entity();
  }

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
    bool iterating = false;
    od::document doc;
    try {
      if (len == 0) throw Reject{"empty file", data};
      // A byte order mark of UTF-16 (a file re-saved by a Windows tool): say so, not "NUL byte".
      if (len >= 2 && ((data[0] == '\xFF' && data[1] == '\xFE') || (data[0] == '\xFE' && data[1] == '\xFF')))
        throw Reject{"UTF-16 text (byte order mark); EDGAR JSON is UTF-8", data};
      if (std::all_of(data, data + len, [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }))
        throw Reject{"no JSON document, only whitespace", data};
      // Text must not carry NUL (PostgreSQL cannot store it). A raw NUL byte is never valid JSON;
      // the only other source is a \u0000 escape, so strings are checked only if one exists.
      if (const void* nul = std::memchr(data, 0, len))
        throw Reject{"NUL byte in the document", static_cast<const char*>(nul)};
      backslashes.reset(data, len);
      // Scanned from the first backslash: the finder's own scan already passed the bytes before.
      const char* first_backslash = backslashes.first();
      nul_escape_in_document = has_nul_escape(first_backslash, static_cast<std::size_t>(data + len - first_backslash));
      auto iterated = parser.iterate(simdjson::padded_string_view(data, len, capacity));
      if (iterated.error() == simdjson::UTF8_ERROR) {
        const std::size_t bad = first_invalid_utf8(data, len);
        throw Reject{"invalid UTF-8", data + bad};
      }
      if (iterated.error() == simdjson::UNESCAPED_CHARS)
        throw Reject{"invalid JSON: a control character inside a string must be escaped",
                     first_control_char(data, len)};
      doc = std::move(iterated.value());  // throws on other stage-1 errors
      iterating = true;
      try {
        parse_document(doc, false);
      } catch (const NeedCikFirst&) {
        // `facts` came before `cik`: read the CIK alone, then parse again from the start.
        doc.rewind();
        auto found = doc.find_field_unordered("cik");
        if (found.error() == simdjson::NO_SUCH_FIELD) {
          if (name_cik < 0) throw Reject{"missing \"cik\" in a companyfacts file", nullptr};
        } else {
          // Bad JSON met on the way throws here: the iterator is dead then, and rewinding it
          // dereferenced a null parser (found by the fuzz target).
          json_cik = parse_cik(found.value());
        }
        const std::int64_t keep = json_cik;
        reset_document();
        json_cik = keep;
        cik_looked_up = true;  // a document without "cik" takes the file name's
        kind = Kind::kFacts;
        doc.rewind();
        parse_document(doc, true);
      }
      result.ok = true;
    } catch (const Reject& r) {
      result.error = r.reason;
      error_where = r.where;
      where_known = r.where != nullptr;
    } catch (const simdjson::simdjson_error& e) {
      result.error = std::string("invalid JSON: ") + simdjson::error_message(e.error());
      if (e.error() == simdjson::UTF8_ERROR) {
        error_where = data + first_invalid_utf8(data, len);
        where_known = true;
      } else if (e.error() == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || e.error() == simdjson::UNCLOSED_STRING) {
        error_where = data + len;  // the document ends too early
        where_known = true;
      } else if (iterating) {  // a document that never started has no location to ask
        auto loc = doc.current_location();
        if (!loc.error()) {
          error_where = loc.value_unsafe();
          where_known = true;
        }
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

EdgarParser::EdgarParser() : impl_(std::make_unique<Impl>()) {}
EdgarParser::~EdgarParser() = default;

ParseOutcome EdgarParser::parse(const char* data, std::size_t length, std::size_t capacity, std::string_view path,
                                Dataset hint, bool forced, RowBatchWriter& out) {
  return impl_->parse(data, length, capacity, path, hint, forced, out);
}

}  // namespace edgarpipe
