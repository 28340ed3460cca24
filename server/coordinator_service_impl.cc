#include "server/coordinator_service_impl.h"

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/chunked_file.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "server/artifact_upload_reactor.h"
#include "server/file_download_reactor.h"
#include "server/request_bytes.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

// A failure the coordinator's operator must act on (the store failing, a full disk: the
// ChunkedFileWriter's and SQLite's RESOURCE_EXHAUSTED say "disk is full"), logged; the caller's
// own errors (a bad field, a wrong hash, a quota) are the caller's to read.
bool ForTheOperator(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInternal || IsDiskFull(status);
}

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
  if (status.ok()) status = ParseRequest(*request_bytes, &request, UnknownFields::kRefuse);
  if (status.ok()) {
    auto result = call(request, *caller);
    status = result.ok() ? SerializeResponse(*result, response_bytes) : result.status();
  }
  const grpc::Status grpc_status = ToGrpcStatus(status);
  if (caller.ok() && absl::IsPermissionDenied(status)) {
    access_->RecordRefusedRequest(context->peer(), status);
  }
  if (ForTheOperator(status)) {
    spdlog::error("{} from {} failed: {}", method, context->peer(), std::string(status.message()));
  }
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

grpc::ServerUnaryReactor* CoordinatorServiceImpl::DeleteJob(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::DeleteJobRequest>(
      "DeleteJob", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->DeleteJob(r, caller); });
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

grpc::ServerUnaryReactor* CoordinatorServiceImpl::ListSweeps(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::ListSweepsRequest>(
      "ListSweeps", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->ListSweeps(r, caller); });
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::DeleteSweep(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return Unary<polytrain::v1::DeleteSweepRequest>(
      "DeleteSweep", context, request, response,
      [this](const auto& r, const Caller& caller) { return api_->DeleteSweep(r, caller); });
}

grpc::ServerReadReactor<grpc::ByteBuffer>* CoordinatorServiceImpl::UploadArtifact(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  const auto start = std::chrono::steady_clock::now();
  return NewUserArtifactUpload(
      context, api_, access_->ClientCaller(*context), response, transfer_idle_,
      [this, start, peer = context->peer()](const grpc::Status& status) {
        if (ForTheOperator(absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                        status.error_message()))) {
          spdlog::error("an upload from {} failed: {}", peer, status.error_message());
        }
        if (metrics_ == nullptr) return;
        metrics_->Rpc(
            "UploadArtifact", status.error_code(),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* CoordinatorServiceImpl::DownloadCheckpoint(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  const auto start = std::chrono::steady_clock::now();
  // The caller, the request and a download slot here; the job and its file (a read of the whole
  // file to check it) on the download's own thread.
  absl::StatusOr<Caller> caller = access_->ClientCaller(*context);
  polytrain::v1::DownloadCheckpointRequest parsed;
  absl::Status refused = caller.status();
  if (refused.ok()) refused = ParseRequest(*request, &parsed, UnknownFields::kRefuse);
  std::optional<std::string> slot;
  if (refused.ok()) {
    if (download_quota_.TryAcquire(caller->name)) {
      slot = caller->name;
    } else {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "at most ", download_quota_.per_caller(),
          " checkpoint downloads at once per caller (a fixed limit); wait for one to end"));
    }
  }
  auto find = [this, parsed = std::move(parsed), caller = caller.ok() ? *caller : Caller{},
               peer = context->peer()](
                  polytrain::v1::CheckpointChunk* first) -> absl::StatusOr<IntactArtifact> {
    std::vector<std::string> passed_over;
    absl::StatusOr<IntactArtifact> file = api_->StoredCheckpoint(parsed, caller, &passed_over);
    // Refused the job asked for (another user's): access control's refusal, as a token's is.
    if (absl::IsPermissionDenied(file.status())) access_->RecordRefusedRequest(peer, file.status());
    if (!file.ok()) return file.status();
    first->set_name(file->name);
    if (std::optional<int64_t> step = CheckpointStep(file->name)) first->set_step(*step);
    for (std::string& why : passed_over) first->add_passed_over(std::move(why));
    first->set_best(parsed.best());
    return file;
  };
  return new FileDownload<polytrain::v1::CheckpointChunk>(
      context, refused, std::move(find), transfer_idle_,
      [this, start, slot](const grpc::Status& status) {
        if (slot.has_value()) download_quota_.Release(*slot);
        if (metrics_ == nullptr) return;
        metrics_->Rpc(
            "DownloadCheckpoint", status.error_code(),
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
                       access_->ClientCaller(*context),
                       [this, peer = context->peer()](const absl::Status& refused) {
                         access_->RecordRefusedRequest(peer, refused);
                       });
}

}  // namespace polytrain
