#include "worker/service_worker.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "worker/trainer.h"

namespace polytrain {

using polytrain::v1::CoordinatorMessage;
using polytrain::v1::MetricPoint;
using polytrain::v1::WorkerMessage;
using Clock = std::chrono::steady_clock;

// Collects a job's metric points into batches: flushed at every evaluation, every 100 points
// and at least once a second.
class ServiceWorker::StreamingSink : public MetricSink {
 public:
  StreamingSink(ServiceWorker* worker, std::string job_id, int32_t attempt, int batch_size)
      : worker_(worker), job_id_(std::move(job_id)), attempt_(attempt), batch_size_(batch_size) {}

  void Emit(const MetricPoint& point) override {
    WorkerMetrics* metrics = worker_->options_.metrics;
    auto rate = point.values().find("samples_per_second");
    if (metrics != nullptr && point.kind() == MetricPoint::KIND_TRAIN &&
        rate != point.values().end() && rate->second > 0) {
      metrics->TrainingProgress(batch_size_ / rate->second, rate->second);
    }
    *batch_.add_points() = point;
    if (point.kind() == MetricPoint::KIND_EVAL || batch_.points_size() >= 100 ||
        Clock::now() - last_flush_ > std::chrono::seconds(1)) {
      Flush();
    }
  }

  void Flush() {
    last_flush_ = Clock::now();
    if (batch_.points_size() == 0) return;
    WorkerMessage message;
    *message.mutable_metrics() = std::move(batch_);
    message.mutable_metrics()->set_job_id(job_id_);
    message.mutable_metrics()->set_attempt(attempt_);
    worker_->Enqueue(std::move(message));
    batch_.Clear();
  }

 private:
  ServiceWorker* worker_;
  std::string job_id_;
  int32_t attempt_;
  int batch_size_;
  polytrain::v1::MetricBatch batch_;
  Clock::time_point last_flush_ = Clock::now();
};

ServiceWorker::ServiceWorker(Options options) : options_(std::move(options)) {}

ServiceWorker::~ServiceWorker() {
  Stop();
  if (sender_.joinable()) sender_.join();
  std::lock_guard<std::mutex> lock(jobs_mu_);
  for (auto& [id, job] : jobs_) {
    if (job->thread.joinable()) job->thread.join();
  }
}

void ServiceWorker::Stop() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    for (auto& [id, job] : jobs_) job->cancel = true;
  }
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  outbox_cv_.notify_all();
}

polytrain::v1::Hello ServiceWorker::MakeHello() {
  polytrain::v1::Hello hello;
  hello.set_name(options_.name);
  hello.set_version("0.1.0");
  hello.set_slots(options_.slots);
  hello.add_devices("cpu");
  if (options_.cuda) hello.add_devices("cuda");
  hello.set_threads(options_.threads);
  std::lock_guard<std::mutex> lock(jobs_mu_);
  for (const std::string& id : ClaimedJobsLocked()) hello.add_running_job_ids(id);
  return hello;
}

std::vector<std::string> ServiceWorker::ClaimedJobsLocked() const {
  std::vector<std::string> ids;
  for (const auto& [id, job] : jobs_) {
    if (!job->done || job->result_sequence > acked_through_) ids.push_back(id);
  }
  return ids;
}

uint64_t ServiceWorker::Enqueue(WorkerMessage message) {
  std::lock_guard<std::mutex> lock(outbox_mu_);
  const uint64_t sequence = ++next_sequence_;
  message.set_sequence(sequence);
  if (message.has_metrics()) buffered_points_ += message.metrics().points_size();
  outbox_.push_back(std::move(message));
  EnforceBoundLocked();
  if (options_.metrics != nullptr) options_.metrics->SetBufferedPoints(buffered_points_);
  outbox_cv_.notify_all();
  return sequence;
}

void ServiceWorker::EnforceBoundLocked() {
  size_t dropped = 0;
  for (std::deque<WorkerMessage>* queue : {&unacked_, &outbox_}) {
    for (auto it = queue->begin();
         buffered_points_ > options_.max_buffered_points && it != queue->end();) {
      if (!it->has_metrics()) {
        ++it;
        continue;
      }
      auto* points = it->mutable_metrics()->mutable_points();
      const size_t before = static_cast<size_t>(points->size());
      points->erase(std::remove_if(points->begin(), points->end(),
                                   [](const MetricPoint& point) {
                                     return point.kind() == MetricPoint::KIND_TRAIN;
                                   }),
                    points->end());
      const size_t removed = before - static_cast<size_t>(points->size());
      buffered_points_ -= removed;
      dropped += removed;
      if (points->empty()) {
        it = queue->erase(it);
      } else {
        ++it;
      }
    }
  }
  if (dropped > 0 && options_.metrics != nullptr) options_.metrics->PointsDropped(dropped);
}

