#include "server/search_controller.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/job_spec.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "api/loss_search.h"
#include "common/status_macros.h"
#include "server/job_watchers.h"
#include "server/successive_halving.h"
#include "server/sweep_expansion.h"
#include "server/sweep_report.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::Sweep;

// "1 epoch", "3 epochs", "1 step", ...
std::string Amount(int64_t count, const polytrain::v1::SubmitSweepRequest& request) {
  const bool steps = request.search().unit() == polytrain::v1::LossSearch::RESOURCE_STEPS;
  return absl::StrCat(count, " ", steps ? "step" : "epoch", count == 1 ? "" : "s");
}

// The re-runs of the best `top_k` configurations and the baseline, at the full budget.
absl::StatusOr<std::vector<Job>> Reruns(const Sweep& record, const std::vector<Job>& trials,
                                        const std::vector<TrialStanding>& standings) {
  const polytrain::v1::SubmitSweepRequest& request = record.request();
  const int seeds = std::max(request.seeds(), 1);
  const bool lower = LowerIsBetter(SearchMetric(request));
  std::vector<Job> jobs;
  int finalists = 0;
  for (size_t i : RankTrials(standings, lower)) {
    if (finalists == request.search().top_k()) break;
    const polytrain::v1::JobState state = trials[i].state();
    if (state == polytrain::v1::JOB_STATE_CANCELLED || state == polytrain::v1::JOB_STATE_FAILED ||
        standings[i].rung_values.empty() || std::isnan(standings[i].rung_values.back())) {
      continue;  // a cancelled or failed trial is no finalist, whatever it reached before
    }
    ++finalists;
    const Job& trial = trials[i];
    // A finalist that trained the full budget is its own first seed.
    const int first = trial.state() == polytrain::v1::JOB_STATE_SUCCEEDED ? 1 : 0;
    loss::LossConfig config;
    POLYTRAIN_RETURN_IF_ERROR(ValidateTrainingLoss(trial.spec().loss(), "loss", &config));
    for (int k = first; k < seeds; ++k) {
      Job job = SweepJob(request, trial.spec().loss(), config,
                         absl::StrCat("r", trial.search().trial()), k, record.id(), record.owner());
      job.mutable_search()->set_trial(trial.search().trial());
      job.mutable_search()->set_rerun(true);
      jobs.push_back(std::move(job));
    }
  }
  if (finalists == 0) return jobs;  // every trial was cancelled or failed: nothing to re-run
  // A loss and seed trained at the full budget already (a trial, or a finalist's re-run above)
  // is not run again as the baseline's (a grid point equal to it): its row would count the same
  // run twice.
  std::set<std::pair<std::string, uint64_t>> full_runs;
  for (const Job& trial : trials) {
    if (trial.state() == polytrain::v1::JOB_STATE_SUCCEEDED) {
      full_runs.emplace(trial.loss_name(), trial.spec().seed());
    }
  }
  for (const Job& job : jobs) full_runs.emplace(job.loss_name(), job.spec().seed());
  const polytrain::v1::LossSpec baseline = SearchBaseline(request);
  loss::LossConfig config;
  POLYTRAIN_RETURN_IF_ERROR(ValidateTrainingLoss(baseline, "baseline", &config));
  for (int k = 0; k < seeds; ++k) {
    Job job = SweepJob(request, baseline, config, "b", k, record.id(), record.owner());
    if (full_runs.count({job.loss_name(), job.spec().seed()}) != 0) continue;
    job.mutable_search()->set_trial(-1);
    job.mutable_search()->set_rerun(true);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace

SearchController::SearchController(JobStore* store, Scheduler* scheduler, int max_promoted_priority)
    : store_(store), scheduler_(scheduler), max_promoted_priority_(max_promoted_priority) {
  scheduler_->SetSweepListener([this](const std::string& sweep_id) { SweepChanged(sweep_id); });
}

SearchController::~SearchController() { scheduler_->SetSweepListener(nullptr); }

void SearchController::Recover() {
  // A cancel the coordinator did not finish (it stopped between the sweep's state and its jobs).
  // Only a sweep with a job not yet ended has one: those are found from the unended jobs' sweep
  // labels, so a start does not read the jobs of every sweep ever cancelled.
  absl::StatusOr<std::vector<Job>> unended =
      store_->JobsInStates({polytrain::v1::JOB_STATE_QUEUED, polytrain::v1::JOB_STATE_RUNNING,
                            polytrain::v1::JOB_STATE_PAUSED});
  absl::StatusOr<std::vector<Sweep>> cancelled =
      store_->SweepsInState(Sweep::SWEEP_STATE_CANCELLED);
  if (!cancelled.ok()) {
    spdlog::error("sweeps: cannot list cancelled sweeps: {}", cancelled.status().ToString());
  }
  // Without the list of unended jobs, every cancelled sweep is read (slower, but no cancel is
  // left unfinished).
  if (!unended.ok()) {
    spdlog::error("sweeps: cannot list unended jobs: {}; reading every cancelled sweep",
                  unended.status().ToString());
  }
  std::set<std::string> with_unended_jobs;
  for (const Job& job : unended.ok() ? *unended : std::vector<Job>()) {
    auto sweep = job.spec().labels().find(kSweepLabel);
    if (sweep != job.spec().labels().end()) with_unended_jobs.insert(sweep->second);
  }
  for (const Sweep& sweep : cancelled.ok() ? *cancelled : std::vector<Sweep>()) {
    if (unended.ok() && with_unended_jobs.count(sweep.id()) == 0) continue;
    if (absl::StatusOr<int> n = CancelUnendedJobs(sweep.id()); !n.ok()) {
      spdlog::error("sweep {}: cancelling its jobs: {}", sweep.id(), n.status().ToString());
    } else if (*n > 0) {
      spdlog::info("sweep {}: cancelled {} more of its jobs", sweep.id(), *n);
    }
  }
  absl::StatusOr<std::vector<Sweep>> running = store_->SweepsInState(Sweep::SWEEP_STATE_RUNNING);
  if (!running.ok()) {
    spdlog::error("searches: cannot list running sweeps: {}", running.status().ToString());
    return;
  }
  // A grid's or random search's jobs may have ended while the coordinator was down (or before it
  // marked such sweeps done at all).
  for (const Sweep& sweep : *running) SweepChanged(sweep.id());
}

void SearchController::SweepChanged(const std::string& sweep_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.insert(sweep_id);
    if (deciding_) return;  // the deciding thread takes it next
    deciding_ = true;
  }
  while (true) {
    std::string next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_.empty()) {
        deciding_ = false;
        return;
      }
      next = *pending_.begin();
      pending_.erase(pending_.begin());
    }
    if (absl::Status s = Advance(next); absl::IsNotFound(s)) {
      spdlog::info("sweep {}: deleted, nothing to decide", next);
    } else if (!s.ok()) {
      // Tried again when the scheduler next tells (within its lease loop's 200 ms): a search
      // whose trials are all paused hears of nothing else.
      spdlog::error("search {}: {}; deciding again shortly", next, s.ToString());
      scheduler_->SweepNeedsDecision(next);
    }
    Publish(next);
  }
}

