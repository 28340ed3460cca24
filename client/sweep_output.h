// How polyctl shows a sweep (GetSweep): what it searches, successive halving's rungs, its trials
// and the ranking of its losses. Printing only; no coordinator calls.
#ifndef POLYTRAIN_CLIENT_SWEEP_OUTPUT_H_
#define POLYTRAIN_CLIENT_SWEEP_OUTPUT_H_

#include <string>

#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

// The sweep as text: a header with its search, the rung table, the trials (at most
// `max_trials`, best first; all with a negative value) and the ranking.
std::string SweepText(const polytrain::v1::Sweep& sweep, int max_trials = -1);
// "running", "done" or "cancelled".
std::string SweepStateName(polytrain::v1::Sweep::State state);
// ListSweeps' records as a table: id, state, strategy, losses, seeds, jobs ended of all, the base
// job's name, owner and when each was submitted (UTC).
std::string SweepTable(const polytrain::v1::ListSweepsResponse& sweeps);

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_SWEEP_OUTPUT_H_
