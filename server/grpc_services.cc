#include "server/grpc_services.h"

#include <chrono>
#include <deque>
#include <mutex>

#include "common/grpc_status.h"

namespace polytrain {
namespace {

using polytrain::v1::CoordinatorMessage;
using polytrain::v1::WorkerMessage;

// Runs `call` (returning StatusOr<Response>), finishes the unary RPC with its result and
// records it.
template <typename Response, typename Call>
grpc::ServerUnaryReactor* Unary(const char* method, CoordinatorMetrics* metrics,
                                grpc::CallbackServerContext* context, Response* response,
                                Call call) {
  const auto start = std::chrono::steady_clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Response> result = call();
  if (result.ok()) *response = *std::move(result);
  const grpc::Status status = ToGrpcStatus(result.status());
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
  explicit WorkerConnection(Coordinator* coordinator) : coordinator_(coordinator) {
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
    } else if (absl::Status s = coordinator_->HandleWorkerMessage(session_, incoming_); !s.ok()) {
      CloseWith(ToGrpcStatus(s));
      return;
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

}  // namespace

grpc::ServerUnaryReactor* CoordinatorService::SubmitJob(
    grpc::CallbackServerContext* context, const polytrain::v1::SubmitJobRequest* request,
    polytrain::v1::Job* response) {
  return Unary("SubmitJob", metrics_, context, response,
               [&] { return coordinator_->SubmitJob(*request); });
}

grpc::ServerUnaryReactor* CoordinatorService::GetJob(grpc::CallbackServerContext* context,
                                                     const polytrain::v1::GetJobRequest* request,
                                                     polytrain::v1::Job* response) {
  return Unary("GetJob", metrics_, context, response,
               [&] { return coordinator_->GetJob(*request); });
}

grpc::ServerUnaryReactor* CoordinatorService::ListJobs(
    grpc::CallbackServerContext* context, const polytrain::v1::ListJobsRequest* request,
    polytrain::v1::ListJobsResponse* response) {
  return Unary("ListJobs", metrics_, context, response,
               [&] { return coordinator_->ListJobs(*request); });
}

grpc::ServerUnaryReactor* CoordinatorService::CancelJob(
    grpc::CallbackServerContext* context, const polytrain::v1::CancelJobRequest* request,
    polytrain::v1::Job* response) {
  return Unary("CancelJob", metrics_, context, response,
               [&] { return coordinator_->CancelJob(*request); });
}

grpc::ServerUnaryReactor* CoordinatorService::GetMetrics(
    grpc::CallbackServerContext* context, const polytrain::v1::GetMetricsRequest* request,
    polytrain::v1::GetMetricsResponse* response) {
  return Unary("GetMetrics", metrics_, context, response,
               [&] { return coordinator_->GetMetrics(*request); });
}

grpc::ServerBidiReactor<WorkerMessage, CoordinatorMessage>* WorkerStreamService::Connect(
    grpc::CallbackServerContext*) {
  return new WorkerConnection(coordinator_);
}

}  // namespace polytrain
