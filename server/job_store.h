// Where the coordinator keeps jobs and their metrics. An interface, so that several
// coordinators can later share one PostgreSQL queue; SQLite (sqlite_job_store.h) is the
// embedded default.
#ifndef POLYTRAIN_SERVER_JOB_STORE_H_
#define POLYTRAIN_SERVER_JOB_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "polytrain/v1/coordinator.pb.h"
#include "polytrain/v1/job_record.pb.h"
#include "polytrain/v1/metrics.pb.h"

namespace polytrain {

struct JobFilter {
  std::vector<polytrain::v1::JobState> states;  // empty: any
  std::map<std::string, std::string> labels;    // every pair must match
  std::optional<std::string> owner;             // unset: anyone's
  int page_size = 100;
  std::string page_token;  // opaque, from JobPage::next_page_token
  // A page ends early (with a next_page_token) before its stored jobs pass this many bytes, so
  // an answer fits in a gRPC message however large the specs; it holds at least one job. 0: no
  // bound.
  int64_t max_bytes = 0;
};

// How many artifact records there are and the sum of their size_bytes.
struct ArtifactTotals {
  int64_t records = 0;
  int64_t bytes = 0;
};

struct ArtifactPage {
  std::vector<polytrain::v1::Artifact> artifacts;  // newest first; active_jobs not filled in
  std::string next_page_token;                     // empty on the last page
};

struct SweepFilter {
  std::vector<polytrain::v1::Sweep::State> states;  // empty: any
  std::optional<std::string> owner;                 // unset: anyone's
  int page_size = 100;
  std::string page_token;  // opaque, from SweepPage::next_page_token
  int64_t max_bytes = 0;   // as JobFilter's
};

struct SweepPage {
  std::vector<polytrain::v1::Sweep> sweeps;  // records, newest first
  std::string next_page_token;               // empty on the last page
};

struct JobPage {
  std::vector<polytrain::v1::Job> jobs;  // newest first
  std::string next_page_token;           // empty on the last page
};

// A metric point's place in a job's history, which is ordered by step, then kind (a replayed
// point with the step and kind of a stored one replaces it).
struct MetricKey {
  int64_t step = 0;
  int32_t kind = 0;
};

// What CreateJobs stores or checks with the jobs, in their transaction.
struct CreateJobsOptions {
  // The sweep's record (id, owner, request, state; create_time is set there), stored unless one
  // of that id exists (a retried request).
  const polytrain::v1::Sweep* sweep = nullptr;
  // RESOURCE_EXHAUSTED and nothing stored when the new jobs would give their owner (every job
  // of one call has the same) more than this many jobs queued, running or paused, with the jobs
  // its running searches will queue later (their pending jobs); a call that stores nothing new
  // (every job a retry) is never refused for it.
  std::optional<int64_t> owner_unended_limit;
  // The jobs `sweep` (a search) will queue later, its re-runs: stored as its pending jobs and
  // counted with the new ones.
  int64_t later_jobs = 0;
  // The search whose pending jobs these are (its re-runs, queued now): its pending count is
  // cleared with them, so that they never count twice against its owner's limit, nor go on
  // counting after a crash. Not with `sweep` (a new search's pending jobs are `later_jobs`).
  std::string pending_of_sweep;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Stores new jobs (the caller fills everything but id and create_time) in one transaction:
  // all of them, or on an error none, with what `options` adds (see CreateJobsOptions). A job
  // whose non-empty client_request_id its owner already used is not stored again: the existing
  // job comes back in its place, (*created)[i] false.
  virtual absl::StatusOr<std::vector<polytrain::v1::Job>> CreateJobs(
      std::vector<polytrain::v1::Job> jobs, std::vector<bool>* created,
      const CreateJobsOptions& options = {}) = 0;
  // What CreateJobs would do with `job`'s client_request_id, storing nothing: the job its owner
  // stored under it (a retry), none, or ALREADY_EXISTS when that job has another spec.
  virtual absl::StatusOr<std::optional<polytrain::v1::Job>> RetriedJob(
      const polytrain::v1::Job& job) = 0;
  // What CreateJobs would answer with `owner_unended_limit` = `limit` for `added` new jobs of
  // `owner` and `later_jobs` to queue later, storing nothing: RESOURCE_EXHAUSTED as it words
  // it, else OK (a dry run's check).
  virtual absl::Status CheckUnendedJobs(const std::string& owner, int64_t added, int64_t later_jobs,
                                        int64_t limit) = 0;
  // CreateJobs of one job.
  absl::StatusOr<polytrain::v1::Job> CreateJob(polytrain::v1::Job job, bool* created) {
    std::vector<bool> flags;
    absl::StatusOr<std::vector<polytrain::v1::Job>> stored = CreateJobs({std::move(job)}, &flags);
    if (!stored.ok()) return stored.status();
    *created = flags[0];
    return std::move(stored->front());
  }
  // NOT_FOUND for an unknown id.
  virtual absl::StatusOr<polytrain::v1::Job> GetJob(const std::string& id) = 0;
  // Replaces a stored job (state, attempts, times, result). NOT_FOUND for an unknown id.
  virtual absl::Status UpdateJob(const polytrain::v1::Job& job) = 0;
  virtual absl::StatusOr<JobPage> ListJobs(const JobFilter& filter) = 0;
  // Every job in one of `states`, oldest first (the scheduler's view after a restart).
  virtual absl::StatusOr<std::vector<polytrain::v1::Job>> JobsInStates(
      const std::vector<polytrain::v1::JobState>& states) = 0;
  // The ids of the jobs in a final state whose end_time is before `cutoff_ms` (milliseconds
  // since the epoch), the longest ended first (retention).
  virtual absl::StatusOr<std::vector<std::string>> JobsEndedBefore(int64_t cutoff_ms) = 0;