void SearchController::Publish(const std::string& sweep_id) {
  CoordinatorMetrics* metrics = scheduler_->options().metrics;
  if (metrics == nullptr) return;
  absl::StatusOr<Sweep> record = store_->GetSweep(sweep_id);
  if (!record.ok() ||
      SearchStrategy(record->request()) != polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING) {
    return;
  }
  absl::StatusOr<std::vector<Job>> jobs = SweepJobs(*store_, *record);
  if (jobs.ok()) metrics->SearchChanged(BuildSweepReport(*record, *jobs));
}

absl::Status SearchController::Advance(const std::string& sweep_id) {
  absl::StatusOr<Sweep> record = store_->GetSweep(sweep_id);
  if (!record.ok()) return record.status();
  const polytrain::v1::SubmitSweepRequest& request = record->request();
  if (record->state() != Sweep::SWEEP_STATE_RUNNING) return absl::OkStatus();
  // A grid or a random search submitted all its jobs: it is done when they have ended (so that
  // ListSweeps filters it by its state, and its trials may be deleted). Asked of the index as
  // each job ends: reading every job of a 1000-job grid at each end would parse a million.
  if (SearchStrategy(request) != polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING) {
    absl::StatusOr<bool> unended =
        store_->HasUnendedJobLabelled(record->owner(), kSweepLabel, sweep_id);
    if (!unended.ok()) return unended.status();
    if (*unended) return absl::OkStatus();
    spdlog::info("sweep {}: done", sweep_id);
    return store_->SetSweepState(sweep_id, Sweep::SWEEP_STATE_DONE);
  }
  absl::StatusOr<std::vector<Job>> jobs = SweepJobs(*store_, *record);
  if (!jobs.ok()) return jobs.status();
  const std::string metric = SearchMetric(request);
  const bool lower = LowerIsBetter(metric);
  const std::vector<int64_t> rungs = RungResources(request);
  const int eta = ReductionFactor(request.search());

  std::vector<Job> trials;
  std::vector<Job> reruns;
  for (const Job& job : *jobs) {
    if (!job.has_search()) continue;
    (job.search().rerun() ? reruns : trials).push_back(job);
  }
  std::vector<TrialStanding> standings;
  for (const Job& trial : trials) standings.push_back(Standing(trial, metric));

  const HalvingDecision decision =
      DecideHalving(standings, static_cast<int>(rungs.size()), eta, lower);
  for (size_t i : decision.promote) {
    const double value = standings[i].rung_values.back();
    const int next = static_cast<int>(standings[i].rung_values.size());
    absl::Status resumed = scheduler_->ResumeTrial(trials[i].id(), [&](Job* job) {
      job->mutable_search()->add_rung_values(value);
      SetTrialRung(request, next, job);
      // Promoted trials run before the search's new ones (as ASHA prefers promotions), but never
      // above what the operator lets a client ask for, nor below the search's own priority. A
      // search above that limit is an admin's (a client's is refused there): it rises freely.
      const int base = request.base().priority();
      const int cap = base > max_promoted_priority_ ? kMaxPriority : max_promoted_priority_;
      job->mutable_spec()->set_priority(std::max(base, std::min({kMaxPriority, cap, base + next})));
    });
    if (!resumed.ok() && !absl::IsFailedPrecondition(resumed)) return resumed;
    spdlog::info("search {}: {} goes up to rung {} ({}) with {} {}", sweep_id, trials[i].id(), next,
                 Amount(rungs[next], request), metric, value);
  }
  if (!decision.finished) return absl::OkStatus();

  for (size_t i : decision.stop) {
    const size_t k = standings[i].rung_values.size() - 1;
    size_t reported = 0;
    for (const TrialStanding& s : standings) reported += s.rung_values.size() > k ? 1 : 0;
    const std::string reason = absl::StrFormat(
        "stopped by search %s at rung %d (%s): %s %.6g is not in the top 1/%d of the %d "
        "trials that reached it",
        sweep_id, k, Amount(rungs[k], request), metric, standings[i].rung_values.back(), eta,
        reported);
    absl::Status stopped = scheduler_->StopTrial(trials[i].id(), reason);
    if (!stopped.ok() && !absl::IsFailedPrecondition(stopped)) return stopped;
  }

  if (request.search().top_k() > 0 && reruns.empty()) {
    absl::StatusOr<std::vector<Job>> more = Reruns(*record, trials, standings);
    if (!more.ok()) return more.status();
    if (more->empty()) return store_->SetSweepState(sweep_id, Sweep::SWEEP_STATE_DONE);
    spdlog::info("search {}: halving done; {} re-runs of the best {} and the baseline", sweep_id,
                 more->size(), request.search().top_k());
    // Queued, they count as its owner's jobs, no longer as the search's pending ones.
    CreateJobsOptions queued;
    queued.pending_of_sweep = sweep_id;
    absl::StatusOr<std::vector<Job>> submitted = scheduler_->Submit(*std::move(more), queued);
    if (!submitted.ok()) return submitted.status();
    // A cancel that listed the sweep's jobs before these were stored has not cancelled them, and
    // a sweep deleted meanwhile (cancelled, every job it had ended) has no record to find them
    // by: they are cancelled here, by id.
    absl::StatusOr<Sweep> now = store_->GetSweep(sweep_id);
    if (now.ok() && now->state() != Sweep::SWEEP_STATE_CANCELLED) return absl::OkStatus();
    if (!now.ok() && !absl::IsNotFound(now.status())) return now.status();
    for (const Job& job : *submitted) {
      absl::StatusOr<Job> cancelled = scheduler_->Cancel(job.id());
      if (!cancelled.ok() && !absl::IsFailedPrecondition(cancelled.status())) {
        return cancelled.status();
      }
    }
    return absl::OkStatus();
  }
  for (const Job& job : reruns) {
    if (!IsFinalState(job.state())) return absl::OkStatus();
  }
  spdlog::info("search {}: done", sweep_id);
  return store_->SetSweepState(sweep_id, Sweep::SWEEP_STATE_DONE);
}

