#include "api/job_states.h"

namespace polytrain {

bool IsFinalState(polytrain::v1::JobState state) {
  return state == polytrain::v1::JOB_STATE_SUCCEEDED || state == polytrain::v1::JOB_STATE_FAILED ||
         state == polytrain::v1::JOB_STATE_CANCELLED || state == polytrain::v1::JOB_STATE_STOPPED;
}

}  // namespace polytrain
