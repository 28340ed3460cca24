// Asynchronous successive halving (ASHA, Li et al. 2020) as a pure function: given every trial
// of a search as it stands, which paused trials go up a rung now, and whether the search's
// halving is over. The search controller (search_controller.h) applies the decision; keeping it
// pure makes it the same after a restart, and testable rung by rung.
#ifndef POLYTRAIN_SERVER_SUCCESSIVE_HALVING_H_
#define POLYTRAIN_SERVER_SUCCESSIVE_HALVING_H_

#include <cstddef>
#include <string>
#include <vector>

#include "polytrain/v1/job_record.pb.h"

namespace polytrain {

struct TrialStanding {
  polytrain::v1::JobState state = polytrain::v1::JOB_STATE_QUEUED;
  // The metric at the end of each rung it finished, rung 0 first (NaN where it had none).
  std::vector<double> rung_values;
};

struct HalvingDecision {
  // Indices of paused trials to resume, each to the rung after the one it finished.
  std::vector<size_t> promote;
  // Nothing is queued or running and nothing can go up: the paused trials are stopped.
  bool finished = false;
  std::vector<size_t> stop;
};

// `rungs` is the number of rungs (the last one is the full budget); `eta` the reduction factor.
// A trial paused at rung k goes up once it is among the best floor(n_k / eta) of the n_k trials
// that finished rung k so far (ties by index). When nothing is queued or running, ceil(n_k / eta)
// instead, so that the best of every rung goes on and at least one trial reaches the full budget.
// Trials with a NaN value rank last and never go up. A trial that went up from rung k and failed
// before finishing rung k + 1 frees its place among rung k's best for the next one.
HalvingDecision DecideHalving(const std::vector<TrialStanding>& trials, int rungs, int eta,
                              bool lower_is_better);

// Indices of trials best first: by the highest rung finished, then the value there (NaN last),
// then index. What top_k re-runs take from.
std::vector<size_t> RankTrials(const std::vector<TrialStanding>& trials, bool lower_is_better);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SUCCESSIVE_HALVING_H_
