// Building blocks of message validation: field paths and range checks whose errors read
// "<path>: <what>, got <value>" as INVALID_ARGUMENT. Each message type has one Validate
// function built from these, in api/ (and loss/spec/ for the LossSpec).
#ifndef POLYTRAIN_COMMON_VALIDATION_H_
#define POLYTRAIN_COMMON_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// ("spec.loss", "poly1") -> "spec.loss.poly1"; an empty parent gives the name alone.
std::string FieldPath(absl::string_view parent, absl::string_view name);
// ("spec.model.mlp.hidden", 2) -> "spec.model.mlp.hidden[2]".
std::string IndexPath(absl::string_view field, int64_t index);
// ("spec.labels", "team") -> "spec.labels[\"team\"]": a map's entry, its key escaped and cut to
// 64 bytes.
std::string MapKeyPath(absl::string_view map, absl::string_view key);

absl::Status InvalidField(absl::string_view field, absl::string_view what);

// A value from a request as an error may quote it: in single quotes, printable characters as they
// are (non-ASCII ones too), control characters and invalid bytes as \xNN, \n, \t, \r, and
// characters that print as nothing or reorder text as \uNNNN ('a\x00b', 'x\u202ey'), cut
// between characters after at most `max_length` bytes ("'aaaa...' (8000 characters)"), so that
// an error never grows with what a client sent.
std::string Quote(absl::string_view value, size_t max_length = 64);

// What Quote puts between its quotes, uncut, with `quote` escaped: for a value named inside a
// field path (spec.labels["..."], with '"').
std::string EscapedText(absl::string_view value, char quote = '\'');

// `value` in as few digits as name it exactly: -0.25 stays "-0.25", and -0.2500000001 (refused
// by a bound of -1/4) is not printed as "-0.25".
std::string ExactNumber(double value);

// Finite, and within [lo, hi]. `lo_text` replaces the printed lower bound (e.g. "-1/4").
absl::Status CheckFinite(absl::string_view field, double value);
absl::Status CheckRange(absl::string_view field, double value, double lo, double hi,
                        absl::string_view lo_text = "");
// Finite, and within (0, hi]: "must be > 0, got v" for 0 and below.
absl::Status CheckPositiveRange(absl::string_view field, double value, double hi);
// Integer within [lo, hi]: "must be in [lo, hi], got v".
absl::Status CheckIntRange(absl::string_view field, int64_t value, int64_t lo, int64_t hi);
// Length of a string within [lo, hi] characters.
absl::Status CheckLength(absl::string_view field, absl::string_view value, int64_t lo, int64_t hi);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_VALIDATION_H_
