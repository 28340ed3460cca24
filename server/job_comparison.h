// CompareJobs' answer from jobs and their metric histories: per-job rows, per-loss statistics
// across seeds (run_statistics.h) and downsampled curves.
#ifndef POLYTRAIN_SERVER_JOB_COMPARISON_H_
#define POLYTRAIN_SERVER_JOB_COMPARISON_H_

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

// Builds the answer one job at a time, so that only one job's metric history is held at once:
// each Add keeps what the answer needs of it (its row, its downsampled curves, its last and best
// values) and the caller frees the points after.
class ComparisonBuilder {
 public:
  // `metric`, `group_by` as in CompareJobsRequest (empty: eval_accuracy; pooled by loss alone);
  // `curve_points` 0 means 200.
  ComparisonBuilder(std::string metric, int curve_points, std::string group_by = "");

  // `points` are the job's metric history, oldest first (empty for none).
  void Add(const polytrain::v1::Job& job, const std::vector<polytrain::v1::MetricPoint>& points);

  // The answer over every job added; INVALID_ARGUMENT when some job reports metrics but none
  // the asked one, or when `baseline_loss` (empty: ce if present, else the first loss) names no
  // job's loss.
  absl::StatusOr<polytrain::v1::CompareJobsResponse> Build(std::string baseline_loss) &&;

  // The group_by label's value of `job` ("" without the label, or with no group_by).
  std::string GroupOf(const polytrain::v1::Job& job) const;

 private:
  using RowKey = std::pair<std::string, std::string>;  // the group_by label's value, the loss

  polytrain::v1::CompareJobsResponse response_;
  bool lower_better_;
  size_t curve_points_;
  std::vector<std::string> loss_order_, group_order_;  // each as first met
  std::set<RowKey> rows_;
  std::map<RowKey, std::vector<double>> finals_, bests_, eces_;
  std::set<std::string> reported_;  // every metric some job has a value of
};

// RESOURCE_EXHAUSTED when `response` is over `limit` bytes, naming what to change: curve_points
// (with the most that fits) when the curves make the difference, else job_ids. Checked before
// sending, rather than failing in gRPC's send with a message about bytes.
absl::Status CheckComparisonFits(const polytrain::v1::CompareJobsResponse& response, int64_t limit);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_JOB_COMPARISON_H_
