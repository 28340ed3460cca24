#include "worker/service_job.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/worker_messages.h"
#include "common/chunked_file.h"
#include "spdlog/spdlog.h"
#include "worker/checkpoint.h"
#include "worker/checkpoint_files.h"
#include "worker/device_choice.h"
#include "worker/streaming_sink.h"
#include "worker/trainer.h"

namespace polytrain {
namespace {

using polytrain::v1::WorkerMessage;

// How long a checkpoint's upload during training waits for the coordinator to store the
// points before it (milliseconds when it is there): training never stalls on an outage.
constexpr std::chrono::seconds kPointsBeforeCheckpoint(2);
// The same for the last checkpoint, after training: as long as its upload is retried.
constexpr std::chrono::minutes kPointsBeforeLastCheckpoint(2);

}  // namespace

ServiceJob::ServiceJob(polytrain::v1::Job job, Context context)
    : job_(std::move(job)),
      context_(std::move(context)),
      checkpoints_at_release_(context_.world_size <= 1) {
  thread_ = std::thread([this] { Run(); });
}

ServiceJob::~ServiceJob() {
  if (thread_.joinable()) thread_.join();
}

void ServiceJob::LetGo() {
  let_go_ = true;  // before the cancel, which the result reads it after
  Cancel();
}

void ServiceJob::Release() {
  released_ = true;
  if (!checkpoints_at_release_) {
    Cancel();
    return;
  }
  retry_.Wake();  // ends a retry's backoff
}

void ServiceJob::Cancel() {
  int64_t never = 0;
  cancelled_at_.compare_exchange_strong(
      never, std::chrono::steady_clock::now().time_since_epoch().count());
  cancel_ = true;
  retry_.Wake();
  std::lock_guard<std::mutex> lock(rendezvous_mu_);
  rendezvous_cv_.notify_all();
}

void ServiceJob::CoordinatorBack() { retry_.CoordinatorBack(); }

bool ServiceJob::StuckAfterCancel(std::chrono::steady_clock::duration grace) const {
  const int64_t at = cancelled_at_;
  if (at == 0 || done_) return false;
  const std::chrono::steady_clock::time_point cancelled{std::chrono::steady_clock::duration(at)};
  return std::chrono::steady_clock::now() - cancelled >= grace;
}

bool ServiceJob::Abandon(const std::string& why, bool worker_exits) {
  if (result_taken_.exchange(true)) return false;
  WorkerMessage result;
  auto* failed = result.mutable_failed();
  failed->set_job_id(job_.id());
  failed->set_attempt(job_.attempts());
  failed->set_error(CutError(why));
  // As the attempt would have ended had it stopped: given back (a drain, a lapsed lease) or
  // cancelled (what the coordinator asked).
  const bool given_back = released_.load() || let_go_.load();
  failed->set_released(given_back);
  failed->set_cancelled(!given_back && cancel_.load());
  failed->set_worker_exits(worker_exits || released_.load());
  abandoned_ = true;
  result_sequence_ = context_.outbox->Enqueue(std::move(result));
  return true;
}

void ServiceJob::SetRendezvous(const std::string& address) {
  std::lock_guard<std::mutex> lock(rendezvous_mu_);
  rendezvous_ = address;
  rendezvous_cv_.notify_all();
}

std::string ServiceJob::AwaitRendezvous() {
  std::unique_lock<std::mutex> lock(rendezvous_mu_);
  rendezvous_cv_.wait_for(lock, std::chrono::duration<double>(context_.replica_timeout_seconds),
                          [this] { return !rendezvous_.empty() || cancel_.load(); });
  return cancel_ ? std::string() : rendezvous_;
}

absl::StatusOr<std::unique_ptr<ReplicaGroup>> ServiceJob::OpenGang() {
  const polytrain::v1::Job& job = job_;
  ReplicaGroup::Options options;
  options.rank = context_.rank;
  options.world_size = context_.world_size;
  options.host = context_.advertise_host;
  // Where the trainer will put the gang's tensors (DEVICE_ANY on a worker with no GPU: the CPU).
  const absl::StatusOr<torch::Device> device = ChooseDevice(job.spec(), context_.cuda_device);
  options.cuda = !device.ok() || device->is_cuda();
  options.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(context_.replica_timeout_seconds * 1000));
  options.cancel = &cancel_;  // a gang whose peer died is stopped by the coordinator
  // Opened on the job's thread, which outlives the gang: the process dies with it.
  options.process_binary = context_.gang_process_binary;
  if (options.host.empty()) {
    return absl::UnavailableError(
        "this worker has no address to give its peers: set its --advertise_address");
  }
  if (context_.rank > 0) {
    options.rendezvous = AwaitRendezvous();
    if (cancel_) return absl::CancelledError("cancelled while waiting for rank 0");
    if (options.rendezvous.empty()) {
      return absl::UnavailableError(absl::StrCat("rank ", context_.rank,
                                                 " heard of no rendezvous from rank 0 within ",
                                                 context_.replica_timeout_seconds, " s"));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> group = ReplicaGroup::Open(options);
  if (group.ok()) {
    spdlog::info(
        "{}: rank {} of {}, rendezvous at {} ({}, opened in {:.0f} ms)", job.id(), context_.rank,
        context_.world_size, (*group)->rendezvous(),
        (*group)->in_own_process() ? "its traffic in a process of its own" : "in this process",
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  if (group.ok() && context_.rank == 0) {
    WorkerMessage ready;
    ready.mutable_rendezvous()->set_job_id(job.id());
    ready.mutable_rendezvous()->set_attempt(job.attempts());
    ready.mutable_rendezvous()->set_address((*group)->rendezvous());
    context_.outbox->Enqueue(std::move(ready));
  }
  return group;
}

void ServiceJob::Run() {
  const polytrain::v1::Job& job = job_;
  std::string uploaded;  // the newest checkpoint the coordinator has
  StreamingSink sink(job, context_.outbox, context_.metrics);
  auto upload = [this, &job, &uploaded, &sink](const std::string& path) {
    // The points up to this checkpoint are stored first: once the coordinator names it, a new
    // attempt resumes after them and never sends them again. Not stored soon (the coordinator
    // is away, and the upload would fail too): this checkpoint is not uploaded; a later one is.
    if (const uint64_t points = sink.Flush();
        points > 0 && !context_.outbox->WaitAcknowledged(points, kPointsBeforeCheckpoint)) {
      spdlog::warn(
          "{}: not uploading {}: the coordinator has not stored the metric points "
          "before it",
          job.id(), path);
      return;
    }
    if (absl::Status s = context_.artifacts->Upload(job.id(), job.attempts(), path); !s.ok()) {
      spdlog::warn("{}: uploading {}: {}", job.id(), path, std::string(s.message()));
    } else {
      spdlog::debug("{}: checkpoint {} stored by the coordinator", job.id(), path);
      uploaded = path;
    }
  };
  const bool gang = context_.world_size > 1;
  absl::Status fetch_failure;
  // A requeued job resumes from the checkpoint its earlier attempt uploaded, wherever that
  // attempt ran; every checkpoint this attempt writes is uploaded in turn. One rank of a gang
  // starting from scratch would split the gang: the attempt is given up instead (and requeued).
  auto fetch_stored_checkpoint = [&](const std::string& dir) {
    if (job.checkpoint().empty()) return;
    if (absl::Status s = FetchStoredCheckpoint(dir); !s.ok() && gang) {
      fetch_failure = absl::UnavailableError(absl::StrCat(
          "rank ", context_.rank, " could not fetch ", job.checkpoint(), ": ", s.message()));
    } else if (!s.ok()) {
      spdlog::warn("{}: starting from scratch: {}", job.id(), std::string(s.message()));
    }
  };
  TrainerOptions options;
  options.data_root = context_.data_root;
  options.max_threads = context_.max_threads;
  options.cuda_device = context_.cuda_device;
  if (!context_.checkpoint_root.empty()) {
    options.checkpoint_dir = context_.checkpoint_root + "/" + job.id();
    options.resume = true;  // continue from the newest checkpoint there
    // Every rank of a gang must resume from the same step: from the stored checkpoint alone,
    // never from one an earlier attempt left here and the coordinator never got.
    if (gang) {
      std::error_code ignored;
      std::filesystem::remove_all(options.checkpoint_dir, ignored);
    } else {
      // Nor does a lone job resume from one the coordinator never stored: the metric points
      // before it may have died with an earlier run of this worker (held while the coordinator
      // was away), and the job's history would have a gap.
      for (const std::string& name :
           DeleteCheckpointsAfter(options.checkpoint_dir, job.checkpoint())) {
        spdlog::warn("{}: not resuming from {}: the coordinator never stored it", job.id(), name);
      }
    }
    fetch_stored_checkpoint(options.checkpoint_dir);
    options.on_checkpoint = upload;
  }
  // A search trial pauses at its rung and is resumed (perhaps elsewhere) from the checkpoint it
  // uploads then.
  if (job.has_search()) {
    options.pause_at_epoch = job.search().pause_at_epoch();
    options.pause_at_step = job.search().pause_at_step();
    if (job.search().rung() > 0 && job.checkpoint().empty()) {
      spdlog::warn(
          "{}: no checkpoint was stored at its last rung: the trial trains from the "
          "start again",
          job.id());
    }
  }
  // Without a checkpoint root, the attempt gets a directory of its own: its checkpoints (the
  // spec's cadence, and always the last) still go to the coordinator, so that the trained model
  // can be downloaded (DownloadCheckpoint), a requeued attempt resumes from them, and a search
  // trial from its rung.
  std::string attempt_dir;
  if (options.checkpoint_dir.empty()) {
    std::error_code error;
    attempt_dir = MakeAttemptDir(std::filesystem::temp_directory_path(error).string(), job.id());
    if (attempt_dir.empty()) {
      spdlog::warn(
          "{}: no directory for its checkpoints in the temporary directory ({}): none "
          "are written",
          job.id(), std::strerror(errno));
    }
  }
  if (!attempt_dir.empty()) {
    options.checkpoint_dir = attempt_dir;
    options.resume = true;
    options.checkpoints_best_effort = true;
    fetch_stored_checkpoint(attempt_dir);
    options.on_checkpoint = upload;
  }
  options.cancel = &cancel_;
  options.release = &released_;
  options.sink = &sink;
  options.on_start = [this, &job](int64_t step) {
    WorkerMessage started;
    started.mutable_started()->set_job_id(job.id());
    started.mutable_started()->set_attempt(job.attempts());
    started.mutable_started()->set_resumed_from_step(step);
    context_.outbox->Enqueue(std::move(started));
  };

  if (gang && context_.metrics != nullptr) {
    // Each rank's own step time and throughput on its worker's /metrics (the job's samples/s,
    // on the coordinator's, is their sum).
    options.on_replica_window = [this, &job](double step_seconds, double allreduce_seconds,
                                             double samples_per_second) {
      context_.metrics->ReplicaWindow(job.id(), context_.rank, step_seconds, allreduce_seconds);
      context_.metrics->TrainingProgress(job.id(), step_seconds, samples_per_second);
    };
  }

  std::vector<ArtifactCache::Lease> leases;
  // A coordinator away (restarting) while a file is fetched is waited for, as for a checkpoint.
  absl::Status ready =
      fetch_failure.ok() ? FetchArtifacts(&options.artifact_files, &leases) : fetch_failure;
  // No room for the job's files on this worker (its cache made what room it could): given back,
  // so that a worker with room takes it; it counts against spec.max_attempts.
  const bool no_room = IsDiskFull(ready);
  // A gang's rendezvous opens before the (slow) data loading, and is joined after it.
  std::unique_ptr<ReplicaGroup> group;
  if (ready.ok() && gang) {
    absl::StatusOr<std::unique_ptr<ReplicaGroup>> opened = OpenGang();
    ready = opened.status();
    if (opened.ok()) group = *std::move(opened);
    options.replicas = group.get();
  }
  // Whatever a user's files or model throw fails this job, never the worker and its other jobs.
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = absl::InternalError("not set up");
  try {
    trainer = ready.ok() ? Trainer::Create(job.spec(), options)
                         : absl::StatusOr<std::unique_ptr<Trainer>>(ready);
  } catch (const std::exception& e) {
    trainer = absl::InternalError(absl::StrCat("setting up the job: ", e.what()));
  }
  if (trainer.ok() && group != nullptr) {
    if (absl::Status joined = group->Join((*trainer)->device()); !joined.ok()) {
      trainer = joined;
    } else {
      spdlog::info("{}: rank {} of {} joined its gang through {}", job.id(), context_.rank,
                   context_.world_size, group->backend());
    }
  }
  if (trainer.ok()) {
    spdlog::info(
        "{} ({}): attempt {} training{}", job.id(), job.spec().name(), job.attempts(),
        job.checkpoint().empty() ? "" : absl::StrCat(" from its checkpoint ", job.checkpoint()));
  }
  absl::StatusOr<TrainingSummary> summary =
      trainer.ok() ? (*trainer)->Run() : absl::StatusOr<TrainingSummary>(trainer.status());
  // How far it trained, logged or not (a run that diverged between its logging points).
  const int64_t steps_run = trainer.ok() ? (*trainer)->steps_run() : 0;
  // Leaving the gang closes this rank's connections: peers still waiting on it fail at once.
  if (trainer.ok()) trainer->reset();
  if (gang && context_.metrics != nullptr) context_.metrics->ReplicaEnded(job.id(), context_.rank);
  const uint64_t points = sink.Flush();
  WorkerMessage result;
  bool last_checkpoint_stored = true;
  if (summary.ok()) {
    for (const std::string& why : summary->passed_over_checkpoints) {
      spdlog::warn("{}: passed over {}", job.id(), why);
    }
    for (const std::string& why : summary->checkpoint_failures) {
      spdlog::warn("{}: no checkpoint written (the job goes on): {}", job.id(), why);
    }
    // The final checkpoint goes to the coordinator's artifact store before the job is reported
    // done, retried while the coordinator is away (restarting): the job's record names it, and a
    // paused trial resumes from it (perhaps on another worker). An upload that still fails is
    // logged; the job still succeeded. Checkpoints during training are tried once each (the
    // next one supersedes a failed one), so an outage never stalls the training. A released
    // job's checkpoint is where its next attempt resumes.
    if (!summary->last_checkpoint.empty() && summary->last_checkpoint != uploaded) {
      // As during training: the points before the checkpoint are stored before it is named. A
      // released job's worker is about to exit, its unacknowledged points with it: its
      // checkpoint goes only once they are stored, within the drain's time (else the next
      // attempt would resume after points nobody has).
      const bool points_stored =
          points == 0 ||
          context_.outbox->WaitAcknowledged(
              points, summary->released ? kPointsBeforeCheckpoint : kPointsBeforeLastCheckpoint);
      if (points_stored || !summary->released) {
        last_checkpoint_stored = UploadLastCheckpoint(summary->last_checkpoint, summary->paused);
      } else {
        last_checkpoint_stored = false;
        spdlog::warn(
            "{}: not uploading {}: the coordinator has not stored the metric points "
            "before it",
            job.id(), summary->last_checkpoint);
      }
    }
  }
  // The step the attempt was to resume from (0: from scratch), and where it stopped: before its
  // first step (loading, joining its gang), there, as a failed attempt's steps are at least that
  // (probe DD: "at step 0"). Its next attempt resumes there only when it trained no step, or a
  // checkpoint there was written and stored: else (a full disk, a cut-off drain, a gang's rank)
  // from the last one stored before, which a log that names the step must not hide.
  const int64_t resume_step =
      CheckpointStep(std::filesystem::path(job.checkpoint()).filename().string()).value_or(0);
  const int64_t stopped_at =
      summary.ok() ? summary->steps : std::max({sink.last_step(), steps_run, resume_step});
  const bool resumes_here =
      stopped_at == resume_step ||
      (summary.ok() && !summary->release_checkpoint_failed && last_checkpoint_stored);
  constexpr char kNotCheckpointedThere[] =
      " with no checkpoint stored there: the next attempt resumes from the last one stored";
  // Cancelled only when the coordinator asked (a transfer it cut is also CANCELLED, but no
  // cancel of the job's: that attempt failed).
  const bool cancelled = !summary.ok() && !released_.load() && !let_go_.load() && cancel_.load() &&
                         summary.status().code() == absl::StatusCode::kCancelled;
  if (summary.ok() && !summary->released) {
    auto* finished = result.mutable_finished();
    finished->set_job_id(job.id());
    finished->set_attempt(job.attempts());
    finished->mutable_final_metrics()->insert(summary->final_metrics.begin(),
                                              summary->final_metrics.end());
    finished->set_steps(summary->steps);
    finished->set_seconds(summary->seconds);
    finished->set_resumed_from_step(summary->resumed_from_step);
    finished->set_paused(summary->paused);
  } else {
    auto* failed = result.mutable_failed();
    failed->set_job_id(job.id());
    failed->set_attempt(job.attempts());
    failed->set_steps(stopped_at);
    failed->set_worker_exits(released_.load());  // a drain's release: the process ends next
    if (summary.ok()) {                          // released, at a checkpoint
      failed->set_error(absl::StrCat("given back at step ", summary->steps,
                                     resumes_here ? "" : kNotCheckpointedThere));
      failed->set_released(true);
    } else {
      // Valid UTF-8 of a bounded length whatever LibTorch or a user's file put in it (the
      // coordinator refuses a message that is not, and it would go again forever), and the
      // worker's directories left out: a checkpoint reads as "job-x/ckpt-..." (the coordinator's).
      failed->set_error(CutError(WithoutCheckpointDirs(std::string(summary.status().message()),
                                                       {attempt_dir, context_.checkpoint_root})));
      failed->set_released(released_.load() || let_go_.load() || no_room);
      failed->set_cancelled(cancelled);
      failed->set_gang_lost(gang && summary.status().code() == absl::StatusCode::kUnavailable);
    }
  }
  if (!attempt_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(attempt_dir, ignored);
  }
  // The job's checkpoints here only spare a download of what the coordinator stored: once the
  // job has ended for good (succeeded with its last checkpoint stored, or cancelled) they go, or
  // --checkpoint_dir would grow with every job ever run; so do a search trial's once it pauses
  // at its rung with its checkpoint stored (it resumes from the coordinator's copy if promoted).
  const bool succeeded = summary.ok() && !summary->released && !summary->paused;
  const bool paused = summary.ok() && !summary->released && summary->paused;
  if (attempt_dir.empty() && !options.checkpoint_dir.empty() &&
      (((succeeded || paused) && last_checkpoint_stored) || cancelled)) {
    std::error_code ignored;
    std::filesystem::remove_all(options.checkpoint_dir, ignored);
  }
  // What became of the attempt, on this worker's own log (the coordinator has the job's).
  if (result.has_finished()) {
    spdlog::info("{}: attempt {} {} at step {} after {:.1f} s", job.id(), job.attempts(),
                 summary->paused ? "paused at its rung" : "finished", summary->steps,
                 summary->seconds);
  } else if (no_room) {
    spdlog::warn("{}: attempt {} given back: {}", job.id(), job.attempts(),
                 result.failed().error());
  } else if (result.failed().released()) {
    spdlog::info("{}: attempt {} given back at step {}{}", job.id(), job.attempts(),
                 result.failed().steps(), resumes_here ? "" : kNotCheckpointedThere);
  } else if (cancelled) {  // a resumed attempt still loading has trained no step of its own yet
    spdlog::info("{}: attempt {} cancelled {}", job.id(), job.attempts(),
                 stopped_at == resume_step ? std::string("before its first step")
                                           : absl::StrCat("at step ", stopped_at));
  } else {
    spdlog::warn("{}: attempt {} failed at step {}: {}", job.id(), job.attempts(),
                 result.failed().steps(), result.failed().error());
  }
  if (context_.on_training_ended) context_.on_training_ended();
  // Unless Abandon() reported the job already (it was stuck past its cancel).
  if (!result_taken_.exchange(true)) {
    result_sequence_ = context_.outbox->Enqueue(std::move(result));
  }
  // Only now leave the gang (closing this rank's connections): a rank that failed on its own
  // has its reason queued before its peers see it go and report their gang lost.
  group.reset();
  // Last: once done, the worker may destroy (join) this job from another thread.
  done_ = true;
}

}  // namespace polytrain
