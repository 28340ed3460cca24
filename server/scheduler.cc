#include "server/scheduler.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "api/job_spec_defaults.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "common/timestamps.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::JobState;

}  // namespace

polytrain::v1::CoordinatorMessage Scheduler::CancelMessage(const std::string& job_id) {
  polytrain::v1::CoordinatorMessage cancel;
  cancel.mutable_cancel()->set_job_id(job_id);
  return cancel;
}

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(JobStore* store, Options options) {
  std::unique_ptr<Scheduler> s(new Scheduler(store, options));
  absl::StatusOr<std::vector<Job>> queued = store->JobsInStates({polytrain::v1::JOB_STATE_QUEUED});
  if (!queued.ok()) return queued.status();
  absl::StatusOr<std::vector<Job>> running =
      store->JobsInStates({polytrain::v1::JOB_STATE_RUNNING});
  if (!running.ok()) return running.status();
  {
    std::lock_guard<std::mutex> lock(s->mu_);
    const Clock::time_point now = Clock::now();
    const Clock::time_point restored_expiry =
        options.restored_leases_wait_for_serving ? Clock::time_point::max() : now + s->Lease();
    for (const Job& job : *queued) s->queue_.Push(job, now);
    for (const Job& job : *running) {
      RunningJob& entry = s->running_[job.id()];
      entry.attempt = job.attempts();
      entry.job = job;
      entry.cancel_requested = job.cancel_requested();
      entry.deadline = AttemptDeadline(job);
      // How far it trained by its stored points (a lost attempt's record and a failed job's steps
      // say so after a restart, not 0).
      absl::StatusOr<std::optional<MetricKey>> newest = store->NewestMetricKey(job.id());
      if (!newest.ok()) {  // a figure for the record: the start goes on without it
        spdlog::warn("{}: could not read its newest metric point: {}", job.id(),
                     std::string(newest.status().message()));
      } else if (newest->has_value()) {
        entry.newest_step = (*newest)->step;
      }
      // Each rank waits one lease for its worker to reconnect and re-attach it.
      const std::vector<std::string> workers =
          job.rank_workers().empty()
              ? std::vector<std::string>{job.worker()}
              : std::vector<std::string>(job.rank_workers().begin(), job.rank_workers().end());
      for (const std::string& worker : workers) {
        entry.ranks.push_back(
            Rank{-1, worker, restored_expiry, false, /*restored=*/true, "", "", ""});
      }
    }
  }
  if (options.metrics != nullptr) {
    // The jobs as they stand: a restart is not a transition.
    absl::StatusOr<std::map<JobState, int64_t>> counts = store->CountJobsByState();
    if (!counts.ok()) return counts.status();
    options.metrics->SetJobCounts(*counts);
    options.metrics->SetQueueDepth(queued->size());
  }
  if (options.lease_thread) s->lease_thread_ = std::thread([p = s.get()] { p->LeaseLoop(); });
  return s;
}

void Scheduler::Serving() {
  std::lock_guard<std::mutex> lock(mu_);
  serving_ = true;
  const Clock::time_point now = Clock::now();
  const Clock::time_point expiry = now + Lease();
  for (auto& [id, job] : running_) {
    bool restored = false;
    for (Rank& rank : job.ranks) {
      if (rank.restored && rank.session == -1 && !rank.done) {
        rank.lease_expiry = expiry;
        restored = true;
      }
    }
    // A limit that passed while nobody could hear the worker counts from now.
    if (restored && job.deadline < now) job.deadline = now;
  }
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    watchers_.EndAll();
  }
  stop_cv_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
}

Scheduler::Clock::duration Scheduler::Lease() const {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options_.lease_seconds));
}

void Scheduler::LeaseLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (stopping_) break;
    lock.unlock();
    ExpireLeases(Clock::now());
    if (options_.metrics != nullptr) options_.metrics->DropExpiredJobSeries(Clock::now());
    lock.lock();
  }
}

