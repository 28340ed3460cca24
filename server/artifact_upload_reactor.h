// One Coordinator.UploadArtifact stream: a user's file, chunk by chunk, into the ArtifactCatalog.
// Chunks are parsed and checked one by one; the stream ends at the chunk marked last with the
// stored record, or at the first error with nothing kept. A stream on which no chunk comes for
// `idle_timeout` ends with DEADLINE_EXCEEDED, giving back its caller's upload slot.
#ifndef POLYTRAIN_SERVER_ARTIFACT_UPLOAD_REACTOR_H_
#define POLYTRAIN_SERVER_ARTIFACT_UPLOAD_REACTOR_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "server/caller.h"
#include "server/client_api.h"

namespace polytrain {

// `done` gets the stream's final status (for the call's metrics): CANCELLED when the client went
// away before the chunk marked last. The reactor deletes itself when the stream is done; `api`
// must outlive it.
grpc::ServerReadReactor<grpc::ByteBuffer>* NewUserArtifactUpload(
    grpc::CallbackServerContext* context, ClientApi* api, const absl::StatusOr<Caller>& caller,
    grpc::ByteBuffer* response, absl::Duration idle_timeout,
    std::function<void(const grpc::Status&)> done);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_ARTIFACT_UPLOAD_REACTOR_H_
