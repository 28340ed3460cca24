// Scheduler, part: ending attempts that are lost. Telling a job's ranks to stop, requeueing a
// lost attempt (or failing the job when it has none left), and the lease loop's look at lapsed
// leases, time limits and requeues the store refused.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/job_spec_defaults.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/timestamps.h"
#include "server/scheduler.h"
#include "spdlog/spdlog.h"

namespace polytrain {

using polytrain::v1::Job;

namespace {

// Adds the attempt that ends to the job's record of ended attempts, keeping the newest
// kMaxEndedAttempts: an operator reads why each attempt ended after the job's own end has
// replaced `error`.
void RecordEndedAttempt(const Job& assigned, int64_t newest_step, bool given_back,
                        const std::string& reason, Job* job) {
  polytrain::v1::EndedAttempt* ended = job->add_ended_attempts();
  ended->set_attempt(assigned.attempts());
  if (assigned.rank_workers_size() > 0) {
    *ended->mutable_workers() = assigned.rank_workers();
  } else {
    ended->add_workers(assigned.worker());
  }
  *ended->mutable_start_time() = assigned.start_time();
  *ended->mutable_end_time() = NowTimestamp();
  ended->set_resumed_from_step(job->resumed_from_step());
  // Lost before its first point, it still got as far as its checkpoint.
  ended->set_steps(std::max(newest_step, job->resumed_from_step()));
  ended->set_reason(reason);
  ended->set_given_back(given_back);
  auto* attempts = job->mutable_ended_attempts();
  if (attempts->size() > kMaxEndedAttempts) {
    attempts->DeleteSubrange(0, attempts->size() - kMaxEndedAttempts);
  }
}

// Whether `reason` (a lost gang's, AttemptFailed's words) names `rank_named` among the ranks
// "..., <rank> on worker <name>, ... not seen gone (yet)".
bool NamedNotSeenGone(const std::string& reason, const std::string& rank_named) {
  const size_t end = reason.find(" not seen gone (yet)");
  const size_t begin = end == std::string::npos ? end : reason.rfind("), ", end);
  if (begin == std::string::npos) return false;
  absl::string_view listed(reason.data() + begin + 3, end - begin - 3);
  if (const size_t more = listed.find(" and "); more != absl::string_view::npos) {
    listed = listed.substr(0, more);
  }
  for (absl::string_view item : absl::StrSplit(listed, ", ")) {
    if (item == rank_named) return true;
  }
  return false;
}

}  // namespace

void Scheduler::NoteLateRankLocked(int64_t session, const polytrain::v1::JobFailed& failed) {
  auto worker = workers_.find(session);
  if (!failed.gang_lost() || failed.error().empty() || worker == workers_.end()) return;
  NoteOnEndedAttemptLocked(failed.job_id(), failed.attempt(), worker->second.hello.name(),
                           " said: ", failed.error());
}

void Scheduler::NoteDisconnectedRankLocked(const std::string& job_id, const std::string& worker) {
  NoteOnEndedAttemptLocked(job_id, /*attempt=*/0, worker, " disconnected", "");
}

void Scheduler::NoteOnEndedAttemptLocked(const std::string& job_id, int32_t attempt,
                                         const std::string& worker_name, const std::string& verb,
                                         const std::string& words) {
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return;
  // The attempt that ended: the newest requeued one, or the job's last when its loss failed it
  // (no attempts left; not a rank's own failure, nor the time limit, whose error stays as it
  // is). A stopped rank may name any attempt; only these take its words.
  polytrain::v1::EndedAttempt* ended =
      job->ended_attempts().empty() ? nullptr : &*job->mutable_ended_attempts()->rbegin();
  const bool lost_for_good = job->state() == polytrain::v1::JOB_STATE_FAILED &&
                             absl::StrContains(job->error(), kNoAttemptsLeft);
  std::vector<std::string> workers;
  std::string* reason = nullptr;
  if (lost_for_good && (attempt == 0 || job->attempts() == attempt)) {
    workers.assign(job->rank_workers().begin(), job->rank_workers().end());
    reason = job->mutable_error();
  } else if (ended != nullptr && (attempt == 0 || ended->attempt() == attempt)) {
    workers.assign(ended->workers().begin(), ended->workers().end());
    reason = ended->mutable_reason();
  }
  if (reason == nullptr || workers.size() < 2) return;
  const auto rank = std::find(workers.begin(), workers.end(), worker_name);
  if (rank == workers.end()) return;
  const std::string rank_named =
      absl::StrCat("rank ", rank - workers.begin(), " on worker ", *rank);
  // Once per rank and kind. A disconnect only where the first report could say no more of that
  // rank than that it was not seen gone (a worker killed, its stream's end racing the report),
  // and not after the rank's own words (its worker restarting later says nothing new); its words
  // after its disconnect (resent once it reconnected) are still the cause.
  const std::string said = absl::StrCat("; then ", rank_named, verb);
  if (absl::StrContains(*reason, said)) return;
  if (words.empty() &&
      (absl::StrContains(*reason, absl::StrCat("; then ", rank_named, " said: ")) ||
       !NamedNotSeenGone(*reason, rank_named))) {
    return;
  }
  // Its words cut to the room an error has left (the first report's words stay whole).
  constexpr size_t kLeastWords = 64;
  const size_t used = reason->size() + said.size() + (words.empty() ? 0 : kCutMark.size());
  if (used + (words.empty() ? 0 : kLeastWords) > kMaxErrorLength) {
    spdlog::info("{}: no room left in the reason an attempt ended with for {}{}{}", job->id(),
                 rank_named, verb, CutError(words));
    return;
  }
  const std::string noted =
      absl::StrCat(*reason, said, words.empty() ? "" : CutError(words, kMaxErrorLength - used));
  if (ended != nullptr && reason == ended->mutable_reason() && job->error() == *reason) {
    job->set_error(noted);
  }
  *reason = noted;
  if (absl::Status stored = store_->UpdateJob(*job); !stored.ok()) {
    spdlog::warn("{}: the store refused a word on how an attempt ended ({}{}): {}", job->id(),
                 rank_named, verb, std::string(stored.message()));
    return;
  }
  watchers_.JobChanged(*job);
}

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

bool Scheduler::RequeueLocked(const std::string& job_id, const std::string& error,
                              bool retry_if_refused) {
  auto running = running_.find(job_id);
  if (running == running_.end()) return true;
  // The store first, memory after: when the store refuses, nothing changes (a job the store
  // calls RUNNING must not be in neither the running set nor the queue). A lapsed lease stays
  // lapsed, so the lease loop sees it again; any other cause is marked for it to retry.
  if (retry_if_refused) running->second.requeue_error = error;
  if (running->second.cancel_requested) {  // cancellation wins over a requeue (and a limit)
    return FinishJobLocked(job_id, polytrain::v1::JOB_STATE_CANCELLED,
                           absl::StrCat("cancelled; ", error), nullptr)
        .ok();
  }
  if (running->second.timed_out) {  // out of time: no other attempt
    return FinishJobLocked(job_id, polytrain::v1::JOB_STATE_FAILED,
                           absl::StrCat(TimeLimitError(running->second), "; then ", error), nullptr)
        .ok();
  }
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return false;
  // A search trial's earlier segments ended well: only this segment's attempts count, and of
  // those not the ones a stopping worker gave back (up to kMaxFreeGiveBacks).
  const bool free_give_back =
      running->second.given_back && job->attempts_given_back() < kMaxFreeGiveBacks;
  if (free_give_back) {
    job->set_attempts_given_back(job->attempts_given_back() + 1);
  } else if (job->attempts() - job->attempts_given_back() -
                 job->search().attempts_before_segment() >=
             MaxAttempts(job->spec())) {
    return FinishJobLocked(job_id, polytrain::v1::JOB_STATE_FAILED,
                           absl::StrCat(error, kNoAttemptsLeft, MaxAttempts(job->spec())), nullptr)
        .ok();
  }
  job->set_state(polytrain::v1::JOB_STATE_QUEUED);
  job->set_error(error);
  RecordEndedAttempt(running->second.job, running->second.newest_step, free_give_back, error,
                     &*job);
  job->set_resumed_from_step(0);  // the record keeps it; the next attempt says its own
  if (absl::Status stored = store_->UpdateJob(*job); !stored.ok()) {
    spdlog::warn("{}: the store refused its requeue ({}); the lease loop tries again", job_id,
                 std::string(stored.message()));
    return false;
  }
  spdlog::warn("{} ({}): attempt {} ended, queued again: {}", job_id, job->spec().name(),
               job->attempts(), error);
  StopRanksLocked(job_id, running->second);  // the attempt is over on every rank
  running_.erase(running);
  queue_.Push(*job, Clock::now());
  CountTransitionLocked(polytrain::v1::JOB_STATE_RUNNING, polytrain::v1::JOB_STATE_QUEUED);
  if (options_.metrics != nullptr) options_.metrics->AttemptStopped(job_id);
  watchers_.JobChanged(*job);
  return true;
}

void Scheduler::ExpireLeases(Clock::time_point now) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  const std::vector<std::string> let_go = EnforceTimeLimitsLocked(now);
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
  // After the store refused a write, the lease loop leaves it alone for a while: each refused
  // write waits out SQLite's busy timeout under mu_, and heartbeats wait on mu_ meanwhile.
  if (now < store_backoff_until_) return;
  bool refused = false;
  for (const std::string& job_id : let_go) {
    if (!LetGoOfTimedOutLocked(job_id, now)) {
      refused = true;
      break;
    }
  }
  // Requeues the store refused before, other than lapsed leases (seen again below).
  std::vector<std::pair<std::string, std::string>> retried;
  for (const auto& [job_id, job] : running_) {
    if (!job.requeue_error.empty()) retried.emplace_back(job_id, job.requeue_error);
  }
  for (const auto& [job_id, error] : retried) {
    if (refused) break;
    if (!RequeueLocked(job_id, error, /*retry_if_refused=*/true)) {
      refused = true;
      break;
    }
  }
  for (const auto& [job_id, rank] : lapsed) {
    if (refused) break;
    auto pending = running_.find(job_id);
    if (pending == running_.end() || !pending->second.requeue_error.empty()) continue;  // above
    const RunningJob& running = pending->second;
    const Rank& lost = running.ranks[rank];
    auto worker = workers_.find(lost.session);
    const std::string where = worker != workers_.end() ? worker->second.hello.name() : lost.worker;
    // Cancellation wins over a requeue. Either way, every rank still out there (one alive but
    // silent about the job included) is told to stop.
    if (running.cancel_requested) {
      refused = !FinishJobLocked(job_id, polytrain::v1::JOB_STATE_CANCELLED,
                                 "cancelled; its worker stopped answering", nullptr)
                     .ok();
      continue;
    }
    const std::string of_rank =
        running.ranks.size() > 1 ? absl::StrCat(" of rank ", rank) : std::string();
    const std::string error = absl::StrCat(
        "lease", of_rank, " expired on worker ", where, " (attempt ", running.attempt, ")",
        lost.refused_report.empty()
            ? ""
            : absl::StrCat("; its reports of the job were refused: ", lost.refused_report));
    refused = !RequeueLocked(job_id, error, /*retry_if_refused=*/false);
  }
  // From when the refusal came: a refused write took SQLite's busy timeout.
  if (refused) store_backoff_until_ = std::max(now, Clock::now()) + kStoreBackoff;
  // A placement the store refused before is tried again (no event may come: the queue and the
  // free workers wait for nothing else), as the refused requeues are; a placement refused here
  // sets the backoff itself (PlacementFailedLocked).
  if (!refused &&
      (!lapsed.empty() || !retried.empty() || !let_go.empty() || !placement_failure_.empty())) {
    ScheduleLocked();
  }
}

}  // namespace polytrain
