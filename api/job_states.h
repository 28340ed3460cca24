// What a job's state means to every side: whether it can still change.
#ifndef POLYTRAIN_API_JOB_STATES_H_
#define POLYTRAIN_API_JOB_STATES_H_

#include <string>

#include "polytrain/v1/job_record.pb.h"
#include "polytrain/v1/metrics.pb.h"

namespace polytrain {

// SUCCEEDED, FAILED, CANCELLED and STOPPED (a search trial not promoted) never change again;
// QUEUED, RUNNING and PAUSED (a search trial between rungs) do.
bool IsFinalState(polytrain::v1::JobState state);

// The state as users read it, in errors and logs as polyctl prints it: "succeeded", "paused";
// a value this build does not know (a newer coordinator's) as "unknown(8)", never as a known one.
std::string JobStateWord(polytrain::v1::JobState state);
// A metric point's kind the same way: "train", "eval", else "unknown(3)".
std::string MetricKindWord(polytrain::v1::MetricPoint::Kind kind);
// JobStateWord's inverse, in any case ("Succeeded" too); false for a word that names no state
// (and for "unspecified").
bool ParseJobStateWord(const std::string& word, polytrain::v1::JobState* state);

}  // namespace polytrain

#endif  // POLYTRAIN_API_JOB_STATES_H_
