// One validator per request of the Coordinator service (coordinator.proto). Each returns OK or
// INVALID_ARGUMENT naming the first offending field ("seeds: must be in [0, 100], got 101");
// the coordinator calls them before anything else, so every handler sees a checked request.
// No LibTorch, no gRPC: polyctl and tests use them too.
#ifndef POLYTRAIN_API_CLIENT_REQUESTS_H_
#define POLYTRAIN_API_CLIENT_REQUESTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "loss/core/loss_config.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

// A job or sweep id as a request names it: set, at most kMaxJobIdLength characters of
// [A-Za-z0-9._-].
absl::Status ValidateJobId(absl::string_view field, absl::string_view id);
// A sweep's id: "sweep-" and 12 lowercase hex digits, as SubmitSweep gives it; one of another
// form can name no sweep, and is refused rather than looked up.
absl::Status ValidateSweepId(absl::string_view field, absl::string_view id);

// Optional; printable ASCII, at most `max_length` characters (the store keys idempotency by
// owner and request id joined by a control character, which therefore cannot appear in either).
absl::Status ValidateRequestId(absl::string_view field, absl::string_view id, int max_length);

// What idempotency is keyed by: "<owner>\x1f<request id>", or the request id alone for no owner.
// A request id holds no control character (ValidateRequestId), so two owners' keys never meet.
std::string RequestKey(absl::string_view owner, absl::string_view request_id);

// The spec as a training job and the request id; the canonical loss goes to `loss` when given.
absl::Status ValidateSubmitJobRequest(const polytrain::v1::SubmitJobRequest& request,
                                      loss::LossConfig* loss = nullptr);

// A checked sweep: the request with `losses` holding the configurations it runs (drawn, for a
// search with ranges), and each one's canonical form, losses[i] at [i].
struct SweepPlan {
  polytrain::v1::SubmitSweepRequest request;
  std::vector<loss::LossConfig> losses;
};

// The base (everything but its loss), the search (api/loss_search.h), each loss once, the seeds
// and the size of the sweep, and the names the jobs will get: "<base.name>-<loss>-s<seed>" must
// fit kMaxNameLength.
absl::StatusOr<SweepPlan> ValidateSubmitSweepRequest(
    const polytrain::v1::SubmitSweepRequest& request);

// The jobs a sweep of `configurations` losses (given or drawn) runs: configurations x seeds, or
// for successive halving one trial each, top_k x seeds re-runs and seeds baseline runs.
int64_t SweepJobCount(const polytrain::v1::SubmitSweepRequest& request, int configurations);

absl::Status ValidateGetJobRequest(const polytrain::v1::GetJobRequest& request);
absl::Status ValidateCancelJobRequest(const polytrain::v1::CancelJobRequest& request);
absl::Status ValidateDeleteJobRequest(const polytrain::v1::DeleteJobRequest& request);
absl::Status ValidateDownloadCheckpointRequest(
    const polytrain::v1::DownloadCheckpointRequest& request);
absl::Status ValidateWatchJobRequest(const polytrain::v1::WatchJobRequest& request);
absl::Status ValidateListJobsRequest(const polytrain::v1::ListJobsRequest& request);
absl::Status ValidateGetMetricsRequest(const polytrain::v1::GetMetricsRequest& request);
absl::Status ValidateCompareJobsRequest(const polytrain::v1::CompareJobsRequest& request);
absl::Status ValidateGetSweepRequest(const polytrain::v1::GetSweepRequest& request);
absl::Status ValidateCancelSweepRequest(const polytrain::v1::CancelSweepRequest& request);
absl::Status ValidateListSweepsRequest(const polytrain::v1::ListSweepsRequest& request);
absl::Status ValidateDeleteSweepRequest(const polytrain::v1::DeleteSweepRequest& request);

// The name a sweep gives the job of one loss and seed: "<base>-<loss part>-s<seed>", where the
// loss part is the short name with every run of other characters than [A-Za-z0-9._-] made one
// '-' ("poly1(e=2)" -> "poly1-e-2"). The same part is the job's loss label.
std::string SweepLossPart(const std::string& loss_short_name);
std::string SweepJobName(const std::string& base_name, const std::string& loss_part, uint64_t seed);

}  // namespace polytrain

#endif  // POLYTRAIN_API_CLIENT_REQUESTS_H_
