#include "server/coordinator_service_impl.h"

#include <chrono>
#include <deque>
#include <mutex>
#include <string>

#include "common/grpc_status.h"
#include "server/request_bytes.h"

namespace polytrain {
namespace {

// One WatchJob stream: the Scheduler pushes events (under its lock), this queues them and
// writes one at a time; the stream finishes after the job's final state.
class JobWatch final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public JobWatcher {
 public:
  // A refused `status` (the caller or the request) finishes the stream at once.
  JobWatch(ClientApi* api, const grpc::ByteBuffer& request_bytes,
           const absl::StatusOr<Caller>& caller)
      : api_(api) {
    polytrain::v1::WatchJobRequest request;
    absl::Status status = caller.status();
    if (status.ok()) status = ParseRequest(request_bytes, &request);
    if (status.ok()) {
      job_id_ = request.id();
      status = api_->Watch(request, this, *caller);
    }
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      FinishLocked(ToGrpcStatus(status));
    }
  }

  void OnEvent(const polytrain::v1::JobEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    pending_.emplace_back();
    if (!SerializeResponse(event, &pending_.back()).ok()) {
      pending_.pop_back();
      return;
    }
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
    // Outside our lock: the Scheduler calls OnEvent while holding its own.
    if (client_gone) api_->Unwatch(job_id_, this);
  }

  void OnCancel() override {
    api_->Unwatch(job_id_, this);
    std::lock_guard<std::mutex> lock(mu_);
    if (!writing_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    api_->Unwatch(job_id_, this);  // no event can arrive after this returns
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

  ClientApi* api_;
  std::string job_id_;
  std::mutex mu_;
  std::deque<grpc::ByteBuffer> pending_;
  grpc::ByteBuffer current_;
  bool writing_ = false;
  bool ended_ = false;
  bool finished_ = false;
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

grpc::ServerWriteReactor<grpc::ByteBuffer>* CoordinatorServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return new JobWatch(api_, *request, access_->ClientCaller(*context));
}

}  // namespace polytrain
