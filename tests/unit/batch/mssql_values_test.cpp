#include "edgarpipe/batch/mssql_values.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>

using namespace edgarpipe::mssql;

TEST_CASE("UTF-8 to UTF-16LE: BMP characters and surrogate pairs, with code-unit counts", "[mssql]") {
  std::string out;
  CHECK(append_utf16le("A\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x9A\x80", out) == 5);  // A é 中 🚀
  CHECK(out == std::string("A\0\xE9\0\x2D\x4E\x3D\xD8\x80\xDE", 10));
  CHECK(utf16_length("A\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x9A\x80") == 5);
  out.clear();
  CHECK(append_utf16le("", out) == 0);
  CHECK(out.empty());
}

TEST_CASE("UTF-16LE conversion: the 8-byte ASCII path and the per-character path agree at every offset", "[mssql]") {
  // A multi-byte character at each position of a 20-byte string, so it falls inside, at the start
  // and at the end of an 8-byte block, and in the tail shorter than a block.
  for (const std::string& ch : {std::string("\xC3\xA9"), std::string("\xF0\x9F\x9A\x80")}) {
    for (std::size_t at = 0; at <= 20; ++at) {
      std::string utf8(20, 'x');
      for (std::size_t i = 0; i < utf8.size(); ++i) utf8[i] = static_cast<char>('a' + i);
      utf8.insert(at, ch);
      std::string expected;
      for (std::size_t i = 0; i < at; ++i) expected += std::string{utf8[i], '\0'};
      expected += ch.size() == 2 ? std::string("\xE9\0", 2) : std::string("\x3D\xD8\x80\xDE", 4);
      for (std::size_t i = at + ch.size(); i < utf8.size(); ++i) expected += std::string{utf8[i], '\0'};
      std::string out = "kept";
      INFO("character at " << at);
      CHECK(append_utf16le(utf8, out) == utf16_length(utf8));
      CHECK(out == "kept" + expected);
    }
  }
}

TEST_CASE("Whole numbers as DECIMAL(38,12) text match the text path", "[mssql]") {
  std::string from_int, from_text;
  for (const std::int64_t v : {std::int64_t{0}, std::int64_t{-5}, std::int64_t{7}, std::int64_t{10000},
                               std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()}) {
    INFO(v);
    fixed_scale_decimal(v, from_int);
    REQUIRE(fixed_scale_decimal(std::to_string(v), from_text));
    CHECK(from_int == from_text);
  }
  fixed_scale_decimal(std::int64_t{-5}, from_int);
  CHECK(from_int == "-5.000000000000");
}

TEST_CASE("Decimals are rewritten with exactly 12 fraction digits, or refused", "[mssql]") {
  std::string out;
  const auto fixed = [&](const char* text) { return fixed_scale_decimal(text, out) ? out : "refused"; };
  CHECK(fixed("0") == "0.000000000000");
  CHECK(fixed("-7") == "-7.000000000000");
  CHECK(fixed("6.110") == "6.110000000000");
  CHECK(fixed("1.5E3") == "1500.000000000000");
  CHECK(fixed("1e-12") == "0.000000000001");
  CHECK(fixed("-0.0") == "0.000000000000");
  CHECK(fixed("0.1000000000000000") == "0.100000000000");  // trailing zeros are exact
  CHECK(fixed("0.1234567890123") == "refused");            // would round
  CHECK(fixed("1e-13") == "refused");
  CHECK(fixed("99999999999999999999999999.5") == "99999999999999999999999999.500000000000");  // 26 digits
  CHECK(fixed("100000000000000000000000000") == "refused");                                   // 27 integer digits
  CHECK(fixed("1e26") == "refused");
  CHECK(fixed("00012.5") == "12.500000000000");
  CHECK(fixed("abc") == "refused");
  CHECK(fixed("1.2.3") == "refused");
  CHECK(fixed("1e") == "refused");
}

TEST_CASE("SQL Server text widths: every text column has one, keys fit the index key limits", "[mssql]") {
  using edgarpipe::ColumnType;
  const auto check_columns = [](std::string_view table, std::span<const edgarpipe::Column> columns) {
    for (const edgarpipe::Column& c : columns) {
      INFO(std::string(table) << "." << std::string(c.name));
      if (c.type == ColumnType::kText)
        CHECK(text_width(table, c.name) >= 0);
      else
        CHECK(text_width(table, c.name) <= 0);  // a name shared with a text column elsewhere is harmless
    }
  };
  for (const edgarpipe::TableDef& t : edgarpipe::all_tables()) check_columns(t.name, t.columns);
  check_columns("ingest_files", edgarpipe::ingest_files_columns());
  check_columns("ingest_runs", edgarpipe::ingest_runs_columns());
  // Bytes of each key as NVARCHAR (2 a character): a primary key's clustered index takes 900,
  // facts_key (nonclustered) 1,700. Fixed-size columns: BIGINT 8, INT 4, DATE 3.
  for (const edgarpipe::TableDef& t : edgarpipe::all_tables()) {
    int bytes = 0;
    for (const std::string_view k : t.key)
      for (const edgarpipe::Column& c : t.columns)
        if (c.name == k)
          bytes += c.type == ColumnType::kText     ? 2 * text_width(t.name, k)
                   : c.type == ColumnType::kBigInt ? 8
                   : c.type == ColumnType::kDate   ? 3
                                                   : 4;
    INFO(std::string(t.name) << ": " << bytes << " key bytes");
    CHECK(bytes > 0);
    CHECK(bytes <= (t.id == edgarpipe::TableId::kFacts ? 1700 : 900));
  }
  CHECK(text_width("ingest_files", "source_path") == 4000);  // a path; refused before a run when longer
  CHECK(text_width("concepts", "description") == 0);         // free text: (MAX)
  CHECK(text_width("filings", "form") == 64);
  CHECK(text_width("companies", "no_such_column") == -1);
}
