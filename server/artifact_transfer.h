// The reactors of WorkerService's artifact streams: UploadArtifact (chunks into the
// ArtifactStore, committed at the last chunk) and DownloadArtifact (a stored file that still
// matches its record, in chunks). Each deletes itself when its stream is done.
#ifndef POLYTRAIN_SERVER_ARTIFACT_TRANSFER_H_
#define POLYTRAIN_SERVER_ARTIFACT_TRANSFER_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "polytrain/v1/worker.pb.h"
#include "server/artifact_store.h"
#include "server/worker_call_refusals.h"
#include "server/worker_protocol.h"

namespace polytrain {

// Starts reading an upload, or finishes at once with a refused `access`. What the upload itself
// is refused for (a chunk that does not parse or is not this worker's to store, a damaged file)
// goes to `refusals` too.
// Chunks and the receipt travel as bytes (request_bytes.h): a chunk that does not parse ends the
// upload with INVALID_ARGUMENT and stores nothing, as does a wait of `idle_timeout` for a chunk
// (DEADLINE_EXCEEDED).
grpc::ServerReadReactor<grpc::ByteBuffer>* NewArtifactUpload(
    WorkerProtocol* protocol, ArtifactStore* artifacts, grpc::ByteBuffer* receipt,
    const absl::Status& access, absl::Duration idle_timeout, RefusalLog refusals = nullptr);

// The first chunk names the file served (with or_older_checkpoint, perhaps an older one); the
// last carries the size and CRC-32 recorded when it was stored, so the receiver also catches a
// file that changed while it was read.
// `request` holds a DownloadArtifactRequest's bytes.
// Only what `protocol` allows (WorkerProtocol::CheckDownload) is served; a refused request goes
// to `refusals`. A downloader that takes
// no chunk for `idle_timeout` has its call cancelled, so it holds no file and no reactor.
grpc::ServerWriteReactor<grpc::ByteBuffer>* NewArtifactDownload(
    grpc::CallbackServerContext* context, WorkerProtocol* protocol, ArtifactStore* artifacts,
    const grpc::ByteBuffer& request, const absl::Status& access, absl::Duration idle_timeout,
    RefusalLog refusals = nullptr);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_ARTIFACT_TRANSFER_H_
