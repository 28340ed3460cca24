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

namespace {

// The bytes of the UTF-8 sequence that `lead` begins (1 for ASCII and for a byte that begins
// none).
size_t SequenceLength(unsigned char lead) {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

// The code point of one valid UTF-8 sequence.
uint32_t CodePoint(absl::string_view sequence) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(sequence[i]); };
  uint32_t code = byte(0) & (0xff >> (sequence.size() + 1));
  for (size_t i = 1; i < sequence.size(); ++i) code = (code << 6) | (byte(i) & 0x3f);
  return code;
}

// Characters that print as nothing or move other text: C1 controls, zero-width ones, line and
// paragraph separators, and bidirectional marks and overrides (which could make a quoted value
// read as another).
bool Invisible(uint32_t code_point) {
  return (code_point >= 0x80 && code_point < 0xa0) ||
         (code_point >= 0x200b && code_point <= 0x200f) ||
         (code_point >= 0x2028 && code_point <= 0x202e) ||
         (code_point >= 0x2066 && code_point <= 0x2069) || code_point == 0xfeff;
}

// `value` as Python's repr shows a str: printable characters as they are (UTF-8 ones too), a
// quote or backslash escaped, \n \t \r by name, other control characters and bytes that begin
// no valid character as \xNN (always two digits: 'a\x00b' is a, NUL, b), and invisible ones as
// \uNNNN.
std::string ReadableEscape(absl::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size();) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const size_t length = SequenceLength(c);
    if (length > 1 && i + length <= value.size() && IsValidUtf8(value.substr(i, length))) {
      const uint32_t code_point = CodePoint(value.substr(i, length));
      if (Invisible(code_point)) {
        absl::StrAppend(&out, absl::StrFormat("\\u%04x", code_point));
      } else {
        absl::StrAppend(&out, value.substr(i, length));
      }
      i += length;
      continue;
    }
    if (c == '\n' || c == '\t' || c == '\r') {
      absl::StrAppend(&out, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r");
    } else if (c == '\\' || c == '\'') {
      absl::StrAppend(&out, "\\", std::string(1, static_cast<char>(c)));
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", c));
    }
    ++i;
  }
  return out;
}

}  // namespace

std::string Quote(absl::string_view value, size_t max_length) {
  if (value.size() <= max_length) return absl::StrCat("'", ReadableEscape(value), "'");
  return absl::StrCat("'", ReadableEscape(value.substr(0, max_length)), "...' (", value.size(),
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
