// polytrain-worker in service mode: dials the coordinator and keeps one bidirectional stream open
// (reconnecting with backoff 0.1 s to 5 s), runs each job it is assigned (service_job.h) and
// sends their metric points, results and heartbeats back through the reliable outbox
// (outbox.h). Jobs keep training while the stream is down; their messages wait in the outbox.
#ifndef POLYTRAIN_WORKER_SERVICE_WORKER_H_
#define POLYTRAIN_WORKER_SERVICE_WORKER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/grpc_security.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "worker/artifact_cache.h"
#include "worker/artifact_client.h"
#include "worker/gpu_slots.h"
#include "worker/outbox.h"
#include "worker/refused_lease.h"
#include "worker/service_job.h"
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
    // The GPUs offered (--gpus), one job on each: slots must equal their number. Empty: a CPU
    // worker.
    std::vector<int> gpus;
    // Threads the worker computes with in all; each of its slots' jobs gets at most
    // threads / slots of them (compute_threads.h).
    int threads = 1;
    std::string data_root;
    // Checkpoints of job J go to <checkpoint_root>/J; empty: no checkpoints.
    std::string checkpoint_root;
    // The directory of a job that no longer runs here goes once nothing was written in it for
    // this long, checked at start-up and at each assignment (checkpoint_files.h).
    std::chrono::seconds checkpoint_keep = std::chrono::hours(24);
    // Users' artifacts that jobs name, fetched from the coordinator (artifact_cache.h).
    std::string artifact_cache_dir = "polytrain-artifact-cache";
    int64_t artifact_cache_bytes = int64_t{10} << 30;
    // Metric points held for the coordinator (waiting for a stream, or sent and not yet
    // acknowledged), at most; beyond it the oldest training points are dropped and counted in
    // polytrain_worker_dropped_metric_points_total. Evaluation points, starts and results are
    // never dropped. 100000 points are about 15 MB, hours of training at the default
    // log_every_steps.
    size_t max_buffered_points = 100000;
    // A job that has not stopped this long after its cancel is stuck where nothing looks at
    // the cancel (its model's code, a file's loading, a collective whose peer hangs): it is
    // reported cancelled in its place, and on_stuck runs once. polytrain-worker then gives its
    // other jobs back and exits, since only a new process frees the slot the stuck thread holds.
    std::chrono::seconds cancel_grace{60};
    std::function<void()> on_stuck;
    // Runs once, with the coordinator's reason, when every dial that reached the coordinator
    // for kStartRefusal was refused (UNAUTHENTICATED or PERMISSION_DENIED: the token unknown,
    // or not a worker's) before it ever welcomed this worker, or failed its TLS handshake
    // (`tls`: a CA or server name the coordinator's certificate does not match, a plaintext
    // coordinator: TlsMismatchHint; the reason then ends with what to give); Run() then returns
    // once Stop() is called, and
    // polytrain-worker exits 8. Null: dialled on, as a worker refused after a welcome always is
    // (a reload of the tokens file may take it back).
    std::function<void(const std::string& reason, bool tls)> on_refused_at_start;
    // Receives step times, throughput, jobs running and memory; may be null.
    WorkerMetrics* metrics = nullptr;
    // Data-parallel jobs: the host the other ranks of a gang reach this worker at, and how long
    // a rank waits for its gang (see ServiceJob::Context).
    std::string advertise_host = "127.0.0.1";
    double replica_timeout_seconds = 1800;
    // Runs each gang's connections in a process of its own (GangOptions.process_binary).
    std::string gang_process_binary;
  };

  explicit ServiceWorker(Options options);
  ~ServiceWorker();

  // Serves until Stop(): connects, reconnects with exponential backoff (0.1 s to 5 s).
  void Run();
  // Cancels running jobs, closes the stream and makes Run() return. Safe from any thread.
  void Stop();
  // A graceful Stop (SIGTERM): every running job stops and gives its attempt back, so that the
  // coordinator requeues it at once rather than after the lease; waits at most `timeout` for
  // the coordinator to acknowledge their results, then Stop().
  void Drain(std::chrono::duration<double> timeout);
  // Reads what its gauges show from elsewhere (process and GPU memory, jobs per GPU) into
  // options.metrics; called before each scrape of the worker's /metrics.
  void RefreshMetrics();

  // How long every dial of a worker never welcomed must be refused (or fail for a TLS
  // mismatch) before it gives up (on_refused_at_start).
  static constexpr std::chrono::seconds kStartRefusal{10};

 private:
  // A fresh channel to the coordinator, with the token attached to `context`.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(grpc::ClientContext* context);
  // One stream, from the hello until it closes; true if the coordinator welcomed the worker and
  // the stream then lasted kHealthyConnection (the next dial comes at once, not after backoff).
  bool ServeOneConnection();
  static constexpr std::chrono::seconds kHealthyConnection{10};
  // Logs a stream that ended before the coordinator welcomed it: the first, then one a minute
  // or so, with the cause (an unreachable address, a TLS mismatch, a refused token).
  void ReportNotConnected(const grpc::Status& status);
  void Assign(const polytrain::v1::Assignment& assignment);
  // Passes rank 0's rendezvous to the job's rank here, if it runs that attempt.
  void PassRendezvous(const polytrain::v1::Rendezvous& rendezvous);
  // Writes the outbox's messages, and heartbeats, on the live stream.
  void SenderLoop();
  // Reports each job stuck past Options::cancel_grace as cancelled (ServiceJob::Abandon), then
  // runs on_stuck.
  void AbandonStuckJobs();
  // Jobs this worker answers for: still training, or their result not yet acknowledged (so a
  // restarted coordinator re-attaches them instead of waiting for the lease). Under jobs_mu_.
  std::vector<std::string> ClaimedJobsLocked() const;
  polytrain::v1::Hello MakeHello();
  // A dial that ended without a welcome: logged (ReportNotConnected), and a refusal
  // (UNAUTHENTICATED, PERMISSION_DENIED: its token revoked, another pool's) counted towards the
  // lease of its jobs (RefusedLease); once it has lapsed they were requeued, perhaps to another
  // worker already, so each job still training is let go (ServiceJob::LetGo), said once.
  void NotConnected(const grpc::Status& status);

  Options options_;
  std::atomic<bool> stopping_{false};
  // Drain() began: an assignment arriving now goes straight back (JobFailed.released), under
  // jobs_mu_; the newest such message's sequence number.
  std::atomic<bool> draining_{false};
  uint64_t given_back_sequence_ = 0;
  Outbox outbox_;
  ArtifactClient artifacts_;
  // Null when its directory could not be made (jobs naming artifacts then fail, saying so).
  std::unique_ptr<ArtifactCache> artifact_cache_;

  // The newest session's Welcome.session_key, named on artifact transfers.
  std::mutex session_key_mu_;
  std::string session_key_;
  // The live stream, if any; writes happen under stream_mu_.
  std::mutex stream_mu_;
  grpc::ClientContext* context_ = nullptr;
  grpc::ClientReaderWriter<polytrain::v1::WorkerMessage, polytrain::v1::CoordinatorMessage>*
      stream_ = nullptr;
  std::atomic<double> heartbeat_seconds_{5.0};  // from the coordinator's welcome
  int64_t stream_generation_ = 0;               // streams opened so far, under stream_mu_
  int failed_connections_ = 0;  // in a row, since the last welcome (Run's thread only)
  // Whether a refused worker's jobs have surely been requeued. Run's thread only.
  RefusedLease refused_lease_;
  // Whether the coordinator has welcomed this worker since it started; when an unbroken run of
  // refusals before that began; whether it gave up (on_refused_at_start). Run's thread only.
  bool ever_welcomed_ = false;
  std::optional<std::chrono::steady_clock::time_point> first_start_refusal_;
  bool gave_up_ = false;

  // RemoveIdleJobDirs for the jobs in jobs_ (and `assigned`), logged. Under jobs_mu_, so no job
  // starts in a directory being removed.
  void RemoveIdleCheckpoints(const std::string& assigned);

  std::mutex jobs_mu_;
  std::map<std::string, std::unique_ptr<ServiceJob>> jobs_;
  std::atomic<int> running_jobs_{0};
  GpuSlots gpu_slots_;

  std::thread sender_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_SERVICE_WORKER_H_
