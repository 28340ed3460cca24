// Deleting ended jobs: one on request (Coordinator.DeleteJob), or every job that ended more than
// a retention period ago (the coordinator's --delete_ended_jobs_after_days, which also takes the
// records of ended sweeps left without jobs), so that a long-lived coordinator's database and
// artifacts stay bounded.
#ifndef POLYTRAIN_SERVER_JOB_RETENTION_H_
#define POLYTRAIN_SERVER_JOB_RETENTION_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "polytrain/v1/coordinator.pb.h"
#include "server/artifact_store.h"
#include "server/job_store.h"
#include "server/scheduler.h"

namespace polytrain {

// The job's checkpoint files (`files` may be null: no artifact store), then its record and
// history (Scheduler::DeleteEndedJob), once it may be deleted. The files go first: a crash
// between the two leaves a record that a retry deletes, never files no record leads to.
absl::StatusOr<polytrain::v1::DeleteJobResponse> DeleteEndedJob(Scheduler& scheduler,
                                                                ArtifactStore* files,
                                                                const std::string& job_id);

class JobRetention {
 public:
  using Clock = std::chrono::system_clock;

  // Deletes the jobs that ended more than `keep` ago. All must outlive this.
  JobRetention(Scheduler* scheduler, JobStore* store, ArtifactStore* files, Clock::duration keep)
      : scheduler_(scheduler), store_(store), files_(files), keep_(keep) {}
  ~JobRetention() { Stop(); }

  // One pass at `now`: every ended job whose end_time is before now - keep goes (a trial of a
  // search still running waits for a later pass), then the record of every ended sweep
  // submitted before then that has no job left. Returns how many jobs went.
  absl::StatusOr<int64_t> RunOnce(Clock::time_point now);

  // A pass at once, then one every `period`, on a thread of its own until Stop.
  void Start(Clock::duration period);
  void Stop();

 private:
  // The records of ended sweeps submitted before `cutoff_ms` whose jobs are all gone.
  absl::Status DeleteEmptySweeps(int64_t cutoff_ms);

  Scheduler* const scheduler_;
  JobStore* const store_;
  ArtifactStore* const files_;
  const Clock::duration keep_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_JOB_RETENTION_H_
