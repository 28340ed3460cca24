// The coordinator's logic, independent of gRPC: validates requests, persists jobs through the
// JobStore, schedules queued jobs onto connected workers (priority, then FIFO; device matching;
// a worker's slots), and leases running jobs: a lease not renewed by heartbeats lapses and the job
// is requeued as a new attempt, up to the spec's max_attempts.
#ifndef POLYTRAIN_SERVER_COORDINATOR_H_
#define POLYTRAIN_SERVER_COORDINATOR_H_

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
#include "polytrain/v1/coordinator.pb.h"
#include "polytrain/v1/worker.pb.h"
#include "server/coordinator_metrics.h"
#include "server/job_store.h"

namespace polytrain {

// How the coordinator sends to one connected worker. Send must not block or call back.
class WorkerChannel {
 public:
  virtual ~WorkerChannel() = default;
  virtual void Send(const polytrain::v1::CoordinatorMessage& message) = 0;
};

// Receives a watched job's events. OnEvent must not block or call back; OnEnd follows the
// job's final state (or the coordinator's shutdown).
class JobWatcher {
 public:
  virtual ~JobWatcher() = default;
  virtual void OnEvent(const polytrain::v1::JobEvent& event) = 0;
  virtual void OnEnd() = 0;
};

// Who makes a request. An admin (or anyone, when the coordinator runs without tokens) sees
// every job; a client owns the jobs it submits and sees and changes only those.
struct Caller {
  std::string name;  // becomes Job.owner of what it submits
  bool own_jobs_only = false;

  static Caller Admin(std::string name = "") { return {std::move(name), false}; }
  static Caller Client(std::string name) { return {std::move(name), true}; }
};

class Coordinator {
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

  // Loads queued and running jobs from the store: queued ones are scheduled as workers connect,
  // running ones wait one lease for their worker to reconnect and re-attach, then are requeued.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(std::unique_ptr<JobStore> store,
                                                             Options options);
  ~Coordinator();

  // Each request acts for `caller`: PERMISSION_DENIED when a client names another's job.
  absl::StatusOr<polytrain::v1::Job> SubmitJob(const polytrain::v1::SubmitJobRequest& request,
                                               const Caller& caller = Caller::Admin());
  absl::StatusOr<polytrain::v1::Job> GetJob(const polytrain::v1::GetJobRequest& request,
                                            const Caller& caller = Caller::Admin());
  absl::StatusOr<polytrain::v1::ListJobsResponse> ListJobs(
      const polytrain::v1::ListJobsRequest& request, const Caller& caller = Caller::Admin());
  absl::StatusOr<polytrain::v1::Job> CancelJob(const polytrain::v1::CancelJobRequest& request,
                                               const Caller& caller = Caller::Admin());
  absl::StatusOr<polytrain::v1::GetMetricsResponse> GetMetrics(
      const polytrain::v1::GetMetricsRequest& request, const Caller& caller = Caller::Admin());

  absl::StatusOr<polytrain::v1::SubmitSweepResponse> SubmitSweep(
      const polytrain::v1::SubmitSweepRequest& request, const Caller& caller = Caller::Admin());
  absl::StatusOr<polytrain::v1::CompareJobsResponse> CompareJobs(
      const polytrain::v1::CompareJobsRequest& request, const Caller& caller = Caller::Admin());

  // Sends the job, its metric history and then its live events to `watcher` until the job
  // ends; a job that already ended gets its snapshot, history and OnEnd at once.
  absl::Status Watch(const polytrain::v1::WatchJobRequest& request, JobWatcher* watcher,
                     const Caller& caller = Caller::Admin());
  // Stops sending to `watcher` (the client went away). No OnEnd follows.
  void Unwatch(const std::string& job_id, JobWatcher* watcher);

  // A worker's stream opened with `hello`; returns its session. INVALID_ARGUMENT for a bad hello.
  absl::StatusOr<int64_t> WorkerConnected(const polytrain::v1::Hello& hello,
                                          WorkerChannel* channel);
  absl::Status HandleWorkerMessage(int64_t session, const polytrain::v1::WorkerMessage& message);
  // The stream closed; its running jobs keep their leases until they lapse.
  void WorkerDisconnected(int64_t session);

  // A job's file arrived in the artifact store at `path` (relative to it); a checkpoint becomes
  // the job's `checkpoint`. NOT_FOUND for an unknown job.
  absl::Status ArtifactStored(const std::string& job_id, const std::string& name,
                              const std::string& path);

  // Requeues or fails every running job whose lease lapsed before `now`.
  void ExpireLeases(Clock::time_point now);

  int ConnectedWorkers();
  const Options& options() const { return options_; }

 private:
  struct WorkerState {
    polytrain::v1::Hello hello;
    WorkerChannel* channel = nullptr;
    std::set<std::string> running;
  };
  struct RunningJob {
    int64_t session = -1;  // -1: its worker is gone, waiting for a reconnect or the lease
    int32_t attempt = 0;
    Clock::time_point lease_expiry;
    bool cancel_requested = false;
    polytrain::v1::Job job;  // as assigned: names and labels for the per-job series
  };
  struct QueueKey {  // highest priority first, then oldest
    int32_t priority;
    int64_t order;
    bool operator<(const QueueKey& o) const {
      return priority != o.priority ? priority > o.priority : order < o.order;
    }
  };

  Coordinator(std::unique_ptr<JobStore> store, Options options);
  void LeaseLoop();
  void ScheduleLocked();
  void EnqueueLocked(const polytrain::v1::Job& job);
  // A submission checked and turned into the Job to store (not stored yet).
  absl::StatusOr<polytrain::v1::Job> NewJob(const polytrain::v1::SubmitJobRequest& request,
                                            const Caller& caller) const;
  // Stores `jobs` in one transaction (all or none), queues the new ones and schedules; returns
  // each as stored now (a retried one as it already was).
  absl::StatusOr<std::vector<polytrain::v1::Job>> StoreNewJobs(
      std::vector<polytrain::v1::Job> jobs);
  absl::Status FinishJobLocked(const std::string& job_id, polytrain::v1::JobState state,
                               const std::string& error,
                               const google::protobuf::Map<std::string, double>* metrics);
  Clock::duration Lease() const;
  // Tells the job's watchers about its new state; ends their watch when the state is final.
  void NotifyJobLocked(const polytrain::v1::Job& job);
  // Moves a job between states in the jobs-by-state series, refreshes queue depth and workers.
  void CountTransitionLocked(polytrain::v1::JobState from, polytrain::v1::JobState to);

  std::unique_ptr<JobStore> store_;
  Options options_;

  std::mutex mu_;
  std::map<int64_t, WorkerState> workers_;
  std::map<std::string, RunningJob> running_;
  std::map<QueueKey, polytrain::v1::Job> queue_;
  std::map<std::string, Clock::time_point> queued_since_;
  std::map<std::string, std::set<JobWatcher*>> watchers_;
  int64_t next_session_ = 1;
  int64_t next_order_ = 0;

  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread lease_thread_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_COORDINATOR_H_
