// Scheduler, part: what workers report of the attempts they run. Metric points, an attempt's
// start, its end (finished, paused at a rung, failed, given back) and a gang's rendezvous, each
// taken only from the worker that holds the attempt (OwnedLocked), and lease renewals.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/short_list.h"
#include "common/status_macros.h"
#include "common/timestamps.h"
#include "common/validation.h"
#include "server/scheduler.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::JobState;

absl::Status UnknownSession() { return absl::FailedPreconditionError("unknown worker session"); }

}  // namespace

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

void Scheduler::ReportDroppedLocked(int64_t session, const char* kind, const std::string& job_id,
                                    int32_t attempt) {
  if (options_.metrics != nullptr) options_.metrics->WorkerMessageDropped(kind);
  auto worker = workers_.find(session);
  // A worker sends for a stale attempt a few times at most; a hostile one could name millions of
  // jobs, and each is logged only while the log names fewer than this many for its stream.
  constexpr size_t kLoggedJobsPerStream = 16;
  if (worker == workers_.end() || worker->second.dropped_logged.size() >= kLoggedJobsPerStream ||
      !worker->second.dropped_logged.insert(job_id).second) {
    return;
  }
  auto running = running_.find(job_id);
  if (running == running_.end()) {
    // A report about an attempt that is over, as the job's state says (typically re-sent after
    // a coordinator restart, before the worker heard it was taken): no warning.
    absl::StatusOr<Job> stored = store_->GetJob(job_id);
    if (stored.ok() && stored->attempts() == attempt &&
        (IsFinalState(stored->state()) || stored->state() == polytrain::v1::JOB_STATE_PAUSED)) {
      spdlog::info(
          "worker {} reported {} of job {} attempt {}, an attempt already over (the job "
          "is {}): dropped",
          worker->second.hello.name(), kind, job_id, attempt, JobStateWord(stored->state()));
      return;
    }
  }
  const std::string now = running == running_.end()
                              ? "it runs nowhere now (ended, queued or unknown)"
                          : running->second.attempt != attempt
                              ? absl::StrCat("it runs attempt ", running->second.attempt, " now")
                          : running->second.ranks.size() == 1
                              ? absl::StrCat("it runs on worker ", running->second.ranks[0].worker)
                              : "its gang runs on other workers";
  spdlog::warn(
      "worker {} reported {} of job {} attempt {}, which it does not hold: dropped ({}; further "
      "such reports of this job from this stream are counted in "
      "polytrain_worker_messages_dropped_total only)",
      worker->second.hello.name(), kind, job_id, attempt, now);
}

absl::Status Scheduler::RenewLeases(int64_t session, const polytrain::v1::Heartbeat& heartbeat) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  auto worker = workers_.find(session);
  if (worker == workers_.end()) return UnknownSession();
  if (heartbeat.draining() && !worker->second.draining) {
    // Said as its drain begins, before any job comes back: nothing new goes to it meanwhile
    // (probe DD: jobs placed there during the drain bounced back, each a given-back attempt).
    worker->second.draining = true;
    spdlog::info("worker {} is shutting down: it takes no new job", worker->second.hello.name());
  }
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
    if (owned.job != nullptr) owned.job->ranks[owned.rank].Renew(Clock::now() + Lease());
  }
  return absl::OkStatus();
}

absl::Status Scheduler::AddMetrics(int64_t session, const polytrain::v1::MetricBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.count(session) == 0) return UnknownSession();
  const Owned owned = OwnedLocked(session, batch.job_id(), batch.attempt());
  if (owned.job == nullptr) {  // a stale attempt: dropped
    ReportDroppedLocked(session, "metrics", batch.job_id(), batch.attempt());
    return absl::OkStatus();
  }
  RunningJob* job = owned.job;
  job->ranks[owned.rank].Renew(Clock::now() + Lease());
  if (owned.rank != 0) {  // rank 0 reports for its gang; a real worker's other ranks send none
    if (batch.points_size() == 0) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics: only rank 0 of a data-parallel attempt reports its points; this worker holds "
        "rank ",
        owned.rank, " of job ", batch.job_id(), " attempt ", batch.attempt()));
  }
  for (int i = 0; i < batch.points_size(); ++i) {
    POLYTRAIN_RETURN_IF_ERROR(CheckStepInBudget(IndexPath("metrics.points", i) + ".step",
                                                batch.points(i).step(), job->job.spec()));
  }
  if (job->metric_bytes < 0) {
    absl::StatusOr<int64_t> stored = store_->MetricBytes(batch.job_id());
    if (!stored.ok()) return stored.status();
    job->metric_bytes = *stored;
  }
  int64_t batch_bytes = 0;
  for (const auto& point : batch.points()) batch_bytes += point.ByteSizeLong();
  if (job->metric_bytes + batch_bytes > options_.max_metric_bytes_per_job) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics.points: job ", batch.job_id(), " stores ", job->metric_bytes,
                     " bytes of metric points, and these ", batch.points_size(), " (", batch_bytes,
                     " bytes) would pass the ", options_.max_metric_bytes_per_job,
                     " a job may store: dropped (log less often: spec.log_every_steps)"));
  }
  // A point that replaces a stored one of its step counts twice: an upper bound.
  job->metric_bytes += batch_bytes;
  for (const auto& point : batch.points()) {
    job->newest_step = std::max(job->newest_step, point.step());
    if (options_.metrics != nullptr) options_.metrics->JobProgress(job->job, point);
    watchers_.PointAdded(batch.job_id(), point);
  }
  POLYTRAIN_RETURN_IF_ERROR(
      store_->AddMetrics(batch.job_id(), {batch.points().begin(), batch.points().end()}));
  ScoreNewestCheckpointLocked(batch, job->job.spec());
  return absl::OkStatus();
}

