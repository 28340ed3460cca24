// Scheduler, part: ending attempts that are lost. Telling a job's ranks to stop, requeueing a
// lost attempt (or failing the job when it has none left), and lapsed leases.
#include "absl/strings/str_cat.h"
#include "api/job_spec_defaults.h"
#include "common/timestamps.h"
#include "google/protobuf/util/time_util.h"
#include "server/scheduler.h"

namespace polytrain {

using polytrain::v1::Job;

void Scheduler::StopRanksLocked(const std::string& job_id, RunningJob& job) {
  for (Rank& rank : job.ranks) {
    auto worker = workers_.find(rank.session);
    if (worker == workers_.end()) continue;
    worker->second.running.erase(job_id);
    if (!rank.done) {
      worker->second.channel->Send(CancelMessage(job_id));
      worker->second.stopping.insert(job_id);  // its slot is free once it says so
    }
    rank.done = true;
  }
}

void Scheduler::RequeueLocked(const std::string& job_id, const std::string& error) {
  auto running = running_.find(job_id);
  if (running == running_.end()) return;
  if (running->second.timed_out) {  // out of time: no other attempt
    (void)FinishJobLocked(job_id, polytrain::v1::JOB_STATE_FAILED,
                          absl::StrCat(TimeLimitError(running->second), "; then ", error), nullptr);
    return;
  }
  // The store first, memory after: when the store fails nothing changes but the mark, and the
  // lease loop tries again (ExpireLeases). Changing memory first would leave a job the store
  // calls RUNNING in neither the running set nor the queue, lost until a restart.
  running->second.requeue_error = error;
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return;
  // A search trial's earlier segments ended well: only this segment's attempts count.
  if (job->attempts() - job->search().attempts_before_segment() >= MaxAttempts(job->spec())) {
    (void)FinishJobLocked(job_id, polytrain::v1::JOB_STATE_FAILED,
                          absl::StrCat(error, "; no attempts left of ", MaxAttempts(job->spec())),
                          nullptr);
    return;
  }
  job->set_state(polytrain::v1::JOB_STATE_QUEUED);
  job->set_error(error);
  if (!store_->UpdateJob(*job).ok()) return;
  StopRanksLocked(job_id, running->second);  // the attempt is over on every rank
  running_.erase(running);
  queue_.Push(*job, Clock::now());
  CountTransitionLocked(polytrain::v1::JOB_STATE_RUNNING, polytrain::v1::JOB_STATE_QUEUED);
  watchers_.JobChanged(*job);
}

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

void Scheduler::EnforceTimeLimitsLocked(Clock::time_point now) {
  std::vector<std::string> let_go;
  for (auto& [job_id, job] : running_) {
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
  for (const std::string& job_id : let_go) {
    (void)FinishJobLocked(
        job_id, polytrain::v1::JOB_STATE_FAILED,
        absl::StrCat(TimeLimitError(running_[job_id]), "; its worker did not stop it within ",
                     options_.lease_seconds, " s"),
        nullptr);
  }
}

void Scheduler::ExpireLeases(Clock::time_point now) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  EnforceTimeLimitsLocked(now);
  // Each job with a lapsed rank, and the rank to blame: one whose worker is gone if any.
  std::vector<std::pair<std::string, size_t>> lapsed;
  for (const auto& [job_id, job] : running_) {
    std::optional<size_t> blamed;
    for (size_t rank = 0; rank < job.ranks.size(); ++rank) {
      const Rank& r = job.ranks[rank];
      if (r.done || r.lease_expiry >= now) continue;
      if (!blamed.has_value() || (r.session == -1 && job.ranks[*blamed].session != -1)) {
        blamed = rank;
      }
    }
    if (blamed.has_value()) lapsed.emplace_back(job_id, *blamed);
  }
  // Requeues the store refused before: tried again.
  std::vector<std::pair<std::string, std::string>> retried;
  for (const auto& [job_id, job] : running_) {
    if (!job.requeue_error.empty()) retried.emplace_back(job_id, job.requeue_error);
  }
  for (const auto& [job_id, error] : retried) RequeueLocked(job_id, error);
  for (const auto& [job_id, rank] : lapsed) {
    auto pending = running_.find(job_id);
    if (pending == running_.end() || !pending->second.requeue_error.empty()) continue;  // above
    const RunningJob& running = running_[job_id];
    const Rank& lost = running.ranks[rank];
    auto worker = workers_.find(lost.session);
    const std::string where = worker != workers_.end() ? worker->second.hello.name() : lost.worker;
    // Cancellation wins over a requeue. Either way, every rank still out there (one alive but
    // silent about the job included) is told to stop.
    if (running.cancel_requested) {
      (void)FinishJobLocked(job_id, polytrain::v1::JOB_STATE_CANCELLED,
                            "cancelled; its worker stopped answering", nullptr);
      continue;
    }
    const std::string of_rank =
        running.ranks.size() > 1 ? absl::StrCat(" of rank ", rank) : std::string();
    const std::string error = absl::StrCat("lease", of_rank, " expired on worker ", where,
                                           " (attempt ", running.attempt, ")");
    RequeueLocked(job_id, error);
  }
  if (!lapsed.empty() || !retried.empty()) ScheduleLocked();
}

}  // namespace polytrain
