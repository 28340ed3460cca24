#include "server/grpc_services.h"

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>

#include "common/grpc_status.h"

namespace polytrain {
namespace {

using polytrain::v1::CoordinatorMessage;
using polytrain::v1::WorkerMessage;

// Authenticates the caller, runs `call(caller)` (returning StatusOr<Response>), finishes the
// unary RPC with its result and records it.
template <typename Response, typename Call>
grpc::ServerUnaryReactor* Unary(const char* method, CoordinatorMetrics* metrics,
                                const AccessControl* access, grpc::CallbackServerContext* context,
                                Response* response, Call call) {
  const auto start = std::chrono::steady_clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status result_status;
  if (absl::StatusOr<Caller> caller = access->ClientCaller(*context); !caller.ok()) {
    result_status = caller.status();
  } else {
    absl::StatusOr<Response> result = call(*caller);
    if (result.ok()) *response = *std::move(result);
    result_status = result.status();
  }
  const grpc::Status status = ToGrpcStatus(result_status);
  if (metrics != nullptr) {
    metrics->Rpc(method, status.error_code(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  reactor->Finish(status);
  return reactor;
}

// One worker's stream: reads hello then messages into the Coordinator; writes what the
// Coordinator sends, one write in flight at a time.
class WorkerConnection final : public grpc::ServerBidiReactor<WorkerMessage, CoordinatorMessage>,
                               public WorkerChannel {
 public:
  // A refused `access` finishes the stream at once.
  WorkerConnection(Coordinator* coordinator, const absl::Status& access)
      : coordinator_(coordinator) {
    if (!access.ok()) {
      CloseWith(ToGrpcStatus(access));
      return;
    }
    StartRead(&incoming_);
  }

  void Send(const CoordinatorMessage& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) return;
    outgoing_.push_back(message);
    if (!writing_) WriteNextLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      CloseWith(grpc::Status::OK);
      return;
    }
    if (session_ < 0) {
      if (!incoming_.has_hello()) {
        CloseWith(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               "the first message on a worker stream must be a hello"));
        return;
      }
      absl::StatusOr<int64_t> session = coordinator_->WorkerConnected(incoming_.hello(), this);
      if (!session.ok()) {
        CloseWith(ToGrpcStatus(session.status()));
        return;
      }
      session_ = *session;
    } else if (absl::Status s = coordinator_->HandleWorkerMessage(session_, incoming_);
               s.code() == absl::StatusCode::kInvalidArgument) {
      // Refused for good: acknowledged so the worker does not send it again at every reconnect.
      std::fprintf(stderr, "polytrain-coordinator: refused a message from a worker: %s\n",
                   std::string(s.message()).c_str());
      if (incoming_.sequence() != 0) SendAck(incoming_.sequence());
    } else if (!s.ok()) {
      CloseWith(ToGrpcStatus(s));  // e.g. the store failed: the worker sends it again later
      return;
    } else if (incoming_.sequence() != 0) {
      SendAck(incoming_.sequence());  // stored: the worker may forget it
    }
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      outgoing_.clear();
    } else if (!outgoing_.empty()) {
      WriteNextLocked();
      return;
    }
    if (finishing_ && !finished_) {
      finished_ = true;
      Finish(final_status_);
    }
  }

  void OnDone() override {
    if (session_ >= 0) coordinator_->WorkerDisconnected(session_);
    delete this;
  }

 private:
  void WriteNextLocked() {
    current_ = std::move(outgoing_.front());
    outgoing_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  void SendAck(uint64_t sequence) {
    CoordinatorMessage ack;
    ack.mutable_ack()->set_sequence(sequence);
    Send(ack);
  }

  // Stops taking messages from the Coordinator and finishes once no write is in flight.
  void CloseWith(const grpc::Status& status) {
    if (session_ >= 0) {
      coordinator_->WorkerDisconnected(session_);
      session_ = -1;
    }
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
    final_status_ = status;
    outgoing_.clear();
    if (!writing_ && !finished_) {
      finished_ = true;
      Finish(status);
    }
  }

  Coordinator* coordinator_;
  int64_t session_ = -1;
  WorkerMessage incoming_;
  std::mutex mu_;
  std::deque<CoordinatorMessage> outgoing_;
  CoordinatorMessage current_;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
};

// One WatchJob stream: the Coordinator pushes events (under its lock), this queues them and
// writes one at a time; the stream finishes after the job's final state.
class JobWatch final : public grpc::ServerWriteReactor<polytrain::v1::JobEvent>, public JobWatcher {
 public:
  JobWatch(Coordinator* coordinator, const polytrain::v1::WatchJobRequest& request,
           const absl::StatusOr<Caller>& caller)
      : coordinator_(coordinator), job_id_(request.id()) {
    const absl::Status status =
        caller.ok() ? coordinator_->Watch(request, this, *caller) : caller.status();
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      FinishLocked(ToGrpcStatus(status));
    }
  }

