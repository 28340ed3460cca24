#include "server/scheduler.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/job_spec_defaults.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/status_macros.h"
#include "common/timestamps.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::JobState;

absl::Status UnknownSession() { return absl::FailedPreconditionError("unknown worker session"); }

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
      // Each rank waits one lease for its worker to reconnect and re-attach it.
      const std::vector<std::string> workers =
          job.rank_workers().empty()
              ? std::vector<std::string>{job.worker()}
              : std::vector<std::string>(job.rank_workers().begin(), job.rank_workers().end());
      for (const std::string& worker : workers) {
        entry.ranks.push_back(Rank{-1, worker, restored_expiry, false, /*restored=*/true, "", ""});
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
                                                   const polytrain::v1::Sweep* sweep,
                                                   std::optional<int64_t> owner_unended_limit) {
  SweepNotifier notify(this);  // a new search is published (and decided on) at once
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> created;
  absl::StatusOr<std::vector<Job>> stored =
      store_->CreateJobs(std::move(jobs), &created, sweep, owner_unended_limit);
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
    for (const Rank& rank : running->second.ranks) {
      auto worker = workers_.find(rank.session);
      if (worker != workers_.end()) worker->second.channel->Send(CancelMessage(job_id));
    }
  }
  return job;  // still RUNNING; CANCELLED once a worker stops it (or a lease lapses)
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

Scheduler::Owned Scheduler::OwnedLocked(int64_t session, const std::string& job_id,
                                        int32_t attempt) {
  auto it = running_.find(job_id);
  if (it == running_.end()) return {};
  if (attempt != 0 && attempt != it->second.attempt) return {};
  for (size_t rank = 0; rank < it->second.ranks.size(); ++rank) {
    if (it->second.ranks[rank].session == session) {
      return Owned{&it->second, static_cast<int>(rank)};
    }
  }
  return {};
}

absl::Status Scheduler::RenewLeases(int64_t session, const polytrain::v1::Heartbeat& heartbeat) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  auto worker = workers_.find(session);
  if (worker == workers_.end()) return UnknownSession();
  // Jobs it was told to stop and no longer claims have stopped.
  const std::set<std::string> claimed(heartbeat.running_job_ids().begin(),
                                      heartbeat.running_job_ids().end());
  bool freed = false;
  for (auto it = worker->second.stopping.begin(); it != worker->second.stopping.end();) {
    if (claimed.count(*it) == 0) {
      it = worker->second.stopping.erase(it);
      freed = true;
    } else {
      ++it;
    }
  }
  if (freed) ScheduleLocked();
  for (const std::string& job_id : heartbeat.running_job_ids()) {
    const Owned owned = OwnedLocked(session, job_id, 0);
    if (owned.job != nullptr) owned.job->ranks[owned.rank].lease_expiry = Clock::now() + Lease();
  }
  return absl::OkStatus();
}

absl::Status Scheduler::AddMetrics(int64_t session, const polytrain::v1::MetricBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.count(session) == 0) return UnknownSession();
  const Owned owned = OwnedLocked(session, batch.job_id(), batch.attempt());
  if (owned.job == nullptr) return absl::OkStatus();  // a stale attempt: dropped
  RunningJob* job = owned.job;
  job->ranks[owned.rank].lease_expiry = Clock::now() + Lease();
  if (owned.rank != 0) return absl::OkStatus();  // rank 0 reports for its gang
  for (const auto& point : batch.points()) {
    job->newest_step = std::max(job->newest_step, point.step());
    if (options_.metrics != nullptr) options_.metrics->JobProgress(job->job, point);
    watchers_.PointAdded(batch.job_id(), point);
  }
  return store_->AddMetrics(batch.job_id(), {batch.points().begin(), batch.points().end()});
}

absl::Status Scheduler::AttemptStarted(int64_t session, const polytrain::v1::JobStarted& started) {
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.count(session) == 0) return UnknownSession();
  const Owned owned = OwnedLocked(session, started.job_id(), started.attempt());
  if (owned.job == nullptr) return absl::OkStatus();
  owned.job->ranks[owned.rank].lease_expiry = Clock::now() + Lease();
  if (owned.rank != 0) return absl::OkStatus();
  // Points the earlier attempt stored past this attempt's checkpoint would otherwise sit beside
  // the ones this attempt writes for the same steps, or outlive them.
  POLYTRAIN_RETURN_IF_ERROR(
      store_->DeleteMetricsAfter(started.job_id(), started.resumed_from_step()));
  absl::StatusOr<Job> stored = store_->GetJob(started.job_id());
  if (!stored.ok()) return stored.status();
  stored->set_resumed_from_step(started.resumed_from_step());
  return store_->UpdateJob(*stored);
}

