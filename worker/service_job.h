// One job the coordinator assigned, trained by the Trainer on a thread of its own: the users'
// artifacts it names and its stored checkpoint fetched first (a requeued job resumes where its
// earlier attempt's upload left it), every checkpoint it writes uploaded, its metric points batched
// into the outbox, and its result (finished, or failed with why) queued last.
#ifndef POLYTRAIN_WORKER_SERVICE_JOB_H_
#define POLYTRAIN_WORKER_SERVICE_JOB_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "polytrain/v1/job_record.pb.h"
#include "worker/artifact_cache.h"
#include "worker/artifact_client.h"
#include "worker/outbox.h"
#include "worker/worker_metrics.h"

namespace polytrain {

class ServiceJob {
 public:
  struct Context {
    std::string data_root;
    // Checkpoints of job J go to <checkpoint_root>/J; empty: no checkpoints.
    std::string checkpoint_root;
    Outbox* outbox = nullptr;
    ArtifactClient* artifacts = nullptr;
    // Where the artifacts a job names come from; null: such jobs fail.
    ArtifactCache* artifact_cache = nullptr;
    WorkerMetrics* metrics = nullptr;  // may be null
    // The most threads the job computes with (compute_threads.h's rule).
    int max_threads = 1;
    // The GPU a CUDA job runs on (its slot's, on a worker with --gpus).
    int cuda_device = 0;
    // Runs on the job's thread when training ended, just before the result is queued.
    std::function<void()> on_training_ended;
  };

  // Starts training at once.
  ServiceJob(polytrain::v1::Job job, Context context);
  // Joins the thread (cancel first to make it quick).
  ~ServiceJob();

  // Stops training at the next step; the job then fails as cancelled.
  void Cancel() { cancel_ = true; }
  // Training ended and the result is queued (the thread ends right after).
  bool done() const { return done_; }
  // The sequence number of its result message, once queued (0 before).
  uint64_t result_sequence() const { return result_sequence_; }

 private:
  void Run();

  polytrain::v1::Job job_;
  Context context_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> result_sequence_{0};
  std::thread thread_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_SERVICE_JOB_H_
