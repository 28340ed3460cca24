// The read-only requests of the Coordinator service: GetJob, ListJobs, GetMetrics and
// CompareJobs, answered from the JobStore for a caller (a client sees only its own jobs). They
// take no scheduling lock: a query never waits for the scheduler, nor the scheduler for it.
// Requests arrive validated (api/client_requests.h).
#ifndef POLYTRAIN_SERVER_JOB_QUERIES_H_
#define POLYTRAIN_SERVER_JOB_QUERIES_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polytrain/v1/coordinator.pb.h"
#include "server/caller.h"
#include "server/job_store.h"

namespace polytrain {

class JobQueries {
 public:
  // `store` must outlive this.
  explicit JobQueries(JobStore* store) : store_(store) {}

  // The job `field` of the request names, if `caller` may see it: NOT_FOUND ("<field>: no job
  // <id>") or PERMISSION_DENIED otherwise.
  absl::StatusOr<polytrain::v1::Job> AccessibleJob(absl::string_view field, const std::string& id,
                                                   const Caller& caller) const;

  absl::StatusOr<polytrain::v1::Job> GetJob(const polytrain::v1::GetJobRequest& request,
                                            const Caller& caller) const;
  absl::StatusOr<polytrain::v1::ListJobsResponse> ListJobs(
      const polytrain::v1::ListJobsRequest& request, const Caller& caller) const;
  absl::StatusOr<polytrain::v1::GetMetricsResponse> GetMetrics(
      const polytrain::v1::GetMetricsRequest& request, const Caller& caller) const;
  // A page of a job's history (JobStore::GetMetricsBetween); the caller was checked before.
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> MetricsBetween(
      const std::string& job_id, const std::optional<MetricKey>& after, const MetricKey& through,
      int limit) const {
    return store_->GetMetricsBetween(job_id, after, through, limit);
  }
  // The stored record of the sweep `id`, if `caller` may see it: NOT_FOUND ("<field>: no sweep
  // <id>") or PERMISSION_DENIED otherwise.
  absl::StatusOr<polytrain::v1::Sweep> AccessibleSweep(const std::string& id, const Caller& caller,
                                                       absl::string_view field = "id") const;
  // Records as stored (ListSweeps): a client's own only.
  absl::StatusOr<polytrain::v1::ListSweepsResponse> ListSweeps(
      const polytrain::v1::ListSweepsRequest& request, const Caller& caller) const;
  // NOT_FOUND ("id: no sweep <id>"), or PERMISSION_DENIED for a client's other than its own.
  absl::StatusOr<polytrain::v1::Sweep> GetSweep(const polytrain::v1::GetSweepRequest& request,
                                                const Caller& caller) const;
  absl::StatusOr<polytrain::v1::CompareJobsResponse> CompareJobs(
      const polytrain::v1::CompareJobsRequest& request, const Caller& caller) const;
  // What SubmitJob's store would do with the job's client_request_id, storing nothing
  // (JobStore::RetriedJob).
  absl::StatusOr<std::optional<polytrain::v1::Job>> RetriedJob(
      const polytrain::v1::Job& job) const {
    return store_->RetriedJob(job);
  }
  // What SubmitJob's store would answer for `added` new jobs of `owner` under its limit of
  // unended jobs, storing nothing (JobStore::CheckUnendedJobs).
  absl::Status CheckUnendedJobs(const std::string& owner, int64_t added, int64_t later_jobs,
                                int64_t limit) const {
    return store_->CheckUnendedJobs(owner, added, later_jobs, limit);
  }
  // A SubmitSweep retried (the same client_request_id, so the same sweep id as `record`): the
  // stored sweep's jobs as the answer, or nullopt when there is no such sweep yet. A retry
  // whose request differs from the stored one is refused (ALREADY_EXISTS naming
  // client_request_id) rather than merged into it; one whose sweep is being deleted is ABORTED
  // (sent again once it is gone, it makes a new sweep).
  absl::StatusOr<std::optional<polytrain::v1::SubmitSweepResponse>> RetriedSweep(
      const polytrain::v1::Sweep& record) const;

 private:
  // Every job of sweep `id` that CompareJobs compares (named `field` in a refusal), oldest first,
  // with the search's own baseline loss (empty for a grid).
  struct SweepToCompare {
    std::vector<polytrain::v1::Job> jobs;
    std::string search_baseline;
  };
  absl::StatusOr<SweepToCompare> JobsOfSweep(absl::string_view field, const std::string& id,
                                             const Caller& caller) const;
  // The job's newest point alone (none: no points), read by its key.
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> NewestPoint(
      const std::string& job_id) const;

  JobStore* const store_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_JOB_QUERIES_H_