  // How many jobs are in each state (states with none are absent).
  virtual absl::StatusOr<std::map<polytrain::v1::JobState, int64_t>> CountJobsByState() = 0;
  // Whether one of `owner`'s jobs labelled key=value is queued, running or paused (read from the
  // label index and the state column: no job record is parsed).
  virtual absl::StatusOr<bool> HasUnendedJobLabelled(const std::string& owner,
                                                     const std::string& key,
                                                     const std::string& value) = 0;
  // How many of `owner`'s jobs are labelled key=value, and how many of those ended (as above).
  virtual absl::StatusOr<std::pair<int64_t, int64_t>> CountJobsLabelled(
      const std::string& owner, const std::string& key, const std::string& value) = 0;

  // Adds metric points; a point with the kind and step of a stored one replaces it, so a
  // replayed batch is never counted twice.
  virtual absl::Status AddMetrics(const std::string& job_id,
                                  const std::vector<polytrain::v1::MetricPoint>& points) = 0;
  // The bytes of the job's stored metric points (their serialized messages): what the per-job
  // bound (kMaxMetricBytesPerJob) counts.
  virtual absl::StatusOr<int64_t> MetricBytes(const std::string& job_id) = 0;
  // Deletes an ended job for good: its record, labels, metric points and artifact references,
  // in one transaction. Returns how many metric points went; NOT_FOUND for an unknown id.
  virtual absl::StatusOr<int64_t> DeleteJob(const std::string& id) = 0;
  // Deletes the job's points with a step past `step` (those of an attempt that did not finish,
  // beyond the checkpoint the next attempt resumes from).
  virtual absl::Status DeleteMetricsAfter(const std::string& job_id, int64_t step) = 0;
  // Oldest first.
  virtual absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> GetMetrics(
      const std::string& job_id) = 0;
  // At most `count` (>= 2) points spread evenly over the history, oldest first: of its n points,
  // those at k * (n - 1) / (count - 1) for k = 0 .. count - 1 (the first and the newest
  // included); every point when n <= count. Only those are parsed (a long history's million
  // points are read by SQLite, not decoded).
  virtual absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> GetMetricsSpread(
      const std::string& job_id, int64_t count) = 0;
  // Its points of one kind, oldest first: only those are parsed.
  virtual absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> GetMetricsOfKind(
      const std::string& job_id, polytrain::v1::MetricPoint::Kind kind) = 0;
  // The newest point's place in the history (none: no points).
  virtual absl::StatusOr<std::optional<MetricKey>> NewestMetricKey(const std::string& job_id) = 0;
  // A page of the history, oldest first: at most `limit` points (-1: no limit) after `after`
  // (from the first when absent) and at or before `through`.
  virtual absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> GetMetricsBetween(
      const std::string& job_id, const std::optional<MetricKey>& after, const MetricKey& through,
      int limit) = 0;

