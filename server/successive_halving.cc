#include "server/successive_halving.h"

#include <algorithm>
#include <cmath>

#include "api/loss_search.h"

namespace polytrain {
namespace {

bool Active(polytrain::v1::JobState state) {
  return state == polytrain::v1::JOB_STATE_QUEUED || state == polytrain::v1::JOB_STATE_RUNNING;
}

// Trials that finished rung k, best first.
std::vector<size_t> RungRanking(const std::vector<TrialStanding>& trials, size_t k,
                                bool lower_is_better) {
  std::vector<size_t> reported;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].rung_values.size() > k) reported.push_back(i);
  }
  std::stable_sort(reported.begin(), reported.end(), [&](size_t a, size_t b) {
    return RanksBefore(trials[a].rung_values[k], trials[b].rung_values[k], lower_is_better);
  });
  return reported;
}

std::vector<size_t> Promotions(const std::vector<TrialStanding>& trials, int rungs, int eta,
                               bool lower_is_better, bool round_up) {
  std::vector<size_t> promote;
  for (int k = 0; k + 1 < rungs; ++k) {
    const std::vector<size_t> ranked = RungRanking(trials, static_cast<size_t>(k), lower_is_better);
    const size_t n = ranked.size();
    const size_t top = round_up ? (n + eta - 1) / eta : n / eta;
    size_t taken = 0;  // places among the top held by trials that went up, or may
    for (size_t r = 0; r < n && taken < top; ++r) {
      const TrialStanding& t = trials[ranked[r]];
      // A trial that went up from this rung and then failed (diverged, say) before the next
      // frees its place: held, every trial that could go on might be stopped with none at the
      // full budget.
      if (t.state == polytrain::v1::JOB_STATE_FAILED &&
          t.rung_values.size() == static_cast<size_t>(k) + 1) {
        continue;
      }
      ++taken;
      if (t.state == polytrain::v1::JOB_STATE_PAUSED &&
          t.rung_values.size() == static_cast<size_t>(k) + 1 && !std::isnan(t.rung_values[k])) {
        promote.push_back(ranked[r]);
      }
    }
  }
  std::sort(promote.begin(), promote.end());
  return promote;
}

}  // namespace

HalvingDecision DecideHalving(const std::vector<TrialStanding>& trials, int rungs, int eta,
                              bool lower_is_better) {
  HalvingDecision decision;
  decision.promote = Promotions(trials, rungs, eta, lower_is_better, /*round_up=*/false);
  if (!decision.promote.empty()) return decision;
  const bool active = std::any_of(trials.begin(), trials.end(),
                                  [](const TrialStanding& t) { return Active(t.state); });
  if (active) return decision;
  decision.promote = Promotions(trials, rungs, eta, lower_is_better, /*round_up=*/true);
  if (!decision.promote.empty()) return decision;
  decision.finished = true;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].state == polytrain::v1::JOB_STATE_PAUSED) decision.stop.push_back(i);
  }
  return decision;
}

std::vector<size_t> RankTrials(const std::vector<TrialStanding>& trials, bool lower_is_better) {
  std::vector<size_t> order(trials.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const size_t ra = trials[a].rung_values.size(), rb = trials[b].rung_values.size();
    if (ra != rb) return ra > rb;
    if (ra == 0) return false;
    return RanksBefore(trials[a].rung_values[ra - 1], trials[b].rung_values[rb - 1],
                       lower_is_better);
  });
  return order;
}

}  // namespace polytrain