void Scheduler::NoteRefusedReport(int64_t session, const std::string& job_id,
                                  absl::string_view why) {
  std::lock_guard<std::mutex> lock(mu_);
  auto running = running_.find(job_id);
  if (running == running_.end()) return;
  for (Rank& rank : running->second.ranks) {
    if (rank.session == session) rank.refused_report = CutError(std::string(why), 256);
  }
}

absl::Status Scheduler::AttemptStarted(int64_t session, const polytrain::v1::JobStarted& started) {
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.count(session) == 0) return UnknownSession();
  const Owned owned = OwnedLocked(session, started.job_id(), started.attempt());
  if (owned.job == nullptr) {
    ReportDroppedLocked(session, "started", started.job_id(), started.attempt());
    return absl::OkStatus();
  }
  owned.job->ranks[owned.rank].Renew(Clock::now() + Lease());
  if (owned.rank != 0) return absl::OkStatus();
  POLYTRAIN_RETURN_IF_ERROR(CheckStepInBudget("started.resumed_from_step",
                                              started.resumed_from_step(), owned.job->job.spec()));
  // Points the earlier attempt stored past this attempt's checkpoint would otherwise sit beside
  // the ones this attempt writes for the same steps, or outlive them.
  POLYTRAIN_RETURN_IF_ERROR(
      store_->DeleteMetricsAfter(started.job_id(), started.resumed_from_step()));
  owned.job->metric_bytes = -1;  // counted again at its next batch
  absl::StatusOr<Job> stored = store_->GetJob(started.job_id());
  if (!stored.ok()) return stored.status();
  stored->set_resumed_from_step(started.resumed_from_step());
  // The evaluation that scored it went with the steps past the resume; the newest checkpoint
  // up to the resume is scored again (the one resumed from, as a rule).
  if (stored->best_checkpoint().step() > started.resumed_from_step()) {
    stored->clear_best_checkpoint();
    const std::optional<int64_t> newest = CheckpointStep(CheckpointName(stored->checkpoint()));
    if (newest.has_value() && *newest <= started.resumed_from_step()) {
      ScoreCheckpointLocked(stored->checkpoint(), *stored);
    }
  }
  return store_->UpdateJob(*stored);
}

