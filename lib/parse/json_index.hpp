// JsonIndex: simdjson's first stage run on its own, for a reader that walks a document's
// structural index directly instead of through On-Demand (EdgarParser, edgar_parser.cpp).
//
// Stage 1 validates UTF-8, finds every string (and refuses an unclosed one or a raw control
// character inside one), and lists the offset of every structural character ({ } [ ] : ,), of
// every string's opening quote and of every other scalar's first byte. It does not check the
// grammar between them, nor the scalars' spelling: the reader checks what it reads, as On-Demand
// does. After build(), offsets()[count()] is the document's length (simdjson's sentinel).
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace edgarpipe {

class JsonIndex {
 public:
  // Indexes `data` (length `len`, with SIMDJSON_PADDING readable bytes after it). Returns
  // simdjson's stage-1 error: UTF8_ERROR, UNESCAPED_CHARS, UNCLOSED_STRING, EMPTY, ...
  simdjson::error_code build(const char* data, std::size_t len) {
    if (!impl_ || impl_->capacity() < len) {
      std::unique_ptr<simdjson::internal::dom_parser_implementation> grown;
      const std::size_t capacity = std::max(len, impl_ ? 2 * impl_->capacity() : std::size_t{1} << 20);
      if (auto e = simdjson::get_active_implementation()->create_dom_parser_implementation(
              capacity, simdjson::DEFAULT_MAX_DEPTH, grown))
        return e;
      impl_ = std::move(grown);
    }
    // Unescaped strings are never longer than their source, and each is unescaped once.
    if (strings_.size() < len + simdjson::SIMDJSON_PADDING)  // grown only: a resize zeroes what it adds
      strings_.resize(len + simdjson::SIMDJSON_PADDING);
    strings_used_ = 0;
    return impl_->stage1(reinterpret_cast<const std::uint8_t*>(data), len, simdjson::stage1_mode::regular);
  }

  const std::uint32_t* offsets() const noexcept { return impl_->structural_indexes.get(); }
  std::uint32_t count() const noexcept { return impl_->n_structural_indexes; }

  // Unescapes the string between the quotes at `open` and `close` into a buffer that lives until
  // the next build(). False on an invalid escape. Callers unescape each string of a document at
  // most once, so the buffer (the document's length) suffices; the check only guards that.
  bool unescape(const char* open, const char* close, std::string_view& out) {
    if (strings_used_ + static_cast<std::size_t>(close - open) + simdjson::SIMDJSON_PADDING > strings_.size())
      throw std::length_error("JsonIndex: a string was unescaped twice");
    std::uint8_t* dst = strings_.data() + strings_used_;
    const std::uint8_t* end = impl_->parse_string(reinterpret_cast<const std::uint8_t*>(open) + 1, dst);
    if (end == nullptr) return false;
    out = {reinterpret_cast<const char*>(dst), static_cast<std::size_t>(end - dst)};
    strings_used_ += out.size();
    return true;
  }

 private:
  std::unique_ptr<simdjson::internal::dom_parser_implementation> impl_;
  std::vector<std::uint8_t> strings_;
  std::size_t strings_used_ = 0;
};

}  // namespace edgarpipe
