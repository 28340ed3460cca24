// CompareJobs' answer from jobs and their metric histories: per-job rows, per-loss statistics
// across seeds (run_statistics.h) and downsampled curves.
#ifndef POLYTRAIN_SERVER_JOB_COMPARISON_H_
#define POLYTRAIN_SERVER_JOB_COMPARISON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

struct JobWithMetrics {
  polytrain::v1::Job job;
  std::vector<polytrain::v1::MetricPoint> points;  // oldest first
};

// `metric` and `baseline_loss` as in CompareJobsRequest (already defaulted by the caller or
// empty); INVALID_ARGUMENT when baseline_loss names no job's loss.
absl::StatusOr<polytrain::v1::CompareJobsResponse> BuildComparison(
    const std::vector<JobWithMetrics>& jobs, std::string metric, std::string baseline_loss,
    int curve_points);

// RESOURCE_EXHAUSTED when `response` is over `limit` bytes, naming what to change: curve_points
// (with the most that fits) when the curves make the difference, else job_ids. Checked before
// sending, rather than failing in gRPC's send with a message about bytes.
absl::Status CheckComparisonFits(const polytrain::v1::CompareJobsResponse& response, int64_t limit);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_JOB_COMPARISON_H_
