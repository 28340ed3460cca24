// Reads a JobSpec as users write it: protobuf text format (.txtpb), JSON (.json) or YAML
// (.yaml, .yml; the JSON mapping written as YAML, converted and read by protobuf's JSON parser).
#ifndef POLYTRAIN_CLIENT_SPEC_FILE_H_
#define POLYTRAIN_CLIENT_SPEC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace polytrain {

absl::Status ReadSpecFile(const std::string& path, google::protobuf::Message* message);

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_SPEC_FILE_H_
