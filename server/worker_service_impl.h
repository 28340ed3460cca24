// The gRPC face of the worker protocol (polytrain.v1.WorkerService, callback API): the stream
// each worker keeps open (worker_connection.h) and its artifact transfers
// (artifact_transfer.h). Every call needs a worker or admin token, and with mutual TLS the
// worker's certificate (access_control.h).
#ifndef POLYTRAIN_SERVER_WORKER_SERVICE_IMPL_H_
#define POLYTRAIN_SERVER_WORKER_SERVICE_IMPL_H_

#include "absl/time/time.h"
#include "grpcpp/support/byte_buffer.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "server/access_control.h"
#include "server/artifact_store.h"
#include "server/auth_failure_log.h"
#include "server/stream_idle_timer.h"
#include "server/worker_call_refusals.h"
#include "server/worker_protocol.h"

namespace polytrain {

namespace worker_service_internal {
using v1::WorkerService;
// Every method of the service, taking and giving bytes (request_bytes.h): a message that does
// not parse is refused with INVALID_ARGUMENT naming why, not dropped with OK or UNIMPLEMENTED.
using RawService = WorkerService::WithRawCallbackMethod_Connect<
    WorkerService::WithRawCallbackMethod_UploadArtifact<
        WorkerService::WithRawCallbackMethod_DownloadArtifact<WorkerService::Service>>>;
}  // namespace worker_service_internal

class WorkerServiceImpl final : public worker_service_internal::RawService {
 public:
  // All must outlive the service.
  // An artifact upload on which no chunk comes for `transfer_idle` is ended.
  WorkerServiceImpl(WorkerProtocol* protocol, ArtifactStore* artifacts, const AccessControl* access,
                    absl::Duration transfer_idle = absl::Seconds(kDefaultTransferIdleSeconds))
      : protocol_(protocol),
        artifacts_(artifacts),
        access_(access),
        transfer_idle_(transfer_idle) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Connect(
      grpc::CallbackServerContext* context) override;
  grpc::ServerReadReactor<grpc::ByteBuffer>* UploadArtifact(grpc::CallbackServerContext* context,
                                                            grpc::ByteBuffer* receipt) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* DownloadArtifact(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;

 private:
  // Logs the refusals of the call `context` is for, naming its peer.
  RefusalLog RefusalsOf(const grpc::CallbackServerContext& context);

  WorkerProtocol* const protocol_;
  ArtifactStore* const artifacts_;
  const AccessControl* const access_;
  const absl::Duration transfer_idle_;
  // Refused for their access or for what they sent (a malformed hello, a checkpoint's CRC).
  AuthFailureLog refusals_{nullptr, 10, std::chrono::seconds(60),
                           "worker-protocol call(s) (access, or a malformed message)"};
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_WORKER_SERVICE_IMPL_H_
