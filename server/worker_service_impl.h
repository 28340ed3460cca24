// The gRPC face of the worker protocol (polytrain.v1.WorkerService, callback API): the stream
// each worker keeps open (worker_connection.h) and its artifact transfers
// (artifact_transfer.h). Every call needs a worker or admin token, and with mutual TLS the
// worker's certificate (access_control.h).
#ifndef POLYTRAIN_SERVER_WORKER_SERVICE_IMPL_H_
#define POLYTRAIN_SERVER_WORKER_SERVICE_IMPL_H_

#include "polytrain/v1/worker.grpc.pb.h"
#include "server/access_control.h"
#include "server/artifact_store.h"
#include "server/worker_protocol.h"

namespace polytrain {

class WorkerServiceImpl final : public polytrain::v1::WorkerService::CallbackService {
 public:
  // All must outlive the service.
  WorkerServiceImpl(WorkerProtocol* protocol, ArtifactStore* artifacts, const AccessControl* access)
      : protocol_(protocol), artifacts_(artifacts), access_(access) {}

  grpc::ServerBidiReactor<polytrain::v1::WorkerMessage, polytrain::v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* context) override;
  grpc::ServerReadReactor<polytrain::v1::ArtifactChunk>* UploadArtifact(
      grpc::CallbackServerContext* context, polytrain::v1::ArtifactReceipt* receipt) override;
  grpc::ServerWriteReactor<polytrain::v1::ArtifactChunk>* DownloadArtifact(
      grpc::CallbackServerContext* context,
      const polytrain::v1::DownloadArtifactRequest* request) override;

 private:
  WorkerProtocol* const protocol_;
  ArtifactStore* const artifacts_;
  const AccessControl* const access_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_WORKER_SERVICE_IMPL_H_
