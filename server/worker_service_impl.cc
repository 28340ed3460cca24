#include "server/worker_service_impl.h"

#include "server/artifact_transfer.h"
#include "server/worker_connection.h"

namespace polytrain {

RefusalLog WorkerServiceImpl::RefusalsOf(const grpc::CallbackServerContext& context) {
  return [this, peer = context.peer()](const absl::Status& why) {
    refusals_.Record(peer, why);
    // Counted as access control's refusals are (probe DF: a worker token reading other jobs'
    // files was only logged, never seen by the refused-calls alert).
    if (absl::IsPermissionDenied(why)) access_->CountRefusedWorkerRequest(why.code());
  };
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* WorkerServiceImpl::Connect(
    grpc::CallbackServerContext* context) {
  return new WorkerConnection(protocol_, access_->CheckWorker(*context), RefusalsOf(*context),
                              context->peer());
}

grpc::ServerReadReactor<grpc::ByteBuffer>* WorkerServiceImpl::UploadArtifact(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* receipt) {
  return NewArtifactUpload(protocol_, artifacts_, receipt, access_->CheckWorker(*context).status(),
                           transfer_idle_, RefusalsOf(*context));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* WorkerServiceImpl::DownloadArtifact(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return NewArtifactDownload(context, protocol_, artifacts_, *request,
                             access_->CheckWorker(*context).status(), transfer_idle_,
                             RefusalsOf(*context));
}

}  // namespace polytrain
