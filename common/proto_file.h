// Reading and writing protobuf messages in the formats users write by hand: text format
// (.txtpb, .textproto, .pbtxt), JSON (.json) and YAML (.yaml, .yml: the JSON mapping written as
// YAML), parsed by protobuf's own parsers (YAML through yaml-cpp into protobuf's JSON parser).
// Every spec reader of the project (polyctl, polyloss, polytrain-worker) is this one.
#ifndef POLYTRAIN_COMMON_PROTO_FILE_H_
#define POLYTRAIN_COMMON_PROTO_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace polytrain {

enum class ProtoFormat { kText, kJson, kYaml };

// The format named by a path's extension, or INVALID_ARGUMENT for any other extension.
absl::StatusOr<ProtoFormat> ProtoFormatFromPath(absl::string_view path);

// Parses `content` into `message` (cleared first). Errors are INVALID_ARGUMENT and carry the
// parser's line and column, prefixed by `source` (a file name, or "<flag>").
absl::Status ParseProto(absl::string_view content, ProtoFormat format, absl::string_view source,
                        google::protobuf::Message* message);

// Reads a file and parses it by its extension.
absl::Status ReadProtoFile(const std::string& path, google::protobuf::Message* message);

// One-line JSON with the proto field names as written in .proto files; with
// `include_defaults`, fields at their zero value are printed too (stable columns for readers).
// A double that is not finite (NaN marks a value missing) is null: JSON has no number for it.
std::string ToJson(const google::protobuf::Message& message, bool include_defaults = false);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_PROTO_FILE_H_
