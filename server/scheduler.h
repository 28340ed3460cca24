// The coordinator's scheduling core: the queue of waiting jobs, the workers connected and their
// free slots, the leases of running jobs, and the watchers of each job. It decides which job
// runs where (priority, then FIFO; a CUDA job only on a GPU worker; a worker's slots), moves
// jobs between states in the JobStore, and requeues a job whose lease lapses (its worker went
// silent) as a new attempt, up to the spec's max_attempts.
//
// Requests reach it checked (api/): the Coordinator service through ClientApi, workers through
// WorkerProtocol. Reads that need no scheduling state (GetJob, ListJobs, GetMetrics,
// CompareJobs) go to the store through JobQueries without taking this lock.
#ifndef POLYTRAIN_SERVER_SCHEDULER_H_
#define POLYTRAIN_SERVER_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/worker.pb.h"
#include "server/coordinator_metrics.h"
#include "server/job_queue.h"
#include "server/job_store.h"
#include "server/job_watchers.h"

namespace polytrain {

// How the scheduler sends to one connected worker. Send must not block or call back.
class WorkerChannel {
 public:
  virtual ~WorkerChannel() = default;
  virtual void Send(const polytrain::v1::CoordinatorMessage& message) = 0;
};

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // A running job's lease lapses this long after its last heartbeat.
    double lease_seconds = 30.0;
    // What workers are told to use; a third of the lease leaves room for two lost beats.
    double heartbeat_seconds = 10.0;
    // Run the lease timer thread (tests drive ExpireLeases themselves).
    bool lease_thread = true;
    // Where the coordinator's Prometheus series go; may be null.
    CoordinatorMetrics* metrics = nullptr;
  };

  // Loads queued and running jobs from `store` (which must outlive the scheduler): queued ones
  // are scheduled as workers connect, running ones wait one lease for their worker to reconnect
  // and re-attach, then are requeued.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(JobStore* store, Options options);
  ~Scheduler();

  // Stores new jobs in one transaction (all or none), queues the new ones and schedules;
  // returns each as it stands now (a retried one as it already was).
  absl::StatusOr<std::vector<polytrain::v1::Job>> Submit(std::vector<polytrain::v1::Job> jobs);
  // A queued job is cancelled at once; a running one is asked to stop and stays RUNNING until
  // its worker confirms (or its lease lapses). FAILED_PRECONDITION for a job that already ended.
  absl::StatusOr<polytrain::v1::Job> Cancel(const std::string& job_id);
  // Sends the job, its metric history and then its live events to `watcher` until the job ends;
  // a job that already ended gets its snapshot, history and OnEnd at once.
  absl::Status Watch(const std::string& job_id, JobWatcher* watcher);
  // Stops sending to `watcher` (the client went away). No OnEnd follows.
  void Unwatch(const std::string& job_id, JobWatcher* watcher);

  // A worker's stream opened with a (valid) hello; returns its session. ALREADY_EXISTS when a
  // worker of that name is connected.
  absl::StatusOr<int64_t> ConnectWorker(const polytrain::v1::Hello& hello, WorkerChannel* channel);
  // The stream closed; its running jobs keep their leases until they lapse.
  void DisconnectWorker(int64_t session);

  // What a worker reports about its jobs (checked messages). A message about a job counts only
  // from the worker and attempt that hold its lease; others are dropped (OK). FAILED_PRECONDITION
  // for a session that is not connected.
  absl::Status RenewLeases(int64_t session, const polytrain::v1::Heartbeat& heartbeat);
  absl::Status AddMetrics(int64_t session, const polytrain::v1::MetricBatch& batch);
  absl::Status AttemptStarted(int64_t session, const polytrain::v1::JobStarted& started);
  absl::Status AttemptFinished(int64_t session, const polytrain::v1::JobFinished& finished);
  absl::Status AttemptFailed(int64_t session, const polytrain::v1::JobFailed& failed);

  // The job's newest checkpoint arrived in the artifact store at `path`. NOT_FOUND for an
  // unknown job.
  absl::Status CheckpointStored(const std::string& job_id, const std::string& path);

  // OK when the store has the job; NOT_FOUND ("job_id: no job <id>") otherwise. Takes no lock.
  absl::Status JobExists(const std::string& job_id) const;

  // Requeues or fails every running job whose lease lapsed before `now`.
  void ExpireLeases(Clock::time_point now);

  int ConnectedWorkers();
  size_t QueuedJobs();
  const Options& options() const { return options_; }

 private:
  struct WorkerState {
    int64_t session = 0;
    polytrain::v1::Hello hello;
    WorkerChannel* channel = nullptr;
    std::set<std::string> running;
    bool cuda = false;
    bool HasFreeSlot() const { return static_cast<int>(running.size()) < hello.slots(); }
  };
  struct RunningJob {
    int64_t session = -1;  // -1: its worker is gone, waiting for a reconnect or the lease
    int32_t attempt = 0;
    Clock::time_point lease_expiry;
    bool cancel_requested = false;
    polytrain::v1::Job job;  // as assigned: names and labels for the per-job series
  };

  Scheduler(JobStore* store, Options options) : store_(store), options_(options) {}
  Clock::duration Lease() const;
  void LeaseLoop();
  // Assigns queued jobs to free slots until none fits; returns the jobs it started.
  std::vector<polytrain::v1::Job> ScheduleLocked();
  // The job `session` holds the lease of at `attempt` (0: any), or null.
  RunningJob* OwnedLocked(int64_t session, const std::string& job_id, int32_t attempt);
  absl::Status FinishJobLocked(const std::string& job_id, polytrain::v1::JobState state,
                               const std::string& error,
                               const google::protobuf::Map<std::string, double>* metrics);
  // Counts one job moving between states, and refreshes queue depth and workers connected.
  void CountTransitionLocked(polytrain::v1::JobState from, polytrain::v1::JobState to);
  void RefreshGaugesLocked();

  JobStore* const store_;
  const Options options_;

  std::mutex mu_;
  std::map<int64_t, WorkerState> workers_;  // by session, oldest first
  std::map<std::string, RunningJob> running_;
  JobQueue queue_;
  JobWatchers watchers_;
  int64_t next_session_ = 1;

  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread lease_thread_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SCHEDULER_H_