  void OnEvent(const polytrain::v1::JobEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    pending_.push_back(event);
    if (!writing_) WriteNextLocked();
  }

  void OnEnd() override {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    if (!writing_ && pending_.empty()) FinishLocked(grpc::Status::OK);
  }

  void OnWriteDone(bool ok) override {
    bool client_gone = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        client_gone = true;
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
      } else if (!pending_.empty()) {
        WriteNextLocked();
      } else if (ended_) {
        FinishLocked(grpc::Status::OK);
      }
    }
    // Outside our lock: the Coordinator calls OnEvent while holding its own.
    if (client_gone) coordinator_->Unwatch(job_id_, this);
  }

  void OnCancel() override {
    coordinator_->Unwatch(job_id_, this);
    std::lock_guard<std::mutex> lock(mu_);
    if (!writing_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    coordinator_->Unwatch(job_id_, this);  // no event can arrive after this returns
    delete this;
  }

 private:
  void WriteNextLocked() {
    current_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }
  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    pending_.clear();
    Finish(status);
  }

  Coordinator* coordinator_;
  const std::string job_id_;
  std::mutex mu_;
  std::deque<polytrain::v1::JobEvent> pending_;
  polytrain::v1::JobEvent current_;
  bool writing_ = false;
  bool ended_ = false;
  bool finished_ = false;
};

// One UploadArtifact stream: chunks into an ArtifactStore upload, committed at the last chunk.
class ArtifactUpload final : public grpc::ServerReadReactor<polytrain::v1::ArtifactChunk> {
 public:
  ArtifactUpload(Coordinator* coordinator, ArtifactStore* artifacts,
                 polytrain::v1::ArtifactReceipt* receipt, const absl::Status& access)
      : coordinator_(coordinator), artifacts_(artifacts), receipt_(receipt) {
    if (!access.ok()) {
      Finish(ToGrpcStatus(access));
      return;
    }
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the upload ended before its last chunk"));
      return;
    }
    if (upload_ == nullptr) {
      polytrain::v1::GetJobRequest get;
      get.set_id(chunk_.job_id());
      if (absl::Status s = coordinator_->GetJob(get).status(); !s.ok()) {
        Finish(ToGrpcStatus(s));
        return;
      }
      absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> upload =
          artifacts_->Begin(chunk_.job_id(), chunk_.name());
      if (!upload.ok()) {
        Finish(ToGrpcStatus(upload.status()));
        return;
      }
      upload_ = *std::move(upload);
      job_id_ = chunk_.job_id();
      name_ = chunk_.name();
    }
    if (chunk_.data().size() > (1u << 20)) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "data: chunks are at most 1 MiB"));
      return;
    }
    if (absl::Status s = upload_->Append(chunk_.data()); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    if (!chunk_.last()) {
      StartRead(&chunk_);
      return;
    }
    absl::StatusOr<std::string> path = upload_->Commit(chunk_.size(), chunk_.crc32());
    if (!path.ok()) {
      Finish(ToGrpcStatus(path.status()));
      return;
    }
    if (absl::Status s = coordinator_->ArtifactStored(job_id_, name_, *path); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    artifacts_->PruneOlder(job_id_, kCheckpointPrefix, kStoredCheckpointsPerJob);
    receipt_->set_path(*path);
    receipt_->set_size(chunk_.size());
    Finish(grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  Coordinator* coordinator_;
  ArtifactStore* artifacts_;
  polytrain::v1::ArtifactReceipt* receipt_;
  polytrain::v1::ArtifactChunk chunk_;
  std::unique_ptr<ArtifactStore::Upload> upload_;
  std::string job_id_, name_;
};

// One DownloadArtifact stream: a stored file that still matches its record (or, when asked, the
// newest older intact checkpoint), in 1 MiB chunks, one write at a time. The first chunk names
// the file; the last carries the size and CRC-32 recorded when it was stored, so the receiver
// also catches a file that changed while it was read.
class ArtifactDownload final : public grpc::ServerWriteReactor<polytrain::v1::ArtifactChunk> {
 public:
  ArtifactDownload(ArtifactStore* artifacts, const polytrain::v1::DownloadArtifactRequest& request,
                   const absl::Status& access) {
    if (!access.ok()) {
      Finish(ToGrpcStatus(access));
      return;
    }
    std::vector<std::string> passed_over;
    const bool checkpoint =
        request.or_older_checkpoint() &&
        request.path().find(std::string("/") + kCheckpointPrefix) != std::string::npos;
    absl::StatusOr<IntactArtifact> file =
        checkpoint ? artifacts->FindIntactOrOlder(request.path(), kCheckpointPrefix, &passed_over)
                   : artifacts->FindIntact(request.path());
    for (const std::string& why : passed_over) {
      std::fprintf(stderr, "polytrain-coordinator: passed over %s\n", why.c_str());
    }
    if (!file.ok()) {
      Finish(ToGrpcStatus(file.status()));
      return;
    }
    file_ = *std::move(file);
    in_.open(file_.path, std::ios::binary);
    chunk_.set_job_id(file_.relative.substr(0, file_.relative.find('/')));
    chunk_.set_name(file_.name);
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the downloader went away"));
    } else if (done_) {
      Finish(grpc::Status::OK);
    } else {
      chunk_.Clear();
      WriteNext();
    }
  }

  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    std::string buffer(1 << 20, '\0');
    in_.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    buffer.resize(static_cast<size_t>(in_.gcount()));
    chunk_.set_data(std::move(buffer));
    if (!in_) {
      chunk_.set_last(true);
      chunk_.set_size(file_.size);
      chunk_.set_crc32(file_.crc32);
      done_ = true;
    }
    StartWrite(&chunk_);
  }

  IntactArtifact file_;
  std::ifstream in_;
  polytrain::v1::ArtifactChunk chunk_;
  bool done_ = false;
};

}  // namespace

