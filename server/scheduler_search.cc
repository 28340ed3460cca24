// Scheduler, part: the trials of a successive-halving search. A trial's segment that ends at its
// rung pauses the job (its slot is freed); the search controller (search_controller.h) then
// resumes it towards the next rung or stops it. The controller hears of every trial that paused
// or ended through the sweep listener, called outside the scheduler's lock.
#include "absl/strings/str_cat.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "server/scheduler.h"

namespace polytrain {

using polytrain::v1::Job;

Scheduler::SweepNotifier::~SweepNotifier() {
  std::set<std::string> sweeps;
  std::function<void(const std::string&)> listener;
  {
    std::lock_guard<std::mutex> lock(scheduler_->mu_);
    if (!scheduler_->sweep_listener_ || scheduler_->settled_sweeps_.empty()) return;
    sweeps.swap(scheduler_->settled_sweeps_);
    listener = scheduler_->sweep_listener_;
    ++scheduler_->listener_calls_;
  }
  for (const std::string& sweep : sweeps) listener(sweep);
  std::lock_guard<std::mutex> lock(scheduler_->mu_);
  if (--scheduler_->listener_calls_ == 0) scheduler_->listener_idle_.notify_all();
}

void Scheduler::SetSweepListener(std::function<void(const std::string& sweep_id)> listener) {
  std::unique_lock<std::mutex> lock(mu_);
  sweep_listener_ = std::move(listener);
  listener_idle_.wait(lock, [this] { return listener_calls_ == 0; });
}

void Scheduler::SweepNeedsDecision(const std::string& sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  settled_sweeps_.insert(sweep_id);
}

void Scheduler::SweepJobSettledLocked(const Job& job) {
  // A search trial queued, paused or ended (its search decides), or any sweep job that ended
  // (its sweep may be done).
  if (!job.has_search() && !IsFinalState(job.state())) return;
  auto sweep = job.spec().labels().find(kSweepLabel);
  if (sweep != job.spec().labels().end()) settled_sweeps_.insert(sweep->second);
}

absl::Status Scheduler::PauseTrialLocked(const polytrain::v1::JobFinished& finished) {
  absl::StatusOr<Job> job = store_->GetJob(finished.job_id());
  if (!job.ok()) return job.status();
  const polytrain::v1::JobState previous = job->state();
  job->set_state(polytrain::v1::JOB_STATE_PAUSED);
  *job->mutable_final_metrics() = finished.final_metrics();
  job->clear_error();
  POLYTRAIN_RETURN_IF_ERROR(store_->UpdateJob(*job));
  auto running = running_.find(job->id());
  if (running != running_.end()) {
    StopRanksLocked(job->id(), running->second);
    running_.erase(running);
  }
  CountTransitionLocked(previous, polytrain::v1::JOB_STATE_PAUSED);
  if (options_.metrics != nullptr) options_.metrics->JobEnded(job->id(), Clock::now());
  watchers_.JobChanged(*job);
  SweepJobSettledLocked(*job);
  return absl::OkStatus();
}

absl::StatusOr<Job> Scheduler::PausedJobLocked(const std::string& job_id) {
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return job.status();
  if (job->state() != polytrain::v1::JOB_STATE_PAUSED) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job_id, " is not paused (", JobStateWord(job->state()), ")"));
  }
  return job;
}

absl::Status Scheduler::ResumeTrial(const std::string& job_id,
                                    const std::function<void(Job*)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Job> job = PausedJobLocked(job_id);
  if (!job.ok()) return job.status();
  change(&*job);
  job->set_state(polytrain::v1::JOB_STATE_QUEUED);
  POLYTRAIN_RETURN_IF_ERROR(store_->UpdateJob(*job));
  queue_.Push(*job, Clock::now());
  CountTransitionLocked(polytrain::v1::JOB_STATE_PAUSED, polytrain::v1::JOB_STATE_QUEUED);
  watchers_.JobChanged(*job);
  ScheduleLocked();
  return absl::OkStatus();
}

absl::Status Scheduler::StopTrial(const std::string& job_id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Job> job = PausedJobLocked(job_id);
  if (!job.ok()) return job.status();
  return FinishJobLocked(job_id, polytrain::v1::JOB_STATE_STOPPED, reason, nullptr);
}

}  // namespace polytrain
