// JobStore in one SQLite file: WAL mode, versioned schema migrations, and two connections each
// behind its own mutex: one that writes, one that reads (WAL lets a reader go on while the
// writer commits, so queries never wait for the scheduler's writes). Jobs are rows (id, state,
// priority, labels for filtering) plus the Job message; metric points are unique per (job, kind,
// step).
#ifndef POLYTRAIN_SERVER_SQLITE_JOB_STORE_H_
#define POLYTRAIN_SERVER_SQLITE_JOB_STORE_H_

#include <memory>
#include <mutex>
#include <string>

#include "server/job_store.h"

struct sqlite3;

namespace polytrain {

class SqliteJobStore : public JobStore {
 public:
  // Opens (creating if needed) the database file and brings its schema to the current version.
  static absl::StatusOr<std::unique_ptr<SqliteJobStore>> Open(const std::string& path);
  ~SqliteJobStore() override;

  // The schema version this build writes; Open() refuses a newer file.
  static int CurrentSchemaVersion();
  // The SQL ListJobs runs for `filter`, its parameters unbound (a test checks its query plan).
  static std::string ListJobsSql(const JobFilter& filter);
  // The SQL that counts an owner's unended jobs for CreateJobs' owner_unended_limit (as above).
  static const char* CountUnendedSql();
  // The SQL JobsEndedBefore runs (as above).
  static const char* JobsEndedBeforeSql();

  absl::StatusOr<std::vector<polytrain::v1::Job>> CreateJobs(
      std::vector<polytrain::v1::Job> jobs, std::vector<bool>* created,
      const CreateJobsOptions& options = {}) override;
  absl::StatusOr<polytrain::v1::Sweep> GetSweep(const std::string& id) override;
  absl::Status SetSweepState(const std::string& id, polytrain::v1::Sweep::State state) override;
  absl::StatusOr<std::vector<polytrain::v1::Sweep>> SweepsInState(
      polytrain::v1::Sweep::State state) override;
  absl::StatusOr<SweepPage> ListSweeps(const SweepFilter& filter) override;
  absl::Status DeleteSweep(const std::string& id) override;
  absl::Status MarkSweepDeleting(const std::string& id) override;
  absl::StatusOr<std::vector<polytrain::v1::Sweep>> SweepsBeingDeleted() override;
  absl::StatusOr<bool> SweepBeingDeleted(const std::string& id) override;
  absl::StatusOr<std::optional<polytrain::v1::Job>> RetriedJob(
      const polytrain::v1::Job& job) override;
  absl::Status CheckUnendedJobs(const std::string& owner, int64_t added, int64_t later_jobs,
                                int64_t limit) override;
  absl::StatusOr<polytrain::v1::Job> GetJob(const std::string& id) override;
  absl::Status UpdateJob(const polytrain::v1::Job& job) override;
  absl::StatusOr<JobPage> ListJobs(const JobFilter& filter) override;
  absl::StatusOr<std::vector<polytrain::v1::Job>> JobsInStates(
      const std::vector<polytrain::v1::JobState>& states) override;
  absl::StatusOr<std::vector<std::string>> JobsEndedBefore(int64_t cutoff_ms) override;
  absl::StatusOr<std::map<polytrain::v1::JobState, int64_t>> CountJobsByState() override;
  absl::StatusOr<bool> HasUnendedJobLabelled(const std::string& owner, const std::string& key,
                                             const std::string& value) override;
  absl::StatusOr<std::pair<int64_t, int64_t>> CountJobsLabelled(const std::string& owner,
                                                                const std::string& key,
                                                                const std::string& value) override;
  absl::Status AddMetrics(const std::string& job_id,
                          const std::vector<polytrain::v1::MetricPoint>& points) override;
  absl::StatusOr<int64_t> DeleteJob(const std::string& id) override;
  absl::Status DeleteMetricsAfter(const std::string& job_id, int64_t step) override;
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> GetMetrics(
      const std::string& job_id) override;
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> GetMetricsSpread(
      const std::string& job_id, int64_t count) override;
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> GetMetricsOfKind(
      const std::string& job_id, polytrain::v1::MetricPoint::Kind kind) override;
  absl::StatusOr<std::optional<MetricKey>> NewestMetricKey(const std::string& job_id) override;
  absl::StatusOr<int64_t> MetricBytes(const std::string& job_id) override;
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> GetMetricsBetween(
      const std::string& job_id, const std::optional<MetricKey>& after, const MetricKey& through,
      int limit) override;
  absl::StatusOr<polytrain::v1::Artifact> PutArtifact(polytrain::v1::Artifact record) override;
  absl::StatusOr<polytrain::v1::Artifact> FindArtifact(
      const std::string& id, const std::optional<std::string>& owner) override;
  absl::StatusOr<ArtifactPage> ListArtifacts(const std::optional<std::string>& owner, int page_size,
                                             const std::string& page_token) override;
  absl::StatusOr<std::vector<polytrain::v1::Artifact>> DeleteArtifact(
      const std::string& id, const std::optional<std::string>& owner) override;
  absl::StatusOr<ArtifactTotals> TotalArtifacts(const std::optional<std::string>& owner) override;
  absl::StatusOr<int64_t> CountArtifactRecords(const std::string& id) override;
  absl::StatusOr<int64_t> CountActiveJobsNaming(const std::string& id,
                                                const std::optional<std::string>& owner) override;

 private:
  // A page token is the seq of the last row of the previous page, in decimal: digits only, at
  // least 1. Anything else (signs, spaces, 0) is no token this store gave.
  static bool ParsePageToken(const std::string& token, int64_t* before);

  struct Connection {
    sqlite3* db = nullptr;
    std::mutex mu;
  };

  SqliteJobStore() = default;
  // FAILED_PRECONDITION for a database of another program (schema version 0 with tables).
  absl::Status CheckIsOurs();
  absl::Status Migrate();
  // `status` of a database SQLite may not write (a read-only file, or a directory where its
  // -wal and -shm files cannot be made) said as such; any other status as it is.
  static absl::Status SaidIfReadOnly(sqlite3* db, const absl::Status& status);
  // Fills jobs.end_ms from the records of the jobs already ended (kJobEndTimeSchemaVersion),
  // inside the migration's transaction.
  static absl::Status FillJobEndTimes(sqlite3* db);
  // Fills artifacts.size_bytes from the records already stored (kArtifactSizeSchemaVersion),
  // inside the migration's transaction.
  static absl::Status FillArtifactSizes(sqlite3* db);
  // jobs.end_ms of `job`: when it ended, for a job in a final state; none before.
  static std::optional<int64_t> EndMillis(const polytrain::v1::Job& job);
  // Inserts `sweep` unless its id is stored, inside the caller's transaction on `db`.
  static absl::Status InsertSweep(sqlite3* db, const polytrain::v1::Sweep& sweep,
                                  int64_t pending_jobs);
  // Sets the pending jobs of sweep `id` to none, inside the caller's transaction on `db`.
  static absl::Status ClearPendingJobs(sqlite3* db, const std::string& id);

  Connection writer_;
  // A second connection to the same file; an in-memory database has one connection for both.
  Connection own_reader_;
  Connection* reader_ = &writer_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SQLITE_JOB_STORE_H_
