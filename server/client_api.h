// The Coordinator service's requests, each carried out for a caller: validated first (api/),
// then handed to the part that owns it: submissions, cancellations and watches to the Scheduler,
// sweeps through their expansion (sweep_expansion.h) to the Scheduler, reads to JobQueries,
// users' artifacts to the ArtifactCatalog (which also checks the artifacts a submission names).
// The gRPC handlers (coordinator_service_impl.h) are one call into this each.
#ifndef POLYTRAIN_SERVER_CLIENT_API_H_
#define POLYTRAIN_SERVER_CLIENT_API_H_

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "api/limits.h"
#include "polytrain/v1/coordinator.pb.h"
#include "server/artifact_catalog.h"
#include "server/artifact_store.h"
#include "server/caller.h"
#include "server/job_queries.h"
#include "server/scheduler.h"
#include "server/search_controller.h"

namespace polytrain {

// What callers with a client token may ask for (an admin token, or no --tokens, may ask for
// anything the API allows).
struct ClientPolicy {
  // The highest spec.priority a client may submit; above it, PERMISSION_DENIED.
  int max_client_priority = kMaxPriority;
  // How many jobs one client may have queued, running or paused at once; a submit that would go
  // past it is RESOURCE_EXHAUSTED, nothing stored.
  // The default lets a client fill ten full sweeps (kMaxSweepJobs) ahead of the workers.
  int64_t max_unended_jobs = 10 * kMaxSweepJobs;
};

class ClientApi {
 public:
  // All must outlive this; `artifacts` and `files` may be null (no artifact store: jobs naming an
  // artifact and artifact requests are refused, and jobs have no checkpoints there).
  ClientApi(Scheduler* scheduler, JobStore* store, JobQueries* queries, SearchController* sweeps,
            ArtifactCatalog* artifacts, ClientPolicy policy = {}, ArtifactStore* files = nullptr)
      : scheduler_(scheduler),
        store_(store),
        queries_(queries),
        sweeps_(sweeps),
        artifacts_(artifacts),
        files_(files),
        policy_(policy) {}

  // PERMISSION_DENIED when a client names another's job; INVALID_ARGUMENT naming the field.
  absl::StatusOr<polytrain::v1::Job> SubmitJob(const polytrain::v1::SubmitJobRequest& request,
                                               const Caller& caller);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> SubmitSweep(
      const polytrain::v1::SubmitSweepRequest& request, const Caller& caller);
  absl::StatusOr<polytrain::v1::Sweep> GetSweep(const polytrain::v1::GetSweepRequest& request,
                                                const Caller& caller);
  // FAILED_PRECONDITION for a sweep that is done; PERMISSION_DENIED for another's.
  absl::StatusOr<polytrain::v1::Sweep> CancelSweep(const polytrain::v1::CancelSweepRequest& request,
                                                   const Caller& caller);
  // Sweep records, newest first (a client's own only).
  absl::StatusOr<polytrain::v1::ListSweepsResponse> ListSweeps(
      const polytrain::v1::ListSweepsRequest& request, const Caller& caller);
  // A sweep that ended, with its jobs (Coordinator.DeleteSweep).
  absl::StatusOr<polytrain::v1::DeleteSweepResponse> DeleteSweep(
      const polytrain::v1::DeleteSweepRequest& request, const Caller& caller);
  absl::StatusOr<polytrain::v1::Job> GetJob(const polytrain::v1::GetJobRequest& request,
                                            const Caller& caller);
  absl::StatusOr<polytrain::v1::ListJobsResponse> ListJobs(
      const polytrain::v1::ListJobsRequest& request, const Caller& caller);
  // An ended job's record, history and checkpoint files (Coordinator.DeleteJob).
  absl::StatusOr<polytrain::v1::DeleteJobResponse> DeleteJob(
      const polytrain::v1::DeleteJobRequest& request, const Caller& caller);
  absl::StatusOr<polytrain::v1::Job> CancelJob(const polytrain::v1::CancelJobRequest& request,
                                               const Caller& caller);
  // The newest intact stored checkpoint of a job the caller may read (Coordinator.
  // DownloadCheckpoint): NOT_FOUND when it has none stored, DATA_LOSS when none is intact (or
  // its files are gone). `passed_over` gets why each newer one was not (newest first). With
  // request.best, its best checkpoint (Job.best_checkpoint) or why there is none.
  absl::StatusOr<IntactArtifact> StoredCheckpoint(
      const polytrain::v1::DownloadCheckpointRequest& request, const Caller& caller,
      std::vector<std::string>* passed_over);
  absl::StatusOr<polytrain::v1::GetMetricsResponse> GetMetrics(
      const polytrain::v1::GetMetricsRequest& request, const Caller& caller);
  absl::StatusOr<polytrain::v1::CompareJobsResponse> CompareJobs(
      const polytrain::v1::CompareJobsRequest& request, const Caller& caller);
  // Scheduler::Watch for a caller that may see the job.
  absl::StatusOr<WatchStart> Watch(const polytrain::v1::WatchJobRequest& request,
                                   JobWatcher* watcher, const Caller& caller);
  // A page of a watched job's history (WatchStart::history_through bounds it).
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> WatchHistory(
      const std::string& job_id, const std::optional<MetricKey>& after, const MetricKey& through,
      int limit);
  void Unwatch(const std::string& job_id, JobWatcher* watcher);

  // The catalog uploads go to: FAILED_PRECONDITION when there is none.
  absl::StatusOr<ArtifactCatalog*> Artifacts();
  absl::StatusOr<polytrain::v1::ListArtifactsResponse> ListArtifacts(
      const polytrain::v1::ListArtifactsRequest& request, const Caller& caller);
  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> DeleteArtifact(
      const polytrain::v1::DeleteArtifactRequest& request, const Caller& caller);

 private:
  // The job's Job.best_checkpoint, intact (StoredCheckpoint with request.best); `caller` reads
  // the record again where a better one pruned the file meanwhile.
  absl::StatusOr<IntactArtifact> BestCheckpoint(const polytrain::v1::Job& job,
                                                const Caller& caller);
  // Scheduler::Submit (with the sweep's record, if any), once the caller may use every artifact
  // the jobs name (all share `spec`'s). With `validate_only`, the jobs as given once checked,
  // nothing stored.
  absl::StatusOr<std::vector<polytrain::v1::Job>> SubmitChecked(
      const polytrain::v1::JobSpec& spec, absl::string_view spec_path,
      std::vector<polytrain::v1::Job> jobs, const Caller& caller, const polytrain::v1::Sweep* sweep,
      bool validate_only);

  Scheduler* const scheduler_;
  JobStore* const store_;
  JobQueries* const queries_;
  SearchController* const sweeps_;
  ArtifactCatalog* const artifacts_;
  ArtifactStore* const files_;
  const ClientPolicy policy_;
  // One DeleteSweep at a time: two of one sweep split its jobs between them, and each counted
  // only its share (the second one now finds it gone, NOT_FOUND).
  std::mutex sweep_deletion_mu_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_CLIENT_API_H_
