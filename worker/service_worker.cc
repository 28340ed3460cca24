#include "worker/service_worker.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "api/limits.h"
#include "grpcpp/create_channel.h"
#include "spdlog/spdlog.h"
#include "worker/checkpoint_files.h"
#include "worker/compute_threads.h"
#include "worker/gpu_memory.h"
#include "worker/outbound_address.h"
#include "worker/redial_backoff.h"

namespace polytrain {

using polytrain::v1::CoordinatorMessage;
using polytrain::v1::WorkerMessage;
using Clock = std::chrono::steady_clock;

ServiceWorker::ServiceWorker(Options options)
    : options_(std::move(options)),
      outbox_(options_.max_buffered_points, options_.metrics),
      artifacts_([this](grpc::ClientContext* context) { return Dial(context); },
                 [this] {
                   std::lock_guard<std::mutex> lock(session_key_mu_);
                   return session_key_;
                 }),
      gpu_slots_(options_.gpus) {
  absl::StatusOr<std::unique_ptr<ArtifactCache>> cache = ArtifactCache::Open(
      options_.artifact_cache_dir, options_.artifact_cache_bytes,
      [this](const std::string& id, const std::string& dir) {
        const std::string hex = ArtifactHex(id);
        return artifacts_
            .Download(
                absl::StrCat(kUserArtifactDir, "/", hex), /*or_older_checkpoint=*/false, dir,
                [hex](const std::string& served) { return served == hex; },
                [](const ArtifactClient::Downloaded&) { return absl::OkStatus(); })
            .status();
      });
  if (cache.ok()) {
    artifact_cache_ = *std::move(cache);
  } else {
    spdlog::error("no artifact cache: {}", std::string(cache.status().message()));
  }
}

ServiceWorker::~ServiceWorker() {
  Stop();
  if (sender_.joinable()) sender_.join();
  std::lock_guard<std::mutex> lock(jobs_mu_);
  jobs_.clear();  // joins each job's thread
}

void ServiceWorker::Stop() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    for (auto& [id, job] : jobs_) job->Cancel();
  }
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  outbox_.Close();
}

void ServiceWorker::RefreshMetrics() {
  if (options_.metrics == nullptr) return;
  options_.metrics->RefreshProcessMemory();
  for (int gpu : options_.gpus) {
    const std::optional<GpuMemory> memory = ReadGpuMemory(torch::Device(torch::kCUDA, gpu));
    options_.metrics->SetGpu(gpu, memory ? static_cast<double>(memory->allocated_bytes) : 0.0,
                             memory ? static_cast<double>(memory->reserved_bytes) : 0.0,
                             gpu_slots_.JobOn(gpu).empty() ? 0 : 1);
  }
}

polytrain::v1::Hello ServiceWorker::MakeHello() {
  polytrain::v1::Hello hello;
  hello.set_name(options_.name);
  hello.set_version("0.1.0");
  hello.set_slots(options_.slots);
  hello.add_devices("cpu");
  if (!options_.gpus.empty()) hello.add_devices("cuda");
  hello.set_threads(options_.threads);
  {
    // Proves the claims below are this process's (worker tokens may be shared).
    std::lock_guard<std::mutex> lock(session_key_mu_);
    hello.set_previous_session_key(session_key_);
  }
  std::lock_guard<std::mutex> lock(jobs_mu_);
  for (const std::string& id : ClaimedJobsLocked()) hello.add_running_job_ids(id);
  return hello;
}

std::vector<std::string> ServiceWorker::ClaimedJobsLocked() const {
  std::vector<std::string> ids;
  for (const auto& [id, job] : jobs_) {
    if ((!job->done() && !job->abandoned()) ||
        job->result_sequence() > outbox_.acknowledged_through()) {
      ids.push_back(id);
    }
  }
  return ids;
}

