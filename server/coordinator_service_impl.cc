#include "server/coordinator_service_impl.h"

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/artifacts.h"
#include "common/grpc_status.h"
#include "server/request_bytes.h"

namespace polytrain {
namespace {

// One UploadArtifact stream: chunks parsed and checked one by one into the catalog's upload,
// finished at the chunk marked last with the stored record (or the first error, nothing kept).
class ArtifactUploadReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  using Done = std::function<void(const grpc::Status&)>;

  ArtifactUploadReactor(ClientApi* api, const absl::StatusOr<Caller>& caller,
                        grpc::ByteBuffer* response, Done done)
      : api_(api), response_(response), done_(std::move(done)) {
    if (!caller.ok()) {
      End(caller.status());
      return;
    }
    caller_ = *caller;
    StartRead(&chunk_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (last_received_) {  // the stream must end with the chunk marked last
      if (ok) {
        End(absl::InvalidArgumentError(
            "last: a chunk came after the one marked last (it must end the upload); nothing "
            "stored"));
        return;
      }
      absl::StatusOr<polytrain::v1::Artifact> stored = upload_->Finish();
      absl::Status s = stored.status();
      if (s.ok()) s = SerializeResponse(*stored, response_);
      End(s);
      return;
    }
    if (!ok) {
      End(absl::InvalidArgumentError("last: the upload ended before a chunk marked last"));
      return;
    }
    absl::StatusOr<bool> more = Receive();
    if (!more.ok()) {
      End(more.status());
    } else if (*more) {
      StartRead(&chunk_bytes_);
    }
  }

  void OnDone() override { delete this; }

 private:
  // Takes one chunk: true when the stream is to be read on (after the chunk marked last too, to
  // see it end); false once answered early (the file is stored already).
  absl::StatusOr<bool> Receive() {
    polytrain::v1::UploadArtifactRequest chunk;
    if (absl::Status s = ParseRequest(chunk_bytes_, &chunk); !s.ok()) return s;
    if (absl::Status s = ValidateUploadArtifactRequest(chunk, upload_ == nullptr); !s.ok()) {
      return s;
    }
    if (upload_ == nullptr) {
      absl::StatusOr<ArtifactCatalog*> catalog = api_->Artifacts();
      if (!catalog.ok()) return catalog.status();
      if (std::optional<polytrain::v1::Artifact> stored =
              (*catalog)->AlreadyUploaded(chunk, caller_)) {
        // The rest of the stream is not read: the client's writes fail and it finishes.
        if (absl::Status s = SerializeResponse(*stored, response_); !s.ok()) return s;
        End(absl::OkStatus());
        return false;
      }
      absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> upload =
          (*catalog)->BeginUpload(chunk, caller_);
      if (!upload.ok()) return upload.status();
      upload_ = *std::move(upload);
    }
    if (absl::Status s = upload_->Append(chunk.data()); !s.ok()) return s;
    // After the last chunk, one more read: the stream's end stores the file, a further chunk
    // refuses it.
    last_received_ = chunk.last();
    return true;
  }

  void End(const absl::Status& status) {
    upload_.reset();  // an unfinished upload's temporary file goes now
    const grpc::Status grpc_status = ToGrpcStatus(status);
    done_(grpc_status);
    Finish(grpc_status);
  }

  ClientApi* api_;
  grpc::ByteBuffer* response_;
  Done done_;
  Caller caller_;
  grpc::ByteBuffer chunk_bytes_;
  std::unique_ptr<ArtifactCatalog::Upload> upload_;
  bool last_received_ = false;
};

}  // namespace

template <typename Request, typename Call>
grpc::ServerUnaryReactor* CoordinatorServiceImpl::Unary(const char* method,
                                                        grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request_bytes,
                                                        grpc::ByteBuffer* response_bytes,
                                                        Call call) {
  const auto start = std::chrono::steady_clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request request;
  absl::StatusOr<Caller> caller = access_->ClientCaller(*context);
  absl::Status status = caller.status();
  if (status.ok()) status = ParseRequest(*request_bytes, &request);
  if (status.ok()) {
    auto result = call(request, *caller);
    status = result.ok() ? SerializeResponse(*result, response_bytes) : result.status();
  }
  const grpc::Status grpc_status = ToGrpcStatus(status);
  if (metrics_ != nullptr) {
    metrics_->Rpc(method, grpc_status.error_code(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  reactor->Finish(grpc_status);
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::SubmitJob(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::SubmitJobRequest>(
      "SubmitJob", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->SubmitJob(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::GetJob(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::GetJobRequest>(
      "GetJob", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->GetJob(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::ListJobs(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::ListJobsRequest>(
      "ListJobs", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->ListJobs(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::CancelJob(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::CancelJobRequest>(
      "CancelJob", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->CancelJob(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::GetMetrics(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::GetMetricsRequest>(
      "GetMetrics", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->GetMetrics(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::SubmitSweep(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::SubmitSweepRequest>(
      "SubmitSweep", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->SubmitSweep(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::CompareJobs(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::CompareJobsRequest>(
      "CompareJobs", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->CompareJobs(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::GetSweep(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::GetSweepRequest>(
      "GetSweep", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->GetSweep(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::CancelSweep(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::CancelSweepRequest>(
      "CancelSweep", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->CancelSweep(r, caller); });
}

grpc::ServerReadReactor<grpc::ByteBuffer>* CoordinatorServiceImpl::UploadArtifact(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  const auto start = std::chrono::steady_clock::now();
  return new ArtifactUploadReactor(
      api_, access_->ClientCaller(*context), response, [this, start](const grpc::Status& status) {
        if (metrics_ == nullptr) return;
        metrics_->Rpc(
            "UploadArtifact", status.error_code(),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::ListArtifacts(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::ListArtifactsRequest>(
      "ListArtifacts", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->ListArtifacts(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::DeleteArtifact(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::DeleteArtifactRequest>(
      "DeleteArtifact", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->DeleteArtifact(r, caller); });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* CoordinatorServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return StartJobWatch(context, api_, metrics_, &watch_quota_, watch_limits_, *request,
                       access_->ClientCaller(*context));
}

}  // namespace polytrain