void ServiceWorker::Acknowledge(uint64_t sequence) {
  uint64_t previous = acked_through_.load();
  while (sequence > previous && !acked_through_.compare_exchange_weak(previous, sequence)) {
  }
  std::lock_guard<std::mutex> lock(outbox_mu_);
  while (!unacked_.empty() && unacked_.front().sequence() <= sequence) {
    if (unacked_.front().has_metrics()) {
      buffered_points_ -= unacked_.front().metrics().points_size();
    }
    unacked_.pop_front();
  }
  if (options_.metrics != nullptr) options_.metrics->SetBufferedPoints(buffered_points_);
}

void ServiceWorker::SenderLoop() {
  Clock::time_point last_beat;
  int64_t resent_for = 0;  // the stream generation whose unacknowledged messages went again
  while (!stopping_) {
    std::deque<WorkerMessage> pending;
    {
      std::unique_lock<std::mutex> lock(outbox_mu_);
      outbox_cv_.wait_for(lock, std::chrono::milliseconds(100),
                          [&] { return stopping_ || !outbox_.empty(); });
      pending.swap(outbox_);
    }
    bool connected = true;
    {
      std::lock_guard<std::mutex> lock(stream_mu_);
      if (stream_ == nullptr) {
        connected = false;
      } else {
        if (resent_for != stream_generation_) {
          // A new stream: what the last one did not acknowledge goes first, in order (the
          // coordinator may have died before storing it).
          std::lock_guard<std::mutex> outbox_lock(outbox_mu_);
          pending.insert(pending.begin(), std::make_move_iterator(unacked_.begin()),
                         std::make_move_iterator(unacked_.end()));
          unacked_.clear();
          resent_for = stream_generation_;
        }
        while (!pending.empty() && stream_->Write(pending.front())) {
          std::lock_guard<std::mutex> outbox_lock(outbox_mu_);
          unacked_.push_back(std::move(pending.front()));
          pending.pop_front();
        }
        if (pending.empty() &&
            Clock::now() - last_beat > std::chrono::duration<double>(heartbeat_seconds_.load())) {
          WorkerMessage beat;
          beat.mutable_heartbeat();
          {
            std::lock_guard<std::mutex> jobs_lock(jobs_mu_);
            for (const std::string& id : ClaimedJobsLocked()) {
              beat.mutable_heartbeat()->add_running_job_ids(id);
            }
          }
          if (stream_->Write(beat)) last_beat = Clock::now();
        }
      }
    }
    if (!pending.empty()) {
      // Unsent: back in front of whatever arrived meanwhile, in order.
      std::unique_lock<std::mutex> lock(outbox_mu_);
      outbox_.insert(outbox_.begin(), pending.begin(), pending.end());
      // Without a stream, wait for one (or a stop) instead of spinning on the full outbox.
      if (!connected)
        outbox_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_.load(); });
    }
  }
}

absl::Status ServiceWorker::UploadCheckpoint(const polytrain::v1::Job& job,
                                             const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  grpc::ClientContext context;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(&context);
  if (!channel.ok()) return channel.status();
  auto stub = polytrain::v1::WorkerService::NewStub(*channel);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  polytrain::v1::ArtifactReceipt receipt;
  auto writer = stub->UploadArtifact(&context, &receipt);
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id(job.id());
  chunk.set_attempt(job.attempts());
  chunk.set_name(path.substr(path.find_last_of('/') + 1));
  uLong crc = crc32(0L, Z_NULL, 0);
  int64_t size = 0;
  std::string buffer(1 << 20, '\0');
  while (true) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize n = in.gcount();
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(n));
    size += n;
    const bool last = !in;
    if (last) {
      chunk.set_last(true);
      chunk.set_size(size);
      chunk.set_crc32(static_cast<uint32_t>(crc));
    }
    if (!writer->Write(chunk) || last) break;
    chunk.Clear();
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return absl::OkStatus();
}