absl::StatusOr<int> SearchController::Cancel(const Sweep& record) {
  // The state first: from now on no decision promotes, stops or submits for it, and the jobs a
  // decision already under way submits are cancelled by it (Advance) or below.
  POLYTRAIN_RETURN_IF_ERROR(store_->SetSweepState(record.id(), Sweep::SWEEP_STATE_CANCELLED));
  absl::StatusOr<int> cancelled = CancelUnendedJobs(record.id());
  if (cancelled.ok())
    spdlog::info("sweep {}: cancelled, with {} of its jobs", record.id(), *cancelled);
  return cancelled;
}

absl::StatusOr<int> SearchController::CancelUnendedJobs(const std::string& sweep_id) {
  absl::StatusOr<Sweep> record = store_->GetSweep(sweep_id);
  if (!record.ok()) return record.status();
  absl::StatusOr<std::vector<Job>> jobs = SweepJobs(*store_, *record);
  if (!jobs.ok()) return jobs.status();
  int cancelled = 0;
  for (const Job& job : *jobs) {
    if (IsFinalState(job.state())) continue;
    absl::StatusOr<Job> ended = scheduler_->Cancel(job.id());
    if (ended.ok()) {
      ++cancelled;
    } else if (!absl::IsFailedPrecondition(ended.status())) {  // not one that ended meanwhile
      return ended.status();
    }
  }
  return cancelled;
}

}  // namespace polytrain
