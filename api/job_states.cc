#include "api/job_states.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace polytrain {

bool IsFinalState(polytrain::v1::JobState state) {
  return state == polytrain::v1::JOB_STATE_SUCCEEDED || state == polytrain::v1::JOB_STATE_FAILED ||
         state == polytrain::v1::JOB_STATE_CANCELLED || state == polytrain::v1::JOB_STATE_STOPPED;
}

std::string JobStateWord(polytrain::v1::JobState state) {
  if (!polytrain::v1::JobState_IsValid(state)) return absl::StrCat("unknown(", state, ")");
  return absl::AsciiStrToLower(
      absl::StripPrefix(polytrain::v1::JobState_Name(state), "JOB_STATE_"));
}

std::string MetricKindWord(polytrain::v1::MetricPoint::Kind kind) {
  switch (kind) {
    case polytrain::v1::MetricPoint::KIND_TRAIN:
      return "train";
    case polytrain::v1::MetricPoint::KIND_EVAL:
      return "eval";
    default:
      return absl::StrCat("unknown(", kind, ")");
  }
}

bool ParseJobStateWord(const std::string& word, polytrain::v1::JobState* state) {
  return polytrain::v1::JobState_Parse("JOB_STATE_" + absl::AsciiStrToUpper(word), state) &&
         *state != polytrain::v1::JOB_STATE_UNSPECIFIED;
}

}  // namespace polytrain