void Scheduler::RefreshGaugesLocked() {
  if (options_.metrics == nullptr) return;
  options_.metrics->SetQueueDepth(queue_.size());
  options_.metrics->SetWorkersConnected(workers_.size());
}

void Scheduler::CountTransitionLocked(JobState from, JobState to) {
  if (options_.metrics != nullptr) options_.metrics->JobStateChanged(from, to);
  RefreshGaugesLocked();
}

absl::StatusOr<std::vector<Job>> Scheduler::Submit(std::vector<Job> jobs,
                                                   const CreateJobsOptions& options) {
  SweepNotifier notify(this);  // a new search is published (and decided on) at once
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> created;
  absl::StatusOr<std::vector<Job>> stored = store_->CreateJobs(std::move(jobs), &created, options);
  if (!stored.ok()) return stored.status();
  const Clock::time_point now = Clock::now();
  for (size_t i = 0; i < stored->size(); ++i) {
    if (!created[i]) continue;
    queue_.Push((*stored)[i], now);
    SweepJobSettledLocked((*stored)[i]);
    if (options_.metrics != nullptr) options_.metrics->JobSubmitted();
    CountTransitionLocked(polytrain::v1::JOB_STATE_UNSPECIFIED, polytrain::v1::JOB_STATE_QUEUED);
  }
  // As they are now: scheduling may have started some of them.
  std::map<std::string, Job> started;
  for (Job& job : ScheduleLocked()) started[job.id()] = std::move(job);
  for (size_t i = 0; i < stored->size(); ++i) {
    auto it = started.find((*stored)[i].id());
    if (it != started.end()) (*stored)[i] = std::move(it->second);
  }
  return stored;
}

absl::StatusOr<Job> Scheduler::Cancel(const std::string& job_id) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return job.status();
  if (IsFinalState(job->state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("id: job ", job->id(), " already ended (", JobStateWord(job->state()), ")"));
  }
  if (job->state() == polytrain::v1::JOB_STATE_QUEUED) {
    // The store first: a refused write leaves the job queued, in the store and here.
    POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(job_id, polytrain::v1::JOB_STATE_CANCELLED,
                                              "cancelled while queued", nullptr));
    queue_.Remove(job_id);
    RefreshGaugesLocked();  // FinishJobLocked counted the queue with the job still in it
    return store_->GetJob(job_id);
  }
  if (job->state() == polytrain::v1::JOB_STATE_PAUSED) {  // a search trial between rungs
    POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(job_id, polytrain::v1::JOB_STATE_CANCELLED,
                                              kCancelledWhilePaused, nullptr));
    return store_->GetJob(job_id);
  }
  auto running = running_.find(job_id);
  if (running != running_.end()) {
    if (!job->cancel_requested()) {
      job->set_cancel_requested(true);  // stored, so a restarted coordinator still sends it
      POLYTRAIN_RETURN_IF_ERROR(store_->UpdateJob(*job));
    }
    running->second.cancel_requested = true;
    running->second.cancel_let_go = std::min(running->second.cancel_let_go, Clock::now() + Lease());
    for (const Rank& rank : running->second.ranks) {
      auto worker = workers_.find(rank.session);
      if (worker != workers_.end()) worker->second.channel->Send(CancelMessage(job_id));
    }
  }
  return job;  // still RUNNING; CANCELLED once a worker stops it (or a lease lapses)
}

absl::StatusOr<Job> Scheduler::DeletableJob(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return DeletableJobLocked(job_id);
}

absl::StatusOr<std::pair<Job, int64_t>> Scheduler::DeleteEndedJob(const std::string& job_id) {
  // Checked under mu_, deleted outside it: an ended job's state never changes, nor does a search
  // that is no longer running run again, so nothing can make it undeletable meanwhile; and the
  // store's delete of a long history (milliseconds) holds up no scheduling.
  absl::StatusOr<Job> job = DeletableJob(job_id);
  if (!job.ok()) return job.status();
  absl::StatusOr<int64_t> points = store_->DeleteJob(job_id);
  if (!points.ok()) return points.status();
  if (options_.metrics != nullptr) options_.metrics->JobDeleted(job_id, job->state());
  return std::make_pair(*std::move(job), *points);
}

