#include "edgarpipe/core/decimal_text.hpp"

namespace edgarpipe {

bool split_decimal(std::string_view text, DecimalDigits& out) {
  out = DecimalDigits{};
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) out.negative = text[i++] == '-';
  int point = -1;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      if (point >= 0) return false;
      point = static_cast<int>(out.digits.size());
    } else if (text[i] >= '0' && text[i] <= '9') {
      out.digits.push_back(text[i]);
    } else {
      return false;
    }
  }
  if (out.digits.empty() || out.digits.size() > 1000) return false;
  out.point = point < 0 ? static_cast<int>(out.digits.size()) : point;
  if (i < text.size()) {  // exponent
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) exp_negative = text[i++] == '-';
    if (i == text.size()) return false;
    int exponent = 0;
    for (; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 1000) return false;
    }
    out.point += exp_negative ? -exponent : exponent;
  }
  return true;
}

}  // namespace edgarpipe