void ServiceWorker::AbandonStuckJobs() {
  bool abandoned = false;
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    for (auto& [id, job] : jobs_) {
      if (job->abandoned() || !job->StuckAfterCancel(options_.cancel_grace)) continue;
      const std::string why = absl::StrCat(
          "cancelled; it did not stop within ", options_.cancel_grace.count(),
          " s of its cancel (stuck in its model's code, in reading a file or in a collective), "
          "so worker ",
          options_.name, " exits to end it");
      if (job->Abandon(why, /*worker_exits=*/options_.on_stuck != nullptr)) {
        spdlog::error("{}: {}", id, why);
        abandoned = true;
      }
    }
  }
  if (abandoned && options_.on_stuck) options_.on_stuck();
}

void ServiceWorker::SenderLoop() {
  Clock::time_point last_beat, last_stuck_check;
  bool said_draining = false;  // a drain is said at once, not at the next heartbeat
  while (!stopping_) {
    if (Clock::now() - last_stuck_check >= std::chrono::seconds(1)) {
      last_stuck_check = Clock::now();
      AbandonStuckJobs();
    }
    int64_t stream = 0;
    {
      std::lock_guard<std::mutex> lock(stream_mu_);
      if (stream_ != nullptr) stream = stream_generation_;
    }
    if (stream == 0) {  // no stream: wait for one (or a stop) instead of spinning
      outbox_.WaitUnlessClosed(std::chrono::milliseconds(100));
      continue;
    }
    std::deque<WorkerMessage> pending = outbox_.TakeUnsent(stream, std::chrono::milliseconds(100));
    {
      std::lock_guard<std::mutex> lock(stream_mu_);
      if (stream_ != nullptr && stream_generation_ == stream) {
        while (!pending.empty() && stream_->Write(pending.front())) {
          outbox_.Written(std::move(pending.front()));
          pending.pop_front();
        }
        const bool draining = draining_.load();
        if (pending.empty() &&
            (Clock::now() - last_beat > std::chrono::duration<double>(heartbeat_seconds_.load()) ||
             (draining && !said_draining))) {
          WorkerMessage beat;
          {
            std::lock_guard<std::mutex> jobs_lock(jobs_mu_);
            for (const std::string& id : ClaimedJobsLocked()) {
              beat.mutable_heartbeat()->add_running_job_ids(id);
            }
          }
          beat.mutable_heartbeat()->set_draining(draining);
          if (stream_->Write(beat)) {
            last_beat = Clock::now();
            said_draining = said_draining || draining;
          }
        }
      }
    }
    // Unsent: back in front of whatever arrived meanwhile, in order.
    if (!pending.empty()) outbox_.ReturnUnsent(std::move(pending));
  }
}

void ServiceWorker::PassRendezvous(const polytrain::v1::Rendezvous& rendezvous) {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  auto it = jobs_.find(rendezvous.job_id());
  if (it != jobs_.end() && it->second->attempt() == rendezvous.attempt()) {
    it->second->SetRendezvous(rendezvous.address());
  }
}