absl::StatusOr<Job> Scheduler::DeletableJobLocked(const std::string& job_id) {
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return job.status();
  if (!IsFinalState(job->state())) {
    return absl::FailedPreconditionError(absl::StrCat("id: job ", job_id, " is ",
                                                      JobStateWord(job->state()),
                                                      "; cancel it first, or wait for its end"));
  }
  // A running search ranks its trials (and may re-run its finalists) from their records.
  if (auto sweep_id = job->spec().labels().find(kSweepLabel);
      sweep_id != job->spec().labels().end()) {
    absl::StatusOr<polytrain::v1::Sweep> sweep = store_->GetSweep(sweep_id->second);
    if (sweep.ok() && sweep->request().has_search() &&
        sweep->state() == polytrain::v1::Sweep::SWEEP_STATE_RUNNING) {
      return absl::FailedPreconditionError(
          absl::StrCat("id: job ", job_id, " is a trial of search ", sweep_id->second,
                       ", which is still running; delete it once the search is done (or "
                       "cancelled)"));
    }
  }
  return job;
}

absl::StatusOr<WatchStart> Scheduler::Watch(const std::string& job_id, JobWatcher* watcher) {
  // Under mu_, so no state change or metric point falls between the history and the live feed:
  // points are stored and sent to watchers under it too.
  std::lock_guard<std::mutex> lock(mu_);
  WatchStart start;
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return job.status();
  start.job = *std::move(job);
  start.job.set_waiting_for(WaitingForLocked(start.job));  // a watch of a queued job says why
  absl::StatusOr<std::optional<MetricKey>> newest = store_->NewestMetricKey(job_id);
  if (!newest.ok()) return newest.status();
  start.history_through = *newest;
  if (IsFinalState(start.job.state())) {
    watcher->OnEnd();
  } else {
    watchers_.Add(job_id, watcher);
  }
  return start;
}

void Scheduler::Unwatch(const std::string& job_id, JobWatcher* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.Remove(job_id, watcher);
}

int Scheduler::ConnectedWorkers() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(workers_.size());
}

size_t Scheduler::QueuedJobs() {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

absl::Status Scheduler::FinishJobLocked(const std::string& job_id, JobState state,
                                        const std::string& error,
                                        const google::protobuf::Map<std::string, double>* metrics,
                                        int64_t steps) {
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return job.status();
  const JobState previous = job->state();
  job->set_state(state);
  job->set_error(error);
  if (metrics != nullptr) *job->mutable_final_metrics() = *metrics;
  // How far the attempt trained by the points it sent, where its worker did not say (a lapsed
  // lease, a cancel): a failed search trial showed 0 steps beside its 150 steps of points.
  if (auto running = running_.find(job_id); running != running_.end()) {
    steps = std::max(steps, running->second.newest_step);
  }
  job->set_steps(std::max(job->steps(), steps));
  *job->mutable_end_time() = NowTimestamp();
  POLYTRAIN_RETURN_IF_ERROR(store_->UpdateJob(*job));
  auto running = running_.find(job_id);
  if (running != running_.end()) {
    StopRanksLocked(job_id, running->second);
    running_.erase(running);
  }
  CountTransitionLocked(previous, state);
  // One line per job's end, where an operator looks first (the coordinator's log).
  const std::string ended = JobStateWord(state);
  if (state == polytrain::v1::JOB_STATE_FAILED) {
    spdlog::warn("{} ({}): failed after {} attempt(s): {}", job_id, job->spec().name(),
                 job->attempts(), error);
  } else {
    spdlog::info("{} ({}): {}{}{}", job_id, job->spec().name(), ended, error.empty() ? "" : ": ",
                 error);
  }
  if (options_.metrics != nullptr) options_.metrics->JobEnded(job_id, Clock::now());
  watchers_.JobChanged(*job);
  SweepJobSettledLocked(*job);
  return absl::OkStatus();
}

}  // namespace polytrain
