// Values as the SQL Server sink hands them to FreeTDS bulk copy (bcp_bind/bcp_colptr).
//
// FreeTDS sends bound bytes to the server as they are (no character-set conversion on the bulk
// path, ../shared/mssql-notes.md point 2), so NVARCHAR text must already be UTF-16LE; and it
// silently truncates over-long strings (point 5), so the sink counts UTF-16 code units itself.
// Decimals are bound as plain text with exactly the column's scale, so FreeTDS's text-to-DECIMAL
// conversion has nothing to round: a value that does not fit DECIMAL(38,12) exactly is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgarpipe/core/tables.hpp"

namespace edgarpipe::mssql {

inline constexpr int kDecimalPrecision = 38;
inline constexpr int kDecimalScale = 12;

// A text column's width in characters (NVARCHAR) or bytes (VARCHAR UTF-8); 0 means (MAX), -1 a
// column the contract does not have as text. Short codes are sized from the input formats with
// a margin (docs/tables.md lists them), keys within SQL Server's index key limits.
int text_width(std::string_view table, std::string_view column) noexcept;

// Writes valid UTF-8 as UTF-16LE into `out`, which has room for 2 x utf8.size() bytes (the
// most it can take: a 1-byte sequence becomes 2 bytes, a 4-byte one a 4-byte surrogate pair);
// returns the bytes written (twice the code units).
std::size_t utf16le_from_utf8(std::string_view utf8, char* out) noexcept;

// Appends valid UTF-8 as UTF-16LE; returns the number of UTF-16 code units appended.
std::size_t append_utf16le(std::string_view utf8, std::string& out);

// UTF-16 code units of valid UTF-8 (what NVARCHAR(n) counts), without converting.
std::size_t utf16_length(std::string_view utf8) noexcept;

// Rewrites an exact decimal ("-12.340", "1e-05") as "-12.340000000000": at most
// precision - scale integer digits and exactly `scale` fraction digits. False when the value
// is malformed, too large, or has a nonzero digit past `scale` (it would be rounded).
bool fixed_scale_decimal(std::string_view text, std::string& out, int precision = kDecimalPrecision,
                         int scale = kDecimalScale);
// The same for a whole number, which always fits DECIMAL(38,12) ("-5" -> "-5.000000000000").
void fixed_scale_decimal(std::int64_t value, std::string& out, int scale = kDecimalScale);

}  // namespace edgarpipe::mssql
