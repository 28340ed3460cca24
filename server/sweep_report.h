// A sweep as GetSweep answers it, computed from its stored record and its jobs: each trial's
// standing, successive halving's rungs, the compute used and the ranking of its losses (with
// CompareJobs' statistics). Also the standing of each trial that the search controller decides
// on, so that both read a trial the same way.
#ifndef POLYTRAIN_SERVER_SWEEP_REPORT_H_
#define POLYTRAIN_SERVER_SWEEP_REPORT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/coordinator.pb.h"
#include "server/job_comparison.h"
#include "server/job_store.h"
#include "server/successive_halving.h"

namespace polytrain {

// Every job of the sweep's owner labelled sweep=<its id>, oldest first (at most kMaxSweepJobs).
absl::StatusOr<std::vector<polytrain::v1::Job>> SweepJobs(JobStore& store,
                                                          const polytrain::v1::Sweep& record);

// A trial's metric at each rung it finished: those recorded when it was promoted, and the one it
// paused, stopped or succeeded at (its final evaluation), NaN where the metric is missing.
TrialStanding Standing(const polytrain::v1::Job& job, const std::string& metric);

// The loss a search tests against: its baseline, or cross-entropy with the first
// configuration's activation, smoothing, weights and reduction.
polytrain::v1::LossSpec SearchBaseline(const polytrain::v1::SubmitSweepRequest& request);
// The short name of a search's baseline loss; "" for a grid (no search) or a baseline that is
// no training loss.
std::string SearchBaselineName(const polytrain::v1::SubmitSweepRequest& request);

// One job's evaluation points, oldest first (JobStore::GetMetricsOfKind; training points, if
// given, are not used).
using MetricHistory =
    std::function<absl::StatusOr<std::vector<polytrain::v1::MetricPoint>>(const std::string&)>;

// `record` (as stored) filled in from its `jobs` and their metric points, which give the
// ranking's mean_best as CompareJobs computes it. The points are read through `history` one job
// at a time and dropped before the next; an error is a history's that could not be read.
absl::StatusOr<polytrain::v1::Sweep> BuildSweepReport(const polytrain::v1::Sweep& record,
                                                      const std::vector<polytrain::v1::Job>& jobs,
                                                      const MetricHistory& history);

// As above without metric points (ranking[].mean_best stays NaN): for the search's gauges, which
// do not show it and are refreshed at every trial's change.
polytrain::v1::Sweep BuildSweepReport(const polytrain::v1::Sweep& record,
                                      const std::vector<polytrain::v1::Job>& jobs);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SWEEP_REPORT_H_
