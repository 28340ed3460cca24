#include "server/worker_service_impl.h"

#include "server/artifact_transfer.h"
#include "server/worker_connection.h"

namespace polytrain {

grpc::ServerBidiReactor<polytrain::v1::WorkerMessage, polytrain::v1::CoordinatorMessage>*
WorkerServiceImpl::Connect(grpc::CallbackServerContext* context) {
  return new WorkerConnection(protocol_, access_->CheckWorker(*context));
}

grpc::ServerReadReactor<polytrain::v1::ArtifactChunk>* WorkerServiceImpl::UploadArtifact(
    grpc::CallbackServerContext* context, polytrain::v1::ArtifactReceipt* receipt) {
  return NewArtifactUpload(protocol_, artifacts_, receipt, access_->CheckWorker(*context));
}

grpc::ServerWriteReactor<polytrain::v1::ArtifactChunk>* WorkerServiceImpl::DownloadArtifact(
    grpc::CallbackServerContext* context, const polytrain::v1::DownloadArtifactRequest* request) {
  return NewArtifactDownload(artifacts_, *request, access_->CheckWorker(*context));
}

}  // namespace polytrain
