// YAML spec files read as the JSON mapping of a protobuf message written in YAML: one document,
// converted to JSON for protobuf's JSON parser. Anchors and aliases are YAML's own and are
// expanded, within bounds: an alias that refers to itself, or a few hundred bytes of nested
// aliases that would expand to millions of values ("billion laughs"), is refused.
#ifndef POLYTRAIN_COMMON_YAML_TO_JSON_H_
#define POLYTRAIN_COMMON_YAML_TO_JSON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace polytrain {

// Nesting deeper than this is refused (a message of ours nests a handful of levels).
inline constexpr int kMaxYamlDepth = 64;
// Values (maps, lists and scalars, aliases counted as expanded) a file may hold: the largest
// spec (100000 class weights and 10000 terms) is well within it.
inline constexpr int64_t kMaxYamlValues = 250'000;

// `content` as JSON; INVALID_ARGUMENT "<source>:LINE:COLUMN: why" for a syntax error, a key given
// twice in one map, more than one document, or the bounds above. Scalars carry no types: true
// and false become booleans, numbers numbers, the rest (and anything quoted) strings; an empty
// value is null.
absl::StatusOr<nlohmann::json> YamlToJson(absl::string_view content, absl::string_view source);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_YAML_TO_JSON_H_
