#include "common/validation.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/utf8_text.h"

namespace polytrain {

std::string FieldPath(absl::string_view parent, absl::string_view name) {
  return parent.empty() ? std::string(name) : absl::StrCat(parent, ".", name);
}

std::string IndexPath(absl::string_view field, int64_t index) {
  return absl::StrCat(field, "[", index, "]");
}

absl::Status InvalidField(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

std::string Quote(absl::string_view value, size_t max_length) {
  if (value.size() <= max_length) return absl::StrCat("'", absl::CHexEscape(value), "'");
  return absl::StrCat("'", absl::CHexEscape(value.substr(0, max_length)), "...' (", value.size(),
                      " characters)");
}

std::string ExactNumber(double value) {
  for (int digits = 6; digits < 17; ++digits) {
    const std::string text = absl::StrFormat("%.*g", digits, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

absl::Status CheckFinite(absl::string_view field, double value) {
  if (std::isfinite(value)) return absl::OkStatus();
  return InvalidField(field, absl::StrFormat("must be a finite number, got %g", value));
}

absl::Status CheckRange(absl::string_view field, double value, double lo, double hi,
                        absl::string_view lo_text) {
  if (absl::Status s = CheckFinite(field, value); !s.ok()) return s;
  if (value < lo) {
    return InvalidField(
        field, absl::StrFormat("must be >= %s, got %s",
                               lo_text.empty() ? absl::StrFormat("%g", lo) : std::string(lo_text),
                               ExactNumber(value)));
  }
  if (value > hi) {
    return InvalidField(field, absl::StrFormat("must be <= %g, got %s", hi, ExactNumber(value)));
  }
  return absl::OkStatus();
}

absl::Status CheckIntRange(absl::string_view field, int64_t value, int64_t lo, int64_t hi) {
  if (value >= lo && value <= hi) return absl::OkStatus();
  return InvalidField(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", value));
}

absl::Status CheckLength(absl::string_view field, absl::string_view value, int64_t lo, int64_t hi) {
  // Characters, as the limits are documented: a protobuf string is valid UTF-8.
  const int64_t n = static_cast<int64_t>(Utf8Length(value));
  if (n >= lo && n <= hi) return absl::OkStatus();
  return InvalidField(field,
                      absl::StrCat("length must be in [", lo, ", ", hi, "] characters, got ", n));
}

}  // namespace polytrain