void ServiceWorker::Assign(const polytrain::v1::Assignment& assignment) {
  const polytrain::v1::Job& job = assignment.job();
  std::unique_lock<std::mutex> lock(jobs_mu_);
  // Reap jobs that ended and whose result the coordinator has; an ended attempt of this very
  // job goes too (assigned again, the coordinator has given up on that one).
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const bool stored = it->second->result_sequence() <= outbox_.acknowledged_through();
    if (it->second->done() && (stored || it->first == job.id())) {
      it = jobs_.erase(it);  // joins its thread, which has nothing left to do
    } else {
      ++it;
    }
  }
  auto held = jobs_.find(job.id());
  if (held != jobs_.end() && held->second->attempt() < job.attempts()) {
    // A newer attempt of a job whose old attempt is still winding down here (a search trial
    // promoted as soon as it paused): the coordinator has the old one's result; it goes first.
    // Joined without the lock: it may take as long as a checkpoint upload, and heartbeats for
    // every other job need the lock meanwhile.
    std::unique_ptr<ServiceJob> old = std::move(held->second);
    jobs_.erase(held);
    old->Cancel();
    lock.unlock();
    old.reset();  // joins its thread
    lock.lock();
    if (stopping_) return;  // Stop() ran meanwhile: it could not cancel a job not yet here
  }
  if (jobs_.count(job.id()) != 0) return;  // already running it
  if (draining_) {
    // Shutting down: the job goes straight back, as the running ones did (the coordinator sent
    // it before it heard of the drain), and is requeued for another worker.
    WorkerMessage back;
    back.mutable_failed()->set_job_id(job.id());
    back.mutable_failed()->set_attempt(job.attempts());
    back.mutable_failed()->set_error("its worker is shutting down");
    back.mutable_failed()->set_released(true);
    back.mutable_failed()->set_worker_exits(true);
    given_back_sequence_ = outbox_.Enqueue(std::move(back));
    return;
  }
  const int running = ++running_jobs_;
  if (options_.metrics != nullptr) options_.metrics->SetJobsRunning(running);
  ServiceJob::Context context;
  context.data_root = options_.data_root;
  context.checkpoint_root = options_.checkpoint_root;
  context.outbox = &outbox_;
  context.artifacts = &artifacts_;
  context.artifact_cache = artifact_cache_.get();
  context.metrics = options_.metrics;
  context.max_threads = ThreadsPerJob(options_.threads, options_.slots);
  context.rank = assignment.rank();
  context.world_size = std::max(1, assignment.world_size());
  context.advertise_host = options_.advertise_host;
  if (context.world_size > 1 && context.advertise_host.empty()) {
    // Not known at start-up (the coordinator's name did not resolve then): asked again now.
    context.advertise_host = OutboundAddressTo(options_.coordinator).value_or("");
  }
  context.replica_timeout_seconds = options_.replica_timeout_seconds;
  context.gang_process_binary = options_.gang_process_binary;
  if (!options_.gpus.empty()) {
    // The coordinator assigns at most `slots` jobs, one per GPU; were it to send more, the job
    // shares the first GPU rather than being refused.
    const std::optional<int> gpu = gpu_slots_.Acquire(job.id());
    if (!gpu) spdlog::warn("{}: every GPU is busy; sharing GPU {}", job.id(), options_.gpus[0]);
    context.cuda_device = gpu.value_or(options_.gpus[0]);
  }
  context.on_training_ended = [this, id = job.id()] {
    gpu_slots_.Release(id);
    const int left = --running_jobs_;
    if (options_.metrics != nullptr) {
      options_.metrics->SetJobsRunning(left);
      options_.metrics->TrainingEnded(id);
    }
  };
  RemoveIdleCheckpoints(job.id());
  jobs_[job.id()] = std::make_unique<ServiceJob>(job, std::move(context));
}

