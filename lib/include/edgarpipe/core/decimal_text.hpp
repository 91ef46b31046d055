// Exact decimal text as written in the JSON ("-12.340", "0.00001", "1e-05"), split into its
// digits and the position of the decimal point, so each sink can build its exact wire form
// (PostgreSQL NUMERIC, SQL Server DECIMAL(38,12)) without ever going through a double.
#pragma once

#include <string>
#include <string_view>

namespace edgarpipe {

struct DecimalDigits {
  bool negative = false;
  std::string digits;  // every mantissa digit, as written (leading and trailing zeros kept)
  int point = 0;       // how many of `digits` precede the decimal point (may be < 0 or > size)
};

// False if `text` is not a decimal number (optional sign, digits with at most one point, optional
// exponent), or has more than 1000 digits or an exponent past 1000.
bool split_decimal(std::string_view text, DecimalDigits& out);

}  // namespace edgarpipe
