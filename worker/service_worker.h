// polytrain-worker in service mode: dials the coordinator, keeps one bidirectional stream open
// (reconnecting with backoff), trains the jobs it is assigned with the Trainer and streams their
// metric points, results and heartbeats back. Jobs keep training while the stream is down; their
// messages wait in a bounded outbox and are sent on reconnect. Every message but heartbeats is
// numbered and kept until the coordinator acknowledges it as stored, so one in flight when a
// stream breaks (or the coordinator dies) is sent again, never lost.
#ifndef POLYTRAIN_WORKER_SERVICE_WORKER_H_
#define POLYTRAIN_WORKER_SERVICE_WORKER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/grpc_security.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "worker/worker_metrics.h"

namespace polytrain {

class ServiceWorker {
 public:
  struct Options {
    std::string coordinator;  // host:port
    // TLS and token for every call; the token file is read again at each (re)connection, so a
    // rotated token is picked up without a restart.
    ClientSecurityOptions security;
    std::string name;
    int slots = 1;
    bool cuda = false;  // advertise a GPU
    int threads = 1;
    std::string data_root;
    // Checkpoints of job J go to <checkpoint_root>/J; empty: no checkpoints.
    std::string checkpoint_root;
    // Metric points held for the coordinator (waiting for a stream, or sent and not yet
    // acknowledged), at most; beyond it the oldest training points are dropped and counted in
    // polytrain_worker_dropped_metric_points_total. Evaluation points, starts and results are
    // never dropped. 100000 points are about 15 MB, hours of training at the default
    // log_every_steps.
    size_t max_buffered_points = 100000;
    // Receives step times, throughput, jobs running and memory; may be null.
    WorkerMetrics* metrics = nullptr;
  };

  explicit ServiceWorker(Options options);
  ~ServiceWorker();

  // Serves until Stop(): connects, reconnects with exponential backoff (0.1 s to 5 s).
  void Run();
  // Cancels running jobs, closes the stream and makes Run() return. Safe from any thread.
  void Stop();

 private:
  struct RunningJob {
    std::atomic<bool> cancel{false};
    std::atomic<bool> done{false};
    // The sequence number of its result message (finished or failed), once queued.
    std::atomic<uint64_t> result_sequence{0};
    std::thread thread;
  };
  class StreamingSink;

  // A fresh channel to the coordinator, with the token attached to `context`.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(grpc::ClientContext* context);
  bool ServeOneConnection();
  void SenderLoop();
  void RunJob(polytrain::v1::Job job, RunningJob* state);
  // Streams a checkpoint file to the coordinator's artifact store (1 MiB chunks, CRC-32).
  absl::Status UploadCheckpoint(const polytrain::v1::Job& job, const std::string& path);
  // Fetches the job's stored checkpoint into `dir` (checked by size and CRC-32, renamed into
  // place), unless a checkpoint of that step or later is already there.
  absl::Status DownloadCheckpoint(const polytrain::v1::Job& job, const std::string& dir);
  // Numbers `message`, queues it behind the others and returns its sequence number.
  uint64_t Enqueue(polytrain::v1::WorkerMessage message);
  // The coordinator has stored every message numbered up to `sequence`.
  void Acknowledge(uint64_t sequence);
  // Drops the oldest training points until at most max_buffered_points are held.
  void EnforceBoundLocked();
  // Jobs this worker answers for: still training, or their result not yet acknowledged (so a
  // restarted coordinator re-attaches them instead of waiting for the lease). Under jobs_mu_.
  std::vector<std::string> ClaimedJobsLocked() const;
  polytrain::v1::Hello MakeHello();

  Options options_;
  std::atomic<bool> stopping_{false};

  // The live stream, if any; writes happen under stream_mu_.
  std::mutex stream_mu_;
  grpc::ClientContext* context_ = nullptr;
  grpc::ClientReaderWriter<polytrain::v1::WorkerMessage, polytrain::v1::CoordinatorMessage>*
      stream_ = nullptr;
  std::atomic<double> heartbeat_seconds_{5.0};  // from the coordinator's welcome
  int64_t stream_generation_ = 0;               // streams opened so far, under stream_mu_

  // Messages not yet written (outbox_), and written but not yet acknowledged (unacked_), both
  // oldest first; every unacknowledged one is older than every unwritten one.
  std::mutex outbox_mu_;
  std::condition_variable outbox_cv_;
  std::deque<polytrain::v1::WorkerMessage> outbox_;
  std::deque<polytrain::v1::WorkerMessage> unacked_;
  uint64_t next_sequence_ = 0;
  size_t buffered_points_ = 0;  // metric points in both (and in the sender's hands)
  std::atomic<uint64_t> acked_through_{0};

  std::mutex jobs_mu_;
  std::map<std::string, std::unique_ptr<RunningJob>> jobs_;
  std::atomic<int> running_jobs_{0};

  std::thread sender_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_SERVICE_WORKER_H_
