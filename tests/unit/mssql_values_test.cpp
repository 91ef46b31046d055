#include "edgarpipe/mssql_values.hpp"

#include <catch2/catch.hpp>

#include <string>

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
