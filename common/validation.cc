#include "common/validation.h"

#include <cmath>
#include <cstdlib>

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

std::string MapKeyPath(absl::string_view map, absl::string_view key) {
  return absl::StrCat(map, "[\"", EscapedText(Utf8Prefix(key, 64), '"'), "\"]");
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

// Characters that print as nothing, as a plain space or move other text: C1 controls, the
// no-break and other Unicode spaces, zero-width and soft-hyphen ones, line and paragraph
// separators, bidirectional marks and overrides, variation selectors and tags (any of which
// could make a quoted value read as another).
bool Invisible(uint32_t code_point) {
  const auto in = [code_point](uint32_t first, uint32_t last) {
    return code_point >= first && code_point <= last;
  };
  return in(0x80, 0xa0) || code_point == 0xad || code_point == 0x61c || code_point == 0x180e ||
         in(0x2000, 0x200f) || in(0x2028, 0x202f) || in(0x205f, 0x2064) || in(0x2066, 0x206f) ||
         code_point == 0x3000 || in(0xfe00, 0xfe0f) || code_point == 0xfeff ||
         in(0xe0000, 0xe007f) || in(0xe0100, 0xe01ef);
}

}  // namespace

// As Python's repr shows a str: printable characters as they are (UTF-8 ones too), `quote` or a
// backslash escaped, \n \t \r by name, other control characters and bytes that begin no valid
// character as \xNN (always two digits: 'a\x00b' is a, NUL, b), and invisible ones as \uNNNN.
std::string EscapedText(absl::string_view value, char quote) {
  std::string out;
  for (size_t i = 0; i < value.size();) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const size_t length = SequenceLength(c);
    if (length > 1 && i + length <= value.size() && IsValidUtf8(value.substr(i, length))) {
      const uint32_t code_point = CodePoint(value.substr(i, length));
      if (Invisible(code_point)) {
        absl::StrAppend(&out, code_point > 0xffff ? absl::StrFormat("\\U%08x", code_point)
                                                  : absl::StrFormat("\\u%04x", code_point));
      } else {
        absl::StrAppend(&out, value.substr(i, length));
      }
      i += length;
      continue;
    }
    if (c == '\n' || c == '\t' || c == '\r') {
      absl::StrAppend(&out, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r");
    } else if (c == '\\' || c == static_cast<unsigned char>(quote)) {
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

std::string Quote(absl::string_view value, size_t max_length) {
  if (value.size() <= max_length) return absl::StrCat("'", EscapedText(value), "'");
  // Cut between two characters, not inside one.
  size_t cut = max_length;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xc0) == 0x80) --cut;
  const bool text = IsValidUtf8(value);
  return absl::StrCat("'", EscapedText(value.substr(0, cut)), "...' (",
                      text ? Utf8Length(value) : value.size(), text ? " characters)" : " bytes)");
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

absl::Status CheckPositiveRange(absl::string_view field, double value, double hi) {
  if (std::isfinite(value) && value <= 0.0) {
    return InvalidField(field, absl::StrCat("must be > 0, got ", ExactNumber(value)));
  }
  return CheckRange(field, value, 0, hi);
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