grpc::ServerWriteReactor<polytrain::v1::ArtifactChunk>* WorkerStreamService::DownloadArtifact(
    grpc::CallbackServerContext* context, const polytrain::v1::DownloadArtifactRequest* request) {
  return new ArtifactDownload(artifacts_, *request, access_->CheckWorker(*context));
}

grpc::ServerReadReactor<polytrain::v1::ArtifactChunk>* WorkerStreamService::UploadArtifact(
    grpc::CallbackServerContext* context, polytrain::v1::ArtifactReceipt* receipt) {
  return new ArtifactUpload(coordinator_, artifacts_, receipt, access_->CheckWorker(*context));
}

grpc::ServerWriteReactor<polytrain::v1::JobEvent>* CoordinatorService::WatchJob(
    grpc::CallbackServerContext* context, const polytrain::v1::WatchJobRequest* request) {
  return new JobWatch(coordinator_, *request, access_->ClientCaller(*context));
}

grpc::ServerUnaryReactor* CoordinatorService::SubmitSweep(
    grpc::CallbackServerContext* context, const polytrain::v1::SubmitSweepRequest* request,
    polytrain::v1::SubmitSweepResponse* response) {
  return Unary("SubmitSweep", metrics_, access_, context, response,
               [&](const Caller& caller) { return coordinator_->SubmitSweep(*request, caller); });
}

grpc::ServerUnaryReactor* CoordinatorService::CompareJobs(
    grpc::CallbackServerContext* context, const polytrain::v1::CompareJobsRequest* request,
    polytrain::v1::CompareJobsResponse* response) {
  return Unary("CompareJobs", metrics_, access_, context, response,
               [&](const Caller& caller) { return coordinator_->CompareJobs(*request, caller); });
}

grpc::ServerUnaryReactor* CoordinatorService::SubmitJob(
    grpc::CallbackServerContext* context, const polytrain::v1::SubmitJobRequest* request,
    polytrain::v1::Job* response) {
  return Unary("SubmitJob", metrics_, access_, context, response,
               [&](const Caller& caller) { return coordinator_->SubmitJob(*request, caller); });
}

grpc::ServerUnaryReactor* CoordinatorService::GetJob(grpc::CallbackServerContext* context,
                                                     const polytrain::v1::GetJobRequest* request,
                                                     polytrain::v1::Job* response) {
  return Unary("GetJob", metrics_, access_, context, response,
               [&](const Caller& caller) { return coordinator_->GetJob(*request, caller); });
}

grpc::ServerUnaryReactor* CoordinatorService::ListJobs(
    grpc::CallbackServerContext* context, const polytrain::v1::ListJobsRequest* request,
    polytrain::v1::ListJobsResponse* response) {
  return Unary("ListJobs", metrics_, access_, context, response,
               [&](const Caller& caller) { return coordinator_->ListJobs(*request, caller); });
}

grpc::ServerUnaryReactor* CoordinatorService::CancelJob(
    grpc::CallbackServerContext* context, const polytrain::v1::CancelJobRequest* request,
    polytrain::v1::Job* response) {
  return Unary("CancelJob", metrics_, access_, context, response,
               [&](const Caller& caller) { return coordinator_->CancelJob(*request, caller); });
}

grpc::ServerUnaryReactor* CoordinatorService::GetMetrics(
    grpc::CallbackServerContext* context, const polytrain::v1::GetMetricsRequest* request,
    polytrain::v1::GetMetricsResponse* response) {
  return Unary("GetMetrics", metrics_, access_, context, response,
               [&](const Caller& caller) { return coordinator_->GetMetrics(*request, caller); });
}

grpc::ServerBidiReactor<WorkerMessage, CoordinatorMessage>* WorkerStreamService::Connect(
    grpc::CallbackServerContext* context) {
  return new WorkerConnection(coordinator_, access_->CheckWorker(*context));
}

}  // namespace polytrain