  // --- Sweeps: their requests and states (their jobs carry the label sweep=<id>). ---
  // The stored record (id, owner, create_time, request, state). NOT_FOUND for an unknown id.
  virtual absl::StatusOr<polytrain::v1::Sweep> GetSweep(const std::string& id) = 0;
  // A cancelled sweep keeps its state (cancelling is final; setting another is a no-op).
  virtual absl::Status SetSweepState(const std::string& id, polytrain::v1::Sweep::State state) = 0;
  // Every sweep in `state`, oldest first.
  virtual absl::StatusOr<std::vector<polytrain::v1::Sweep>> SweepsInState(
      polytrain::v1::Sweep::State state) = 0;
  // Stored records, newest first, filtered and paged.
  virtual absl::StatusOr<SweepPage> ListSweeps(const SweepFilter& filter) = 0;
  // Deletes the record (not its jobs). NOT_FOUND for an unknown id.
  virtual absl::Status DeleteSweep(const std::string& id) = 0;
  // Marks a sweep whose deletion begins, before its jobs go (NOT_FOUND for an unknown id).
  virtual absl::Status MarkSweepDeleting(const std::string& id) = 0;
  // The sweeps marked so, oldest first: a coordinator finishes at start what a stop cut short.
  virtual absl::StatusOr<std::vector<polytrain::v1::Sweep>> SweepsBeingDeleted() = 0;
  // Whether the sweep is marked so; NOT_FOUND when its record is gone (deleted) or never was.
  // Read after a sweep's jobs, either says they may be only part of it.
  virtual absl::StatusOr<bool> SweepBeingDeleted(const std::string& id) = 0;

  // --- Users' artifacts: one record per (id, owner); the files are in the ArtifactStore. ---
  // Stores `record` (id, name, size, owner; create_time is set here) unless its owner already
  // has a record of that id, which then comes back unchanged.
  virtual absl::StatusOr<polytrain::v1::Artifact> PutArtifact(polytrain::v1::Artifact record) = 0;
  // `owner`'s record of `id` (unset: the oldest record of anyone's). NOT_FOUND when none.
  virtual absl::StatusOr<polytrain::v1::Artifact> FindArtifact(
      const std::string& id, const std::optional<std::string>& owner) = 0;
  // `owner`'s records (unset: everyone's), newest first.
  virtual absl::StatusOr<ArtifactPage> ListArtifacts(const std::optional<std::string>& owner,
                                                     int page_size,
                                                     const std::string& page_token) = 0;
  // Deletes `owner`'s record of `id` (unset: every record of it) and returns what went.
  virtual absl::StatusOr<std::vector<polytrain::v1::Artifact>> DeleteArtifact(
      const std::string& id, const std::optional<std::string>& owner) = 0;
  // `owner`'s records (unset: everyone's): how many, and their bytes.
  virtual absl::StatusOr<ArtifactTotals> TotalArtifacts(
      const std::optional<std::string>& owner) = 0;
  // How many records of `id` there are, anyone's.
  virtual absl::StatusOr<int64_t> CountArtifactRecords(const std::string& id) = 0;
  // How many queued or running jobs (of `owner`, when set) name the artifact in their spec.
  virtual absl::StatusOr<int64_t> CountActiveJobsNaming(
      const std::string& id, const std::optional<std::string>& owner) = 0;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_JOB_STORE_H_