void ServiceWorker::RemoveIdleCheckpoints(const std::string& assigned) {
  std::error_code error;
  for (const std::string& name :
       RemoveOrphanedAttemptDirs(std::filesystem::temp_directory_path(error).string())) {
    spdlog::info("removed {}: the checkpoints of an attempt whose worker process is gone", name);
  }
  std::set<std::string> running = {assigned};
  for (const auto& [id, job] : jobs_) running.insert(id);
  for (const std::string& id :
       RemoveIdleJobDirs(options_.checkpoint_root, options_.checkpoint_keep, running)) {
    spdlog::info(
        "removed {}/{}: the job no longer runs here and nothing was written there for {} h "
        "(--checkpoint_keep_hours)",
        options_.checkpoint_root, id,
        std::chrono::duration<double, std::ratio<3600>>(options_.checkpoint_keep).count());
  }
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ServiceWorker::Dial(grpc::ClientContext* context) {
  ClientSecurityOptions security = options_.security;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(options_.coordinator, &security);
  if (channel.ok()) AddToken(security, context);
  return channel;
}

bool ServiceWorker::ServeOneConnection() {
  grpc::ClientContext context;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(&context);
  if (!channel.ok()) {
    spdlog::error("{}", std::string(channel.status().message()));
    return false;
  }
  auto stub = polytrain::v1::WorkerService::NewStub(*channel);
  auto stream = stub->Connect(&context);
  WorkerMessage hello;
  *hello.mutable_hello() = MakeHello();
  bool written = false;
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    if (stopping_) return false;
    written = stream->Write(hello);
    if (written) {
      context_ = &context;
      stream_ = stream.get();
      ++stream_generation_;
    }
  }
  if (!written) {
    NotConnected(stream->Finish());  // outside stream_mu_: it takes jobs_mu_
    return false;
  }
  outbox_.Wake();

  bool welcomed = false;
  double lease_seconds = 0;
  std::chrono::steady_clock::time_point welcomed_at;
  CoordinatorMessage message;
  while (stream->Read(&message)) {
    switch (message.kind_case()) {
      case CoordinatorMessage::kWelcome:
        // Said once the coordinator has taken the hello, not when the process starts.
        spdlog::info("connected to {}{}", options_.coordinator,
                     failed_connections_ > 0
                         ? absl::StrCat(" after ", failed_connections_, " failed attempt(s)")
                         : "");
        failed_connections_ = 0;
        welcomed = true;
        ever_welcomed_ = true;
        welcomed_at = std::chrono::steady_clock::now();
        heartbeat_seconds_ = message.welcome().heartbeat_seconds();
        lease_seconds = message.welcome().lease_seconds();
        {
          std::lock_guard<std::mutex> lock(session_key_mu_);
          session_key_ = message.welcome().session_key();
        }
        {
          // A job waiting to fetch or upload while the coordinator was away tries again now.
          std::lock_guard<std::mutex> lock(jobs_mu_);
          for (auto& entry : jobs_) entry.second->CoordinatorBack();
        }
        break;
      case CoordinatorMessage::kAssignment:
        Assign(message.assignment());
        break;
      case CoordinatorMessage::kRendezvous:
        PassRendezvous(message.rendezvous());
        break;
      case CoordinatorMessage::kCancel: {
        std::lock_guard<std::mutex> lock(jobs_mu_);
        auto it = jobs_.find(message.cancel().job_id());
        if (it != jobs_.end()) it->second->Cancel();
        break;
      }
      case CoordinatorMessage::kAck:
        if (!message.ack().refused().empty()) {
          // Dropped for good: said here, where this worker's operator looks.
          spdlog::warn("the coordinator refused message {} from this worker: {}",
                       message.ack().refused_sequence(), message.ack().refused());
        }
        outbox_.Acknowledge(message.ack().sequence());
        break;
      case CoordinatorMessage::KIND_NOT_SET:
        break;
    }
    if (welcomed) refused_lease_.Contact(std::chrono::steady_clock::now(), lease_seconds);
  }
  if (welcomed) refused_lease_.Contact(std::chrono::steady_clock::now(), lease_seconds);
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    stream_ = nullptr;
    context_ = nullptr;
  }
  const grpc::Status status = stream->Finish();
  if (!welcomed && !stopping_) {
    NotConnected(status);
  } else if (!stopping_ && !status.ok()) {
    spdlog::warn("stream to {} closed: {}", options_.coordinator, status.error_message());
  }
  // A coordinator that welcomes the worker and then closes at once (its store failing, say) is
  // dialled with the growing backoff too, not ten times a second.
  return welcomed && std::chrono::steady_clock::now() - welcomed_at >= kHealthyConnection;
}

void ServiceWorker::Run() {
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    RemoveIdleCheckpoints("");
  }
  sender_ = std::thread([this] { SenderLoop(); });
  RedialBackoff backoff;
  while (!stopping_ && !gave_up_) {
    if (ServeOneConnection()) backoff.Reset();
    if (stopping_ || gave_up_) break;
    outbox_.WaitUnlessClosed(backoff.Next(heartbeat_seconds_.load()));
  }
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    jobs_.clear();  // joins each job's thread (Stop cancelled them)
  }
  if (sender_.joinable()) sender_.join();
}

}  // namespace polytrain
