#include "client/sweep_output.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "api/job_states.h"
#include "api/loss_search.h"
#include "cli/text_table.h"
#include "client/job_output.h"
#include "common/timestamps.h"

namespace polytrain {
namespace {

using polytrain::v1::LossSearch;
using polytrain::v1::Sweep;

std::string Count(int64_t n) {
  std::string digits = absl::StrCat(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string StrategyName(const polytrain::v1::SubmitSweepRequest& request) {
  switch (SearchStrategy(request)) {
    case LossSearch::STRATEGY_RANDOM:
      return "random search";
    case LossSearch::STRATEGY_SUCCESSIVE_HALVING:
      return "successive halving";
    default:
      return "grid";
  }
}

std::string SearchLine(const Sweep& sweep) {
  const polytrain::v1::SubmitSweepRequest& request = sweep.request();
  const LossSearch& search = request.search();
  std::vector<std::string> parts;
  if (search.ranges_size() > 0) {
    std::vector<std::string> ranges;
    for (const auto& r : search.ranges()) {
      ranges.push_back(absl::StrFormat("%s in [%g, %g]%s", r.field(), r.min(), r.max(),
                                       r.log_scale() ? " (log)" : ""));
    }
    parts.push_back(absl::StrFormat("%d configurations drawn from %s (draw seed %d)",
                                    request.losses_size(), absl::StrJoin(ranges, ", "),
                                    search.draw_seed()));
  } else {
    parts.push_back(absl::StrCat(request.losses_size(), " losses"));
  }
  if (SearchStrategy(request) == LossSearch::STRATEGY_SUCCESSIVE_HALVING) {
    std::vector<std::string> rungs;
    for (int64_t r : RungResources(request)) rungs.push_back(absl::StrCat(r));
    parts.push_back(absl::StrFormat(
        "rungs of %s %s, eta %d", absl::StrJoin(rungs, ", "),
        search.unit() == LossSearch::RESOURCE_STEPS ? "steps" : "epochs", ReductionFactor(search)));
    if (search.top_k() > 0) {
      parts.push_back(absl::StrFormat("the best %d and the baseline re-run with %d seeds",
                                      search.top_k(), std::max(request.seeds(), 1)));
    }
  } else {
    const int seeds = std::max(request.seeds(), 1);
    parts.push_back(absl::StrCat(seeds, seeds == 1 ? " seed each" : " seeds each"));
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace

std::string SweepStateName(Sweep::State state) {
  switch (state) {
    case Sweep::SWEEP_STATE_DONE:
      return "done";
    case Sweep::SWEEP_STATE_CANCELLED:
      return "cancelled";
    case Sweep::SWEEP_STATE_RUNNING:
      return "running";
    default:  // a newer coordinator's: never shown as a known one
      return absl::StrCat("unknown(", state, ")");
  }
}

std::string SweepText(const Sweep& sweep, int max_trials) {
  const bool lower = LowerIsBetter(sweep.metric());
  std::string out =
      absl::StrFormat("%s  %s  %s  (%s, %s is better)\n  %s\n  steps trained: %s\n", sweep.id(),
                      StrategyName(sweep.request()), SweepStateName(sweep.state()), sweep.metric(),
                      lower ? "lower" : "higher", SearchLine(sweep), Count(sweep.total_steps()));
  if (sweep.deleted_jobs() > 0) {
    absl::StrAppendFormat(
        &out, "  deleted: %d of its jobs (the rungs, jobs and ranking below leave %s out)\n",
        sweep.deleted_jobs(), sweep.deleted_jobs() == 1 ? "it" : "them");
  }
  if (sweep.rungs_size() > 0) {
    const std::string unit =
        sweep.request().search().unit() == LossSearch::RESOURCE_STEPS ? "steps" : "epochs";
    TextTable rungs({{"rung", 5},
                     {unit, 7, true},
                     {"reported", 9, true},
                     {"promoted", 9, true},
                     {"paused", 7, true},
                     {"active", 7, true},
                     {"best", 8, false, 2},
                     {"job"}});
    for (const Sweep::Rung& r : sweep.rungs()) {
      rungs.AddRow({absl::StrCat(r.rung()), absl::StrCat(r.resource()), absl::StrCat(r.reported()),
                    absl::StrCat(r.promoted()), absl::StrCat(r.paused()), absl::StrCat(r.active()),
                    Fixed(r.best_value()), r.best_job_id()});
    }
    absl::StrAppend(&out, "\n", rungs.ToString());
  }
  if (max_trials != 0 && sweep.trials_size() > 0) {
    std::vector<const Sweep::Trial*> trials;
    for (const Sweep::Trial& t : sweep.trials()) trials.push_back(&t);
    // Best first: the highest rung finished, then its value; re-runs after the trials.
    auto last = [](const Sweep::Trial* t) {
      return t->rung_values_size() > 0 ? t->rung_values(t->rung_values_size() - 1) : NAN;
    };
    std::stable_sort(trials.begin(), trials.end(), [&](const auto* a, const auto* b) {
      if (a->rerun() != b->rerun()) return !a->rerun();
      if (a->rung_values_size() != b->rung_values_size()) {
        return a->rung_values_size() > b->rung_values_size();
      }
      return RanksBefore(last(a), last(b), lower);
    });
    const size_t shown =
        max_trials < 0 ? trials.size() : std::min(trials.size(), static_cast<size_t>(max_trials));
    TextTable table({{"job", 17},
                     {"loss", 24},
                     {"state", 10},
                     {"seed", 6, true},
                     {"steps", 8, true},
                     {sweep.rungs_size() > 0 ? "metric at each rung" : "final " + sweep.metric(), 0,
                      false, 2}});
    for (size_t i = 0; i < shown; ++i) {
      const Sweep::Trial& t = *trials[i];
      std::vector<std::string> values;
      for (double v : t.rung_values()) values.push_back(Fixed(v));
      // A cancelled sweep's job still running has been told to stop; its worker has yet to say.
      const bool stopping = sweep.state() == Sweep::SWEEP_STATE_CANCELLED &&
                            t.state() == polytrain::v1::JOB_STATE_RUNNING;
      table.AddRow({t.job_id(), t.loss_name(), stopping ? "stopping" : JobStateWord(t.state()),
                    absl::StrCat(t.seed()), absl::StrCat(t.steps()),
                    t.rerun() ? "(re-run)" : absl::StrJoin(values, "  ")});
    }
    absl::StrAppend(&out, "\n", table.ToString());
    if (shown < trials.size()) {
      absl::StrAppendFormat(&out, "... and %d more\n", trials.size() - shown);
    }
  }
  if (sweep.ranking_size() > 0) {
    absl::StrAppendFormat(&out, "\nranking (succeeded runs at the full budget; %s)\n",
                          !sweep.baseline_loss().empty()
                              ? absl::StrCat("p: Welch's t-test vs ", sweep.baseline_loss())
                          : !sweep.ranking_note().empty()
                              ? sweep.ranking_note()
                              : "no p-values: no run of the baseline loss");
    TextTable ranking({{"loss", 28},
                       {"runs", 4, true},
                       {"mean", 8, true},
                       {"95% interval", 19, false, 2},
                       {"p", 9, true}});
    for (const auto& r : sweep.ranking()) {
      const std::string interval =
          std::isnan(r.ci95_low()) ? "-"
                                   : absl::StrFormat("[%.4f, %.4f]", r.ci95_low(), r.ci95_high());
      ranking.AddRow({r.loss_name(), absl::StrCat(r.runs()), Fixed(r.mean()), interval,
                      r.baseline() ? "baseline" : Fixed(r.p_value(), 3)});
    }
    absl::StrAppend(&out, ranking.ToString());
    // A best loss no better than the baseline (equal means, p = 1) is no finding, and one whose
    // mean another loss shares is first only by the ranking's order (probe CO: two random
    // draws scored 236 of 300 each): said so.
    std::vector<std::string> tied;
    for (int i = 1; i < sweep.ranking_size(); ++i) {
      const auto& r = sweep.ranking(i);
      if (r.mean() != sweep.ranking(0).mean()) continue;
      tied.push_back(r.baseline() ? absl::StrCat("the baseline ", r.loss_name()) : r.loss_name());
    }
    const std::string tie =
        tied.empty() ? ""
                     : absl::StrCat(" (tied with ", absl::StrJoin(tied, ", "), ": equal means)");
    absl::StrAppendFormat(&out, "best: %s%s\n", sweep.best_loss(), tie);
  } else if (!sweep.ranking_note().empty()) {
    absl::StrAppendFormat(&out, "\nno ranking: %s\n", sweep.ranking_note());
  }
  return out;
}

std::string SweepTable(const polytrain::v1::ListSweepsResponse& sweeps) {
  TextTable table({{"id", 18},
                   {"state", 9},
                   {"strategy", 18},
                   {"losses", 6, /*right_aligned=*/true},
                   {"seeds", 5, /*right_aligned=*/true},
                   {"ended", 9, /*right_aligned=*/true},
                   {"name", 24},
                   {"owner", 8},
                   {"submitted (UTC)"}});
  for (const Sweep& sweep : sweeps.sweeps()) {
    const polytrain::v1::SubmitSweepRequest& request = sweep.request();
    table.AddRow(
        {sweep.id(), SweepStateName(sweep.state()), StrategyName(request),
         absl::StrCat(request.losses_size()), absl::StrCat(std::max(request.seeds(), 1)),
         absl::StrCat(sweep.ended_jobs(), "/", sweep.jobs(),
                      sweep.deleted_jobs() > 0 ? absl::StrCat(" -", sweep.deleted_jobs()) : ""),
         request.base().name(), sweep.owner().empty() ? "-" : sweep.owner(),
         TimestampText(sweep.create_time())});
  }
  std::string out = table.ToString();
  const bool deleted = std::any_of(sweeps.sweeps().begin(), sweeps.sweeps().end(),
                                   [](const Sweep& sweep) { return sweep.deleted_jobs() > 0; });
  if (deleted) {
    out +=
        "(-N: N of the sweep's jobs were deleted one by one and are left out of its counts; "
        "polyctl get SWEEP says more)\n";
  }
  return out;
}

}  // namespace polytrain
