#include "worker/service_job.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/worker_messages.h"
#include "common/chunked_file.h"
#include "spdlog/spdlog.h"
#include "worker/device_choice.h"
#include "worker/streaming_sink.h"
#include "worker/trainer.h"

namespace polytrain {

using polytrain::v1::WorkerMessage;

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
  TrainerOptions options;
  std::string attempt_dir;  // without --checkpoint_dir: the attempt's own, removed at its end
  const absl::Status fetch_failure = PrepareAttempt(&sink, &uploaded, &options, &attempt_dir);
  const bool gang = context_.world_size > 1;
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
  const bool last_checkpoint_stored =
      !summary.ok() || StoreLastCheckpoint(*summary, points, uploaded);
  const Ending ending =
      EndingOf(summary, std::max(sink.last_step(), steps_run), last_checkpoint_stored, no_room);
  WorkerMessage result = Report(summary, ending, attempt_dir);
  RemoveSpentCheckpoints(summary, ending, options.checkpoint_dir, attempt_dir);
  LogEnding(result, summary, ending);
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
