#include "server/sweep_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "api/job_spec.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "api/loss_search.h"
#include "loss/core/describe.h"
#include "server/job_comparison.h"
#include "server/job_watchers.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::Sweep;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void FillRungs(const polytrain::v1::SubmitSweepRequest& request, const std::vector<Job>& jobs,
               const std::string& metric, Sweep* sweep) {
  const std::vector<int64_t> resources = RungResources(request);
  const bool lower = LowerIsBetter(metric);
  for (size_t k = 0; k < resources.size(); ++k) {
    Sweep::Rung& rung = *sweep->add_rungs();
    rung.set_rung(static_cast<int32_t>(k));
    rung.set_resource(resources[k]);
    rung.set_best_value(kNaN);
    for (const Job& job : jobs) {
      if (!job.has_search() || job.search().rerun()) continue;
      const TrialStanding standing = Standing(job, metric);
      const size_t finished = standing.rung_values.size();
      const bool active = job.state() == polytrain::v1::JOB_STATE_QUEUED ||
                          job.state() == polytrain::v1::JOB_STATE_RUNNING;
      if (finished > k) {
        rung.set_reported(rung.reported() + 1);
        const double v = standing.rung_values[k];
        if (RanksBefore(v, rung.best_value(), lower)) {
          rung.set_best_value(v);
          rung.set_best_job_id(job.id());
        }
      }
      if (job.search().rung() > static_cast<int>(k)) rung.set_promoted(rung.promoted() + 1);
      if (job.state() == polytrain::v1::JOB_STATE_PAUSED && finished == k + 1) {
        rung.set_paused(rung.paused() + 1);
      }
      if (active && job.search().rung() == static_cast<int>(k)) {
        rung.set_active(rung.active() + 1);
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<Job>> SweepJobs(JobStore& store, const Sweep& record) {
  JobFilter filter;
  filter.labels = {{kSweepLabel, record.id()}};
  // A label is the submitter's to set: another user's jobs labelled with this sweep are not its.
  filter.owner = record.owner();
  filter.page_size = kMaxSweepJobs;
  absl::StatusOr<JobPage> page = store.ListJobs(filter);
  if (!page.ok()) return page.status();
  return std::vector<Job>(page->jobs.rbegin(), page->jobs.rend());
}

TrialStanding Standing(const Job& job, const std::string& metric) {
  TrialStanding standing;
  standing.state = job.state();
  standing.rung_values.assign(job.search().rung_values().begin(), job.search().rung_values().end());
  // Cancelled between rungs, it finished the rung it paused at (its final metrics are that
  // rung's); cancelled while it ran one, it did not.
  const bool at_rung_end =
      job.state() == polytrain::v1::JOB_STATE_PAUSED ||
      job.state() == polytrain::v1::JOB_STATE_STOPPED ||
      job.state() == polytrain::v1::JOB_STATE_SUCCEEDED ||
      (job.state() == polytrain::v1::JOB_STATE_CANCELLED &&
       (job.error() == kCancelledWhilePaused || job.error() == kCancelledAtRungEnd));
  if (at_rung_end && standing.rung_values.size() == static_cast<size_t>(job.search().rung())) {
    auto value = job.final_metrics().find(metric);
    standing.rung_values.push_back(value == job.final_metrics().end() ? kNaN : value->second);
  }
  return standing;
}

std::string SearchBaselineName(const polytrain::v1::SubmitSweepRequest& request) {
  loss::LossConfig config;
  if (!request.has_search() ||
      !ValidateTrainingLoss(SearchBaseline(request), "baseline", &config).ok()) {
    return "";
  }
  return loss::ShortName(config);
}

polytrain::v1::LossSpec SearchBaseline(const polytrain::v1::SubmitSweepRequest& request) {
  if (request.search().has_baseline()) return request.search().baseline();
  polytrain::v1::LossSpec baseline =
      request.losses_size() > 0 ? request.losses(0) : polytrain::v1::LossSpec();
  baseline.mutable_cross_entropy();
  return baseline;
}

namespace {

absl::StatusOr<Sweep> Report(const Sweep& record, const std::vector<Job>& jobs,
                             const MetricHistory* history) {
  Sweep sweep = record;
  const polytrain::v1::SubmitSweepRequest& request = record.request();
  const bool halving =
      SearchStrategy(request) == polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING;
  const std::string metric = SearchMetric(request);
  sweep.set_metric(metric);
  bool all_ended = !jobs.empty();
  for (const Job& job : jobs) {
    Sweep::Trial& trial = *sweep.add_trials();
    trial.set_job_id(job.id());
    trial.set_loss_name(job.loss_name());
    trial.set_state(job.state());
    trial.set_trial(job.search().trial());
    trial.set_rung(job.search().rung());
    trial.set_rerun(job.search().rerun());
    trial.set_seed(job.spec().seed());
    trial.set_steps(job.steps());
    if (job.has_search() && !job.search().rerun()) {
      for (double v : Standing(job, metric).rung_values) trial.add_rung_values(v);
    } else if (!job.has_search()) {  // a grid's or a random search's run: its final value
      auto value = job.final_metrics().find(metric);
      if (value != job.final_metrics().end()) trial.add_rung_values(value->second);
    }
    sweep.set_total_steps(sweep.total_steps() + job.steps());
    sweep.set_jobs(sweep.jobs() + 1);
    if (IsFinalState(job.state())) sweep.set_ended_jobs(sweep.ended_jobs() + 1);
    all_ended = all_ended && IsFinalState(job.state());
  }
  if (halving) FillRungs(request, jobs, metric, &sweep);
  // A grid or random search is done when its jobs are (unless cancelled); a search's state is the
  // controller's.
  if (!halving && all_ended && record.state() == Sweep::SWEEP_STATE_RUNNING) {
    sweep.set_state(Sweep::SWEEP_STATE_DONE);
  }

  // A search is tested against its baseline loss (cross-entropy unless set), never against
  // whichever configuration it happened to draw first: without a run of the baseline (a random
  // search, or top_k 0) its ranking has no p-values. A grid's is CompareJobs' (ce, else its
  // first loss: the user's own list).
  const bool searched = request.has_search();
  std::string baseline = SearchBaselineName(request);
  bool has_baseline = false;
  for (const Job& job : jobs) has_baseline = has_baseline || job.loss_name() == baseline;
  if (!has_baseline) baseline.clear();
  bool untested = searched && !has_baseline;
  ComparisonBuilder builder(metric, 0);
  for (const Job& job : jobs) {
    if (history == nullptr) {
      builder.Add(job, {});
      continue;
    }
    absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> points = (*history)(job.id());
    if (!points.ok()) return points.status();
    builder.Add(job, *points);
  }
  absl::StatusOr<polytrain::v1::CompareJobsResponse> comparison =
      std::move(builder).Build(baseline);
  if (comparison.ok()) {
    // A search whose baseline runs all failed (diverged, cancelled) has nothing to test against:
    // said, not a column of blank p-values under "vs ce".
    if (searched && has_baseline) {
      bool baseline_succeeded = false;
      for (const auto& row : comparison->losses()) {
        baseline_succeeded = baseline_succeeded || (row.baseline() && row.runs() > 0);
      }
      bool baseline_running = false;
      for (const Job& job : jobs) {
        baseline_running =
            baseline_running || (job.loss_name() == baseline && !IsFinalState(job.state()));
      }
      if (!baseline_succeeded) {
        untested = true;
        sweep.set_ranking_note(absl::StrCat("no p-values: no run of the baseline loss ", baseline,
                                            " succeeded at the full budget",
                                            baseline_running ? " yet" : ""));
      }
    }
    sweep.set_baseline_loss(untested ? "" : comparison->baseline_loss());
    std::vector<polytrain::v1::CompareJobsResponse::LossRow> rows;
    for (auto row : comparison->losses()) {
      if (row.runs() == 0) continue;
      if (untested) {
        row.set_baseline(false);
        row.set_p_value(kNaN);
      }
      rows.push_back(std::move(row));
    }
    const bool lower = LowerIsBetter(metric);
    // A halving search that re-ran its best top_k with several seeds names its winner among
    // them and the baseline: a trial that reached the full budget but was no finalist (one
    // seed) ranks after them, never first on one lucky seed.
    std::set<std::string> rerun;
    if (halving && request.search().top_k() > 0 && request.seeds() > 1) {
      for (const Job& job : jobs) {
        if (job.search().rerun()) rerun.insert(job.loss_name());
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
      const bool a_rerun = rerun.count(a.loss_name()) != 0;
      const bool b_rerun = rerun.count(b.loss_name()) != 0;
      if (a_rerun != b_rerun) return a_rerun;
      return RanksBefore(a.mean(), b.mean(), lower);
    });
    for (auto& row : rows) *sweep.add_ranking() = std::move(row);
    if (!rows.empty()) sweep.set_best_loss(sweep.ranking(0).loss_name());
  }
  bool any_ended = false;
  for (const Job& job : jobs) any_ended = any_ended || IsFinalState(job.state());
  if (sweep.ranking_size() == 0 && any_ended) {
    const bool ended = sweep.state() == polytrain::v1::Sweep::SWEEP_STATE_DONE ||
                       sweep.state() == polytrain::v1::Sweep::SWEEP_STATE_CANCELLED;
    sweep.set_ranking_note(!comparison.ok() ? std::string(comparison.status().message())
                           : ended          ? "no run succeeded at the full budget"
                                            : "no run succeeded at the full budget yet");
  }
  return sweep;
}

}  // namespace

absl::StatusOr<Sweep> BuildSweepReport(const Sweep& record, const std::vector<Job>& jobs,
                                       const MetricHistory& history) {
  return Report(record, jobs, &history);
}

Sweep BuildSweepReport(const Sweep& record, const std::vector<Job>& jobs) {
  return *Report(record, jobs, nullptr);  // nothing to read: never an error
}

}  // namespace polytrain
