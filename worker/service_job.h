// One job the coordinator assigned, trained by the Trainer on a thread of its own: the users'
// artifacts it names and its stored checkpoint fetched first (a requeued job resumes where its
// earlier attempt's upload left it), every checkpoint it writes uploaded, its metric points batched
// into the outbox, and its result (finished, or failed with why) queued last.
//
// A rank of a data-parallel job also joins its gang: rank 0 opens the rendezvous and reports it
// (RendezvousReady), the others wait for the coordinator to pass it on (SetRendezvous). A gang
// failure (a peer gone, the rendezvous unreachable) is reported as gang_lost.
#ifndef POLYTRAIN_WORKER_SERVICE_JOB_H_
#define POLYTRAIN_WORKER_SERVICE_JOB_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/job_record.pb.h"
#include "worker/artifact_cache.h"
#include "worker/artifact_client.h"
#include "worker/coordinator_retry.h"
#include "worker/outbox.h"
#include "worker/worker_metrics.h"

namespace polytrain {

class ReplicaGroup;
class StreamingSink;
struct TrainerOptions;
struct TrainingSummary;

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
    // A data-parallel job: this worker's rank in its gang of world_size (the assignment's).
    int rank = 0;
    int world_size = 1;
    // The host the other ranks reach this worker at (--advertise_address).
    std::string advertise_host = "127.0.0.1";
    // How long a rank waits for its gang: for the rendezvous, to join, in each collective.
    double replica_timeout_seconds = 1800;
    // The binary that carries a CPU gang's traffic in a process of its own (GangOptions).
    std::string gang_process_binary;
  };

  // Starts training at once.
  ServiceJob(polytrain::v1::Job job, Context context);
  // Joins the thread (cancel first to make it quick).
  ~ServiceJob();

  // Stops training at the next step; the job then fails as cancelled.
  void Cancel();
  // Stops training at the next step, without a checkpoint, and reports the attempt given back
  // (JobFailed.released): the coordinator, which refuses this worker, has requeued it already (or
  // requeues it, should it still hold the attempt; never ends it as cancelled).
  void LetGo();
  bool cancelled() const { return cancel_; }
  // Gives the attempt back (JobFailed.released): the worker is shutting down, and the
  // coordinator requeues the job. A job that writes checkpoints trains on to the end of its
  // logging window, checkpoints and uploads there, so the next attempt loses no step
  // (TrainerOptions::release); any other (one rank of a gang) stops at its next step.
  void Release();
  // Rank 0's rendezvous for this attempt, from the coordinator (ranks > 0 wait for it).
  void SetRendezvous(const std::string& address);
  // The worker's stream was welcomed again (a new session key): a transfer waiting out its
  // backoff after the coordinator was away tries again at once.
  void CoordinatorBack();
  // Cancel() was called at least `grace` ago and the job has not ended: it is stuck where
  // nothing looks at the cancel (in its model's code, in reading a file, in a collective whose
  // peer hangs).
  bool StuckAfterCancel(std::chrono::steady_clock::duration grace) const;
  // Queues the result of a stuck job in its place (JobFailed.cancelled, with `why`): the
  // coordinator then ends it. Its thread is left behind, and whatever result it queues if it
  // ever ends is dropped. With `worker_exits` (the process ends to free the stuck thread's
  // slot) the result says so (JobFailed.worker_exits), so that the coordinator places nothing
  // more on a worker about to go. False when the job queued its own result first.
  bool Abandon(const std::string& why, bool worker_exits);
  bool abandoned() const { return abandoned_; }
  // Training ended and the result is queued (the thread ends right after).
  bool done() const { return done_; }
  int32_t attempt() const { return job_.attempts(); }
  // The sequence number of its result message, once queued (0 before).
  uint64_t result_sequence() const { return result_sequence_; }

 private:
  // How an attempt ended, as its report and its worker's log say it (service_job_ending.cc).
  struct Ending {
    int64_t resume_step = 0;   // the step it was to resume from (0: from scratch)
    int64_t stopped_at = 0;    // where it stopped: at least resume_step
    bool resumes_here = true;  // its next attempt resumes at stopped_at
    bool last_checkpoint_stored = true;
    bool cancelled = false;  // as the coordinator asked
    bool no_room = false;    // the files it names did not fit on this worker
  };
  // How long a checkpoint's upload during training waits for the coordinator to store the
  // points before it (milliseconds when it is there): training never stalls on an outage.
  static constexpr std::chrono::seconds kPointsBeforeCheckpoint{2};
  // The same for the last checkpoint, after training: as long as its upload is retried.
  static constexpr std::chrono::minutes kPointsBeforeLastCheckpoint{2};

  // Trains the attempt and reports how it ended (the job's thread).
  void Run();
  // The trainer's options for this attempt (service_job_setup.cc): its checkpoint directory
  // (--checkpoint_dir's, or without one `attempt_dir`, made here) with the stored checkpoint
  // fetched into it, each checkpoint it writes uploaded (`uploaded`: the newest the coordinator
  // has), a search trial's pause, its started report, points into `sink`. A rank of a gang that
  // could not fetch the stored checkpoint: the error (the attempt is given up).
  absl::Status PrepareAttempt(StreamingSink* sink, std::string* uploaded, TrainerOptions* options,
                              std::string* attempt_dir);
  // Uploads the attempt's last checkpoint unless it is `uploaded` already, once the coordinator
  // stored the `points` before it: whether the coordinator has it (true when there is none).
  bool StoreLastCheckpoint(const TrainingSummary& summary, uint64_t points,
                           const std::string& uploaded);
  // How the attempt ended: `last_step`, the newest step it took or logged.
  Ending EndingOf(const absl::StatusOr<TrainingSummary>& summary, int64_t last_step,
                  bool last_checkpoint_stored, bool no_room) const;
  // Its report: finished (or paused), or failed with why (given back, cancelled, gang lost).
  polytrain::v1::WorkerMessage Report(const absl::StatusOr<TrainingSummary>& summary,
                                      const Ending& ending, const std::string& attempt_dir) const;
  // Removes `attempt_dir`, and the job's `checkpoint_dir` once the job no longer needs it here.
  void RemoveSpentCheckpoints(const absl::StatusOr<TrainingSummary>& summary, const Ending& ending,
                              const std::string& checkpoint_dir,
                              const std::string& attempt_dir) const;
  // What became of the attempt, on this worker's own log (the coordinator has the job's).
  void LogEnding(const polytrain::v1::WorkerMessage& result,
                 const absl::StatusOr<TrainingSummary>& summary, const Ending& ending) const;
  // The rendezvous once the coordinator passed it on; empty after the timeout or on cancel.
  std::string AwaitRendezvous();
  // This rank's gang, opened: rank 0 reports its rendezvous, the others wait for it.
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> OpenGang();
  // `call` until it succeeds or fails otherwise than with the coordinator away
  // (IsCoordinatorAway), with backoff, for at most two minutes or until a cancel or release; a
  // reconnect (CoordinatorBack) cuts the backoff short.
  absl::Status RetryWhileCoordinatorAway(const std::function<absl::Status()>& call);
  // Fetches (or finds in the cache) every artifact the spec names, checked against its hash,
  // retried while the coordinator is away: id -> local file into `files`; the leases keep the
  // copies until the job ends. The error names the spec field.
  absl::Status FetchArtifacts(std::map<std::string, std::string>* files,
                              std::vector<ArtifactCache::Lease>* leases);
  // The job's stored checkpoint into `dir` (a damaged newest one replaced by the newest intact
  // older one), retried while the coordinator is away.
  absl::Status FetchStoredCheckpoint(const std::string& dir);
  // Uploads the attempt's last checkpoint (a paused trial's, or the finished job's), retried
  // while the coordinator is away: the job's record names it and a trial resumes from it.
  bool UploadLastCheckpoint(const std::string& path, bool paused);  // true once stored

  polytrain::v1::Job job_;
  Context context_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> let_go_{false};  // LetGo(): the cancel reports the attempt given back
  std::atomic<bool> released_{false};
  // Not one rank of a gang (whose ranks would have to agree on the step): Release() lets it
  // checkpoint first, into --checkpoint_dir or, without one, the attempt's temporary directory
  // (probe CZ: without --checkpoint_dir a drained job was given back with no checkpoint and
  // trained again from its last periodic one). Where that directory could not be made, the
  // trainer gives the job back at once.
  const bool checkpoints_at_release_;
  std::atomic<bool> done_{false};
  // When Cancel() was first called, in steady_clock ticks (0: never).
  std::atomic<int64_t> cancelled_at_{0};
  // The one result is queued by whichever comes first: the job's thread or Abandon().
  std::atomic<bool> result_taken_{false};
  std::atomic<bool> abandoned_{false};
  std::atomic<uint64_t> result_sequence_{0};
  // The transfers' retries while the coordinator is away (RetryWhileCoordinatorAway).
  CoordinatorRetry retry_;
  // Wakes whoever waits for the rendezvous, on its arrival and on a cancel.
  std::mutex rendezvous_mu_;
  std::condition_variable rendezvous_cv_;
  std::string rendezvous_;
  std::thread thread_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_SERVICE_JOB_H_
