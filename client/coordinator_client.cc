#include "client/coordinator_client.h"

namespace polytrain {

CoordinatorClient::CoordinatorClient(std::string address, ClientSecurityOptions security)
    : address_(std::move(address)), security_(std::move(security)) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address_, &security_);
  if (channel.ok()) {
    stub_ = polytrain::v1::Coordinator::NewStub(*channel);
  } else {
    status_ = channel.status();
  }
}

absl::StatusOr<polytrain::v1::Job> CoordinatorClient::Watch(
    const std::string& job_id,
    const std::function<void(const polytrain::v1::JobEvent&)>& on_event) {
  if (!status_.ok()) return status_;
  grpc::ClientContext context;
  Prepare(&context);
  polytrain::v1::WatchJobRequest request;
  request.set_id(job_id);
  auto reader = stub_->WatchJob(&context, request);
  polytrain::v1::JobEvent event;
  polytrain::v1::Job last;
  while (reader->Read(&event)) {
    if (event.has_job()) last = event.job();
    on_event(event);
  }
  const grpc::Status status = reader->Finish();
  return Result(status, std::move(last));
}

}  // namespace polytrain