absl::Status ServiceWorker::DownloadCheckpoint(const polytrain::v1::Job& job,
                                               const std::string& dir) {
  const std::string name = job.checkpoint().substr(job.checkpoint().find('/') + 1);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (std::filesystem::exists(dir + "/" + name)) return absl::OkStatus();  // resumed here before
  grpc::ClientContext context;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(&context);
  if (!channel.ok()) return channel.status();
  auto stub = polytrain::v1::WorkerService::NewStub(*channel);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  polytrain::v1::DownloadArtifactRequest request;
  request.set_path(job.checkpoint());
  request.set_or_older_checkpoint(true);  // a damaged newest one: the one before it
  auto reader = stub->DownloadArtifact(&context, request);
  std::string target, temp;
  std::ofstream out;
  uLong crc = crc32(0L, Z_NULL, 0);
  int64_t size = 0;
  polytrain::v1::ArtifactChunk chunk;
  bool complete = false;
  while (reader->Read(&chunk)) {
    if (target.empty()) {  // the first chunk names the checkpoint served
      if (chunk.name().rfind("ckpt-", 0) != 0 || chunk.name().find('/') != std::string::npos) {
        context.TryCancel();
        break;
      }
      target = dir + "/" + chunk.name();
      temp = target + ".download";
      out.open(temp, std::ios::binary | std::ios::trunc);
      if (chunk.name() != name) {
        std::fprintf(stderr, "polytrain-worker: %s: %s is damaged; resuming from %s\n",
                     job.id().c_str(), name.c_str(), chunk.name().c_str());
      }
    }
    out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(chunk.data().data()),
                static_cast<uInt>(chunk.data().size()));
    size += static_cast<int64_t>(chunk.data().size());
    if (chunk.last()) {
      complete = chunk.size() == size && chunk.crc32() == static_cast<uint32_t>(crc);
    }
  }
  out.close();
  const grpc::Status status = reader->Finish();
  if (!status.ok() || !complete || !out) {
    if (!temp.empty()) std::filesystem::remove(temp, error);
    return status.ok() ? absl::DataLossError(absl::StrCat(job.checkpoint(), ": corrupt download"))
                       : absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                      status.error_message());
  }
  POLYTRAIN_RETURN_IF_ERROR(RecordCheckpointChecksum(target, {size, static_cast<uint32_t>(crc)}));
  std::filesystem::rename(temp, target, error);
  if (error) return absl::InternalError(absl::StrCat(target, ": ", error.message()));
  return absl::OkStatus();
}

