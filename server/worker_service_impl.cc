#include "server/worker_service_impl.h"

#include "server/artifact_transfer.h"
#include "server/worker_connection.h"

namespace polytrain {

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* WorkerServiceImpl::Connect(
    grpc::CallbackServerContext* context) {
  return new WorkerConnection(protocol_, access_->CheckWorker(*context));
}

grpc::ServerReadReactor<grpc::ByteBuffer>* WorkerServiceImpl::UploadArtifact(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* receipt) {
  return NewArtifactUpload(protocol_, artifacts_, receipt, access_->CheckWorker(*context).status(),
                           transfer_idle_);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* WorkerServiceImpl::DownloadArtifact(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return NewArtifactDownload(context, protocol_, artifacts_, *request,
                             access_->CheckWorker(*context).status(), transfer_idle_);
}

}  // namespace polytrain
