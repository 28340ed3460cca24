// polytrain-worker in service mode: dials the coordinator, keeps one bidirectional stream open
// (reconnecting with backoff), trains the jobs it is assigned with the Trainer and streams their
// metric points, results and heartbeats back. Jobs keep training while the stream is down; their
// messages wait in a bounded outbox and are sent on reconnect.
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
    // Metric points waiting for a stream, at most; beyond it the oldest train points are
    // dropped (evaluations and results never are).
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
  void Enqueue(polytrain::v1::WorkerMessage message);
  polytrain::v1::Hello MakeHello();

  Options options_;
  std::atomic<bool> stopping_{false};

  // The live stream, if any; writes happen under stream_mu_.
  std::mutex stream_mu_;
  grpc::ClientContext* context_ = nullptr;
  grpc::ClientReaderWriter<polytrain::v1::WorkerMessage, polytrain::v1::CoordinatorMessage>*
      stream_ = nullptr;
  std::atomic<double> heartbeat_seconds_{5.0};  // from the coordinator's welcome

  // Messages waiting to be sent, in order.
  std::mutex outbox_mu_;
  std::condition_variable outbox_cv_;
  std::deque<polytrain::v1::WorkerMessage> outbox_;
  size_t buffered_points_ = 0;

  std::mutex jobs_mu_;
  std::map<std::string, std::unique_ptr<RunningJob>> jobs_;
  std::atomic<int> running_jobs_{0};

  std::thread sender_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_SERVICE_WORKER_H_
