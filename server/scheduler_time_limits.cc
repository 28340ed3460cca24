// Scheduler, part: spec.time_limit_seconds. Each attempt's deadline, telling the ranks of an
// attempt past it to stop, and letting go of one nobody confirmed stopping a lease later (and of
// a cancelled one, a lease after its cancel).
#include "absl/strings/str_cat.h"
#include "common/timestamps.h"
#include "google/protobuf/util/time_util.h"
#include "server/scheduler.h"

namespace polytrain {

using polytrain::v1::Job;

Scheduler::Clock::time_point Scheduler::AttemptDeadline(const Job& job) {
  if (job.spec().time_limit_seconds() <= 0) return Clock::time_point::max();
  // The attempt's start is stored as wall-clock time; what is left of its limit, from now.
  const int64_t started_ns =
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(job.start_time());
  const int64_t now_ns = google::protobuf::util::TimeUtil::TimestampToNanoseconds(NowTimestamp());
  const int64_t limit_ns = int64_t{job.spec().time_limit_seconds()} * 1'000'000'000;
  return Clock::now() + std::chrono::nanoseconds(limit_ns - (now_ns - started_ns));
}

std::string Scheduler::TimeLimitError(const RunningJob& job) {
  return absl::StrCat("ran past spec.time_limit_seconds (", job.job.spec().time_limit_seconds(),
                      " s) on attempt ", job.attempt);
}

std::vector<std::string> Scheduler::EnforceTimeLimitsLocked(Clock::time_point now) {
  std::vector<std::string> let_go;
  // Before the port opens no worker can confirm a stop: restored attempts wait for Serving().
  if (options_.restored_leases_wait_for_serving && !serving_) return let_go;
  for (auto& [job_id, job] : running_) {
    if (job.cancel_requested) {
      // Restored from the store with its cancel: a lease from when this coordinator serves.
      if (job.cancel_let_go == Clock::time_point::max()) job.cancel_let_go = now + Lease();
      if (now >= job.cancel_let_go) {
        let_go.push_back(job_id);
        continue;
      }
    }
    if (job.deadline == Clock::time_point::max() || now < job.deadline) continue;
    if (!job.timed_out) {
      job.timed_out = true;
      for (const Rank& rank : job.ranks) {
        auto worker = workers_.find(rank.session);
        if (!rank.done && worker != workers_.end()) {
          worker->second.channel->Send(CancelMessage(job_id));
        }
      }
    }
    if (now - job.deadline >= Lease()) let_go.push_back(job_id);
  }
  return let_go;
}

bool Scheduler::LetGoOfTimedOutLocked(const std::string& job_id, Clock::time_point now) {
  const RunningJob& job = running_[job_id];
  // A worker that still renews its lease heard the stop and did not confirm it; one that does
  // not has said nothing at all.
  bool heard = false;
  for (const Rank& rank : job.ranks) heard = heard || (!rank.done && rank.lease_expiry >= now);
  const std::string unconfirmed = absl::StrCat(
      "let go ", options_.lease_seconds, " s later ",
      heard ? "without its worker confirming the stop" : "without word from its worker");
  if (job.cancel_requested) {  // cancellation wins, as everywhere
    return FinishJobLocked(job_id, polytrain::v1::JOB_STATE_CANCELLED,
                           absl::StrCat("cancelled; ", unconfirmed), nullptr)
        .ok();
  }
  return FinishJobLocked(job_id, polytrain::v1::JOB_STATE_FAILED,
                         absl::StrCat(TimeLimitError(job), "; ", unconfirmed), nullptr)
      .ok();
}

}  // namespace polytrain