void ServiceWorker::RunJob(polytrain::v1::Job job, RunningJob* state) {
  TrainerOptions options;
  options.data_root = options_.data_root;
  if (!options_.checkpoint_root.empty()) {
    options.checkpoint_dir = options_.checkpoint_root + "/" + job.id();
    options.resume = true;  // continue from the newest checkpoint there
    // A requeued job resumes from the checkpoint its earlier attempt uploaded, wherever that
    // attempt ran; every checkpoint this attempt writes is uploaded in turn.
    if (!job.checkpoint().empty()) {
      if (absl::Status s = DownloadCheckpoint(job, options.checkpoint_dir); !s.ok()) {
        std::fprintf(stderr, "polytrain-worker: %s: starting from scratch: %s\n", job.id().c_str(),
                     std::string(s.message()).c_str());
      }
    }
    options.on_checkpoint = [this, &job](const std::string& path) {
      if (absl::Status s = UploadCheckpoint(job, path); !s.ok()) {
        std::fprintf(stderr, "polytrain-worker: uploading %s: %s\n", path.c_str(),
                     std::string(s.message()).c_str());
      }
    };
  }
  options.cancel = &state->cancel;
  StreamingSink sink(this, job.id(), job.attempts(), job.spec().batch_size());
  options.sink = &sink;
  options.on_start = [this, &job](int64_t step) {
    WorkerMessage started;
    started.mutable_started()->set_job_id(job.id());
    started.mutable_started()->set_attempt(job.attempts());
    started.mutable_started()->set_resumed_from_step(step);
    Enqueue(std::move(started));
  };

  WorkerMessage result;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(job.spec(), options);
  absl::StatusOr<TrainingSummary> summary =
      trainer.ok() ? (*trainer)->Run() : absl::StatusOr<TrainingSummary>(trainer.status());
  sink.Flush();
  if (summary.ok()) {
    for (const std::string& why : summary->passed_over_checkpoints) {
      std::fprintf(stderr, "polytrain-worker: %s: passed over %s\n", job.id().c_str(), why.c_str());
    }
  }
  if (summary.ok() && !summary->last_checkpoint.empty()) {
    // The final checkpoint goes to the coordinator's artifact store before the job is reported
    // done; a failed upload is logged, the job still succeeded.
    if (absl::Status s = UploadCheckpoint(job, summary->last_checkpoint); !s.ok()) {
      std::fprintf(stderr, "polytrain-worker: uploading %s: %s\n", summary->last_checkpoint.c_str(),
                   std::string(s.message()).c_str());
    }
  }
  if (summary.ok()) {
    auto* finished = result.mutable_finished();
    finished->set_job_id(job.id());
    finished->set_attempt(job.attempts());
    finished->mutable_final_metrics()->insert(summary->final_metrics.begin(),
                                              summary->final_metrics.end());
    finished->set_steps(summary->steps);
    finished->set_seconds(summary->seconds);
    finished->set_resumed_from_step(summary->resumed_from_step);
  } else {
    auto* failed = result.mutable_failed();
    failed->set_job_id(job.id());
    failed->set_attempt(job.attempts());
    failed->set_error(std::string(summary.status().message()));
    failed->set_cancelled(summary.status().code() == absl::StatusCode::kCancelled);
  }
  const int running = --running_jobs_;
  if (options_.metrics != nullptr) options_.metrics->SetJobsRunning(running);
  state->result_sequence = Enqueue(std::move(result));
  // Last: once done, the reader thread may join this thread (it holds jobs_mu_ meanwhile, so
  // nothing here may take jobs_mu_ after this).
  state->done = true;
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
    std::cerr << "polytrain-worker: " << channel.status().message() << "\n";
    return false;
  }
  auto stub = polytrain::v1::WorkerService::NewStub(*channel);
  auto stream = stub->Connect(&context);
  WorkerMessage hello;
  *hello.mutable_hello() = MakeHello();
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    if (stopping_) return false;
    if (!stream->Write(hello)) {
      (void)stream->Finish();
      return false;
    }
    context_ = &context;
    stream_ = stream.get();
    ++stream_generation_;
  }
  outbox_cv_.notify_all();

  bool welcomed = false;
  CoordinatorMessage message;
  while (stream->Read(&message)) {
    switch (message.kind_case()) {
      case CoordinatorMessage::kWelcome:
        welcomed = true;
        heartbeat_seconds_ = message.welcome().heartbeat_seconds();
        break;
      case CoordinatorMessage::kAssignment: {
        const polytrain::v1::Job& job = message.assignment().job();
        std::lock_guard<std::mutex> lock(jobs_mu_);
        // Reap jobs that ended and whose result the coordinator has; an ended attempt of this
        // very job goes too (assigned again, the coordinator has given up on that one).
        for (auto it = jobs_.begin(); it != jobs_.end();) {
          if (it->second->done &&
              (it->second->result_sequence <= acked_through_ || it->first == job.id())) {
            it->second->thread.join();
            it = jobs_.erase(it);
          } else {
            ++it;
          }
        }
        if (jobs_.count(job.id()) != 0) break;  // already running it
        auto state = std::make_unique<RunningJob>();
        RunningJob* raw = state.get();
        const int running = ++running_jobs_;
        if (options_.metrics != nullptr) options_.metrics->SetJobsRunning(running);
        state->thread = std::thread([this, job, raw] { RunJob(job, raw); });
        jobs_[job.id()] = std::move(state);
        break;
      }
      case CoordinatorMessage::kCancel: {
        std::lock_guard<std::mutex> lock(jobs_mu_);
        auto it = jobs_.find(message.cancel().job_id());
        if (it != jobs_.end()) it->second->cancel = true;
        break;
      }
      case CoordinatorMessage::kAck:
        Acknowledge(message.ack().sequence());
        break;
      case CoordinatorMessage::KIND_NOT_SET:
        break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    stream_ = nullptr;
    context_ = nullptr;
  }
  const grpc::Status status = stream->Finish();
  if (!stopping_ && !status.ok()) {
    std::fprintf(stderr, "polytrain-worker: stream to %s closed: %s\n",
                 options_.coordinator.c_str(), status.error_message().c_str());
  }
  return welcomed;
}

void ServiceWorker::Run() {
  sender_ = std::thread([this] { SenderLoop(); });
  double backoff = 0.1;
  while (!stopping_) {
    if (ServeOneConnection()) backoff = 0.1;
    if (stopping_) break;
    std::unique_lock<std::mutex> lock(outbox_mu_);
    outbox_cv_.wait_for(lock, std::chrono::duration<double>(backoff),
                        [&] { return stopping_.load(); });
    backoff = std::min(backoff * 2, 5.0);
  }
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    for (auto& [id, job] : jobs_) {
      if (job->thread.joinable()) job->thread.join();
    }
  }
  if (sender_.joinable()) sender_.join();
}

}  // namespace polytrain
