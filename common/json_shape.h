// What protobuf's JSON parser (3.21) lets through but a spec author did not mean: a list inside
// a list (`"class_weights": [[1, 2], [3]]` read as [1, 2, 3]), a single value for a repeated
// field (`"epsilons": 1` read as [1]), a null in a list (dropped: `"hidden": [32, null]` read as
// [32]), a list for a single field, a field given under both its names (`max_steps` and
// `maxSteps`: the last kept) and a string for a boolean ("yes" read as true). Checked against the
// message's descriptor before that parser runs, naming the field.
#ifndef POLYTRAIN_COMMON_JSON_SHAPE_H_
#define POLYTRAIN_COMMON_JSON_SHAPE_H_

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "nlohmann/json.hpp"

namespace polytrain {

struct JsonShapeOptions {
  // YAML: `cross_entropy:` (an empty value, null) for a message field means the empty message,
  // as `cross_entropy: {}`; in JSON, null means the field is not set.
  bool null_message_is_empty = false;
};

// OK, or INVALID_ARGUMENT "<field path>: why". Keys that name no field are left for protobuf's
// parser to refuse; google.protobuf.* types (their own JSON forms) are not looked into.
absl::Status CheckJsonShape(const google::protobuf::Descriptor& type, JsonShapeOptions options,
                            nlohmann::json* value);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_JSON_SHAPE_H_