absl::Status Scheduler::AttemptFinished(int64_t session,
                                        const polytrain::v1::JobFinished& finished) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.count(session) == 0) return UnknownSession();
  const Owned owned = OwnedLocked(session, finished.job_id(), finished.attempt());
  if (owned.job == nullptr) {  // an attempt it was told to stop has ended
    if (StoppedLocked(session, finished.job_id())) ScheduleLocked();
    return absl::OkStatus();
  }
  if (finished.paused() && !owned.job->job.has_search()) {  // only a trial stops at a rung
    return absl::InvalidArgumentError(
        absl::StrCat("finished.paused: job ", finished.job_id(),
                     " is not a loss-search trial, so it has no "
                     "rung to pause at; report its end without paused"));
  }
  if (owned.rank == 0 && finished.steps() < owned.job->newest_step) {
    // Not refused: a worker drops a refused result for good, and the job would train again.
    // Job.steps keeps the furthest step (FinishJobLocked).
    spdlog::warn("job {}: its worker reported its end at step {} after a point at step {}",
                 finished.job_id(), finished.steps(), owned.job->newest_step);
  }
  owned.job->ranks[owned.rank].done = true;
  if (owned.rank != 0) {  // its part is done: its slot is free, the gang goes on
    auto worker = workers_.find(session);
    if (worker != workers_.end()) worker->second.running.erase(finished.job_id());
    ScheduleLocked();
    return absl::OkStatus();
  }
  {
    absl::StatusOr<Job> job = store_->GetJob(finished.job_id());
    if (!job.ok()) return job.status();
    if (finished.resumed_from_step() > 0) job->set_resumed_from_step(finished.resumed_from_step());
    job->set_steps(finished.steps());
    POLYTRAIN_RETURN_IF_ERROR(store_->UpdateJob(*job));
    if (finished.paused() && job->has_search()) {
      // A trial cancelled while it ran stops at its rung: it is not paused to be promoted, and
      // its result stays the rung's (the sweep's report counts it).
      POLYTRAIN_RETURN_IF_ERROR(
          owned.job->cancel_requested
              ? FinishJobLocked(finished.job_id(), polytrain::v1::JOB_STATE_CANCELLED,
                                kCancelledAtRungEnd, &finished.final_metrics())
              : PauseTrialLocked(finished));
      ScheduleLocked();
      return absl::OkStatus();
    }
  }
  POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(finished.job_id(), polytrain::v1::JOB_STATE_SUCCEEDED,
                                            "", &finished.final_metrics()));
  ScheduleLocked();
  return absl::OkStatus();
}

absl::Status Scheduler::AttemptFailed(int64_t session, const polytrain::v1::JobFailed& failed) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.count(session) == 0) return UnknownSession();
  const Owned owned = OwnedLocked(session, failed.job_id(), failed.attempt());
  if (owned.job == nullptr) {  // an attempt it was told to stop has ended
    if (StoppedLocked(session, failed.job_id())) ScheduleLocked();
    return absl::OkStatus();
  }
  RunningJob* job = owned.job;
  job->ranks[owned.rank].done = true;              // it stopped; the others are told to
  if (job->timed_out && !job->cancel_requested) {  // stopped for its time limit, or failed then
    POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(failed.job_id(), polytrain::v1::JOB_STATE_FAILED,
                                              TimeLimitError(*job), nullptr));
    ScheduleLocked();
    return absl::OkStatus();
  }
  const bool cancelled = failed.cancelled() || job->cancel_requested;
  if (failed.released()) workers_[session].draining = true;
  if (!cancelled && failed.released()) {  // its worker is shutting down: another one resumes it
    job->given_back = true;
    (void)RequeueLocked(
        failed.job_id(),
        absl::StrCat("worker ", job->ranks[owned.rank].worker, " shut down during attempt ",
                     job->attempt, " and gave the job back"),
        /*retry_if_refused=*/true);
    ScheduleLocked();
    return absl::OkStatus();
  }
  if (!cancelled && failed.gang_lost() && job->ranks.size() > 1) {
    // The rank that reports first is usually a survivor: the ranks whose workers are gone are
    // named first, since they are what broke the gang.
    std::string gone;
    for (size_t rank = 0; rank < job->ranks.size(); ++rank) {
      if (static_cast<int>(rank) == owned.rank || job->ranks[rank].session >= 0) continue;
      absl::StrAppend(&gone, gone.empty() ? "" : ", ", "rank ", rank, " on worker ",
                      job->ranks[rank].worker);
    }
    (void)RequeueLocked(
        failed.job_id(),
        absl::StrCat(gone, gone.empty() ? "" : " disconnected; ", "rank ", owned.rank,
                     " on worker ", job->ranks[owned.rank].worker, " lost its gang (attempt ",
                     job->attempt, "): ", CutError(failed.error())),
        /*retry_if_refused=*/true);
    ScheduleLocked();
    return absl::OkStatus();
  }
  const std::string prefix =
      job->ranks.size() > 1 && !cancelled ? absl::StrCat("rank ", owned.rank, ": ") : "";
  POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(
      failed.job_id(),
      cancelled ? polytrain::v1::JOB_STATE_CANCELLED : polytrain::v1::JOB_STATE_FAILED,
      cancelled ? "cancelled while running" : prefix + CutError(failed.error()), nullptr,
      // A rank > 0 reports no points: its own count says nothing of how far the gang trained.
      owned.rank == 0 ? std::max(failed.steps(), job->newest_step) : job->newest_step));
  ScheduleLocked();
  return absl::OkStatus();
}

absl::Status Scheduler::RendezvousReady(int64_t session,
                                        const polytrain::v1::RendezvousReady& ready) {
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.count(session) == 0) return UnknownSession();
  const Owned owned = OwnedLocked(session, ready.job_id(), ready.attempt());
  if (owned.job == nullptr || owned.rank != 0) return absl::OkStatus();
  owned.job->rendezvous = ready.address();
  polytrain::v1::CoordinatorMessage rendezvous;
  rendezvous.mutable_rendezvous()->set_job_id(ready.job_id());
  rendezvous.mutable_rendezvous()->set_attempt(ready.attempt());
  rendezvous.mutable_rendezvous()->set_address(ready.address());
  for (size_t rank = 1; rank < owned.job->ranks.size(); ++rank) {
    auto worker = workers_.find(owned.job->ranks[rank].session);
    if (worker != workers_.end()) worker->second.channel->Send(rendezvous);
  }
  return absl::OkStatus();
}

}  // namespace polytrain
