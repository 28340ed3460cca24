#include "common/decimal_number.h"

#include "absl/strings/ascii.h"

namespace polytrain {

bool IsDecimalNumber(absl::string_view text) {
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
  auto digit = [&](size_t i) {
    return i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]));
  };
  size_t i = 0, digits = 0;
  for (; digit(i); ++i) ++digits;
  if (i < text.size() && text[i] == '.') {
    for (++i; digit(i); ++i) ++digits;
  }
  if (digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    const size_t exponent = i;
    while (digit(i)) ++i;
    if (i == exponent) return false;
  }
  return i == text.size();
}

}  // namespace polytrain
