// Fuzzes a JobSpec file in protobuf text format, the way users write them (polytrain-worker
// --spec, polyctl submit): the project's parser (protobuf's TextFormat) then JobSpec validation
// and the loss canonicalization it feeds. Text specs come from people and scripts, so any byte
// sequence must end in a spec or an error naming a line or a field, never a crash; an accepted
// spec must keep the invariants in fuzz_checks.h.
#include <cstddef>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/proto_file.h"
#include "fuzz/fuzz_checks.h"
#include "polytrain/v1/job.pb.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  polytrain::fuzz::SilenceProtobufLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view content(reinterpret_cast<const char*>(data), size);
  polytrain::v1::JobSpec spec;
  const absl::Status parsed =
      polytrain::ParseProto(content, polytrain::ProtoFormat::kText, "job.txtpb", &spec);
  if (!parsed.ok()) {
    POLYTRAIN_FUZZ_CHECK(parsed.code() == absl::StatusCode::kInvalidArgument, parsed.ToString());
    POLYTRAIN_FUZZ_CHECK(absl::StartsWith(parsed.message(), "job.txtpb:"), parsed.ToString());
    return 0;
  }
  polytrain::fuzz::CheckJobSpec(spec);
  return 0;
}
