// UTF-8 for error messages: locating the first invalid byte (simdjson validates UTF-8 at
// gigabytes per second but only says yes or no; this scalar scan runs only on the error path),
// cutting a quoted value short on a character boundary, and keeping a message on one line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace edgarpipe {

// Offset of the first byte that starts an invalid UTF-8 sequence, or `length` if all is valid.
inline std::size_t first_invalid_utf8(const char* data, std::size_t length) noexcept {
  const auto* s = reinterpret_cast<const std::uint8_t*>(data);
  std::size_t i = 0;
  while (i < length) {
    const std::uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else
      return i;
    if (i + n > length) return i;
    for (std::size_t k = 1; k < n; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n;
  }
  return length;
}

// At most `max_bytes` bytes of valid UTF-8 `text`, ending on a character boundary. Messages end up
// in ingest_files.error, and a database refuses invalid UTF-8 there (PostgreSQL fails the whole
// COPY of the batch's ingest rows), so a quoted value is never cut inside a multi-byte sequence.
inline std::string_view text_excerpt(std::string_view text, std::size_t max_bytes) noexcept {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // a continuation byte
  return text.substr(0, end);
}

// `message` with its control characters written as JSON escapes (\n, \t, \u0001...). A reason
// quotes values and keys from the file, and an escaped "\n" in one unescapes to a line break:
// rejects are one line each, in the log and in ingest_files.error.
inline std::string one_line(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (const char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7F) {
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    }
  }
  return out;
}

}  // namespace edgarpipe