absl::Status Scheduler::AttemptFinished(int64_t session,
                                        const polytrain::v1::JobFinished& finished) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.count(session) == 0) return UnknownSession();
  const Owned owned = OwnedLocked(session, finished.job_id(), finished.attempt());
  if (owned.job == nullptr) {  // an attempt it was told to stop has ended, or a stale report
    if (StoppedLocked(session, finished.job_id())) {
      ScheduleLocked();
    } else {
      ReportDroppedLocked(session, "finished", finished.job_id(), finished.attempt());
    }
    return absl::OkStatus();
  }
  if (finished.paused() && !owned.job->job.has_search()) {  // only a trial stops at a rung
    return absl::InvalidArgumentError(
        absl::StrCat("finished.paused: job ", finished.job_id(),
                     " is not a loss-search trial, so it has no "
                     "rung to pause at; report its end without paused"));
  }
  POLYTRAIN_RETURN_IF_ERROR(
      CheckStepInBudget("finished.steps", finished.steps(), owned.job->job.spec()));
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
  // Its worker is going (a drain, or an exit to end a stuck attempt): nothing more is placed
  // on it, whichever attempt this report is about (a stopped rank's too), until its stream ends.
  // (`released` alone is no such word: a worker lets go of an attempt whose lease lapsed, and
  // that report may come again on a new session of a worker that stays.)
  const Owned owned = OwnedLocked(session, failed.job_id(), failed.attempt());
  // Refused before anything changes.
  if (owned.job != nullptr) {
    POLYTRAIN_RETURN_IF_ERROR(
        CheckStepInBudget("failed.steps", failed.steps(), owned.job->job.spec()));
  }
  if (failed.worker_exits()) workers_[session].draining = true;
  if (owned.job == nullptr) {  // an attempt it was told to stop has ended, or a stale report
    if (StoppedLocked(session, failed.job_id())) {
      NoteLateRankLocked(session, failed);
      ScheduleLocked();
    } else {
      ReportDroppedLocked(session, "failed", failed.job_id(), failed.attempt());
    }
    return absl::OkStatus();
  }
  RunningJob* job = owned.job;
  // A job never ends with no reason at all (a real worker always sends one; probe CK).
  const std::string error = failed.error().empty()
                                ? absl::StrCat("worker ", job->ranks[owned.rank].worker,
                                               " reported the attempt failed without saying why")
                                : CutError(failed.error());
  job->ranks[owned.rank].done = true;              // it stopped; the others are told to
  if (job->timed_out && !job->cancel_requested) {  // stopped for its time limit, or failed then
    POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(failed.job_id(), polytrain::v1::JOB_STATE_FAILED,
                                              TimeLimitError(*job), nullptr));
    ScheduleLocked();
    return absl::OkStatus();
  }
  // Cancelled only when a cancel was asked: a worker's "cancelled" for a job nobody cancelled
  // is not a user's cancel. The attempt ended without its own error: queued again, as a lost
  // attempt is (it counts against spec.max_attempts).
  const bool cancelled = job->cancel_requested;
  if (failed.cancelled() && !cancelled && !failed.released()) {
    (void)RequeueLocked(
        failed.job_id(),
        absl::StrCat("worker ", job->ranks[owned.rank].worker, " ended attempt ", job->attempt,
                     " as cancelled, though no cancel was asked: ", error),
        /*retry_if_refused=*/true);
    ScheduleLocked();
    return absl::OkStatus();
  }
  if (!cancelled && failed.released()) {  // given back: elsewhere, at once
    // Only a stopping worker's give-back is free (it gets nothing more); one that stays counts
    // against max_attempts, as the lapse of the lease it let go would, so a worker that keeps
    // giving a job back cannot keep it queued for ever (probe CK).
    job->given_back = failed.worker_exits();
    if (!failed.worker_exits()) workers_[session].gave_back.insert(failed.job_id());
    (void)RequeueLocked(
        failed.job_id(),
        failed.worker_exits()
            ? absl::StrCat("worker ", job->ranks[owned.rank].worker, " shut down during attempt ",
                           job->attempt, " and gave the job back")
            : absl::StrCat("worker ", job->ranks[owned.rank].worker, " gave attempt ", job->attempt,
                           " back", failed.error().empty() ? "" : absl::StrCat(": ", error)),
        /*retry_if_refused=*/true);
    ScheduleLocked();
    return absl::OkStatus();
  }
  if (!cancelled && failed.gang_lost() && job->ranks.size() > 1) {
    // The rank that reports first is usually a survivor: the ranks whose workers are gone are
    // named first, since they are what broke the gang.
    // A worker killed may not have been seen gone yet (its stream's end and this report race):
    // then the peers not seen gone are named, one of which broke the gang.
    // At most a few of each are named (a gang has up to 64 ranks; the error is on every line).
    constexpr size_t kNamed = 4;
    std::vector<std::string> gone_ranks, connected_ranks;
    for (size_t rank = 0; rank < job->ranks.size(); ++rank) {
      if (static_cast<int>(rank) == owned.rank) continue;
      (job->ranks[rank].session >= 0 ? connected_ranks : gone_ranks)
          .push_back(absl::StrCat("rank ", rank, " on worker ", job->ranks[rank].worker));
    }
    const std::string gone = ShortList(gone_ranks, kNamed);
    const std::string connected = ShortList(connected_ranks, kNamed);
    (void)RequeueLocked(
        failed.job_id(),
        absl::StrCat(
            gone, gone.empty() ? "" : " disconnected; ", "rank ", owned.rank, " on worker ",
            job->ranks[owned.rank].worker, " lost its gang (attempt ", job->attempt, ")",
            gone.empty() ? absl::StrCat(", ", connected, " not seen gone (yet)") : "", ": ", error),
        /*retry_if_refused=*/true);
    ScheduleLocked();
    return absl::OkStatus();
  }
  const std::string prefix =
      job->ranks.size() > 1 && !cancelled ? absl::StrCat("rank ", owned.rank, ": ") : "";
  POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(
      failed.job_id(),
      cancelled ? polytrain::v1::JOB_STATE_CANCELLED : polytrain::v1::JOB_STATE_FAILED,
      cancelled ? "cancelled while running" : prefix + error, nullptr,
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
  if (owned.job == nullptr) {
    ReportDroppedLocked(session, "rendezvous", ready.job_id(), ready.attempt());
    return absl::OkStatus();
  }
  if (owned.job->ranks.size() == 1) {  // never sent by a real worker either
    return absl::InvalidArgumentError(
        absl::StrCat("rendezvous: job ", ready.job_id(),
                     " is not data-parallel (spec.replicas 1): it has no rendezvous to say"));
  }
  if (owned.rank != 0) {  // never sent by a real worker: refused where an operator sees it
    return absl::InvalidArgumentError(absl::StrCat(
        "rendezvous: only rank 0 of a data-parallel attempt says where it listens; this worker "
        "holds rank ",
        owned.rank, " of job ", ready.job_id(), " attempt ", ready.attempt()));
  }
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
