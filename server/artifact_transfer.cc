#include "server/artifact_transfer.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/chunked_file.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "grpcpp/server_context.h"
#include "server/file_download_reactor.h"
#include "server/request_bytes.h"
#include "server/stream_idle_timer.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

class ArtifactUpload final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  ArtifactUpload(WorkerProtocol* protocol, ArtifactStore* artifacts, grpc::ByteBuffer* receipt,
                 const absl::Status& access, absl::Duration idle_timeout, RefusalLog refusals)
      : protocol_(protocol),
        artifacts_(artifacts),
        receipt_(receipt),
        refusals_(std::move(refusals)),
        idle_(idle_timeout, [this, idle_timeout] {
          upload_.reset();
          Finish(ToGrpcStatus(IdleUploadStatus(idle_timeout)));
        }) {
    if (!access.ok()) {
      Finish(ToGrpcStatus(access));
      return;
    }
    Read();
  }

  void OnReadDone(bool ok) override {
    if (!idle_.Disarm()) return;  // ended for being idle
    if (last_received_) {         // the stream must end with the chunk marked last
      absl::Status s = ok ? absl::InvalidArgumentError(
                                "last: a chunk came after the one marked last (it must end the "
                                "upload); nothing stored")
                          : Store();
      upload_.reset();  // an unstored upload's temporary file goes now
      Refuse(s);
      return;
    }
    // A refused upload's temporary file goes before the status does: a client that sees the
    // status must not find the file still there.
    if (!ok) {
      upload_.reset();
      Refuse(absl::InvalidArgumentError("last: the upload ended before a chunk marked last"));
      return;
    }
    chunk_.Clear();
    absl::Status s = ParseRequest(chunk_bytes_, &chunk_, UnknownFields::kDrop);
    if (s.ok()) s = Receive();
    if (!s.ok()) {
      upload_.reset();
      Refuse(s);
      return;
    }
    // After the last chunk, one more read: the stream's end stores the file, a further chunk
    // refuses it.
    last_received_ = chunk_.last();
    Read();
  }

  void OnDone() override {
    idle_.Stop();
    delete this;
  }

 private:
  // Ends the upload with `status` (OK: stored), logging a refusal.
  void Refuse(const absl::Status& status) {
    if (!status.ok() && refusals_ != nullptr) refusals_(status);
    Finish(ToGrpcStatus(status));
  }

  void Read() {
    idle_.Arm();
    StartRead(&chunk_bytes_);
  }

  absl::Status Receive() {
    if (upload_ == nullptr) {
      if (absl::Status s = protocol_->CheckUpload(chunk_); !s.ok()) return s;
      absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> upload =
          artifacts_->Begin(chunk_.job_id(), chunk_.name());
      if (!upload.ok()) return upload.status();
      upload_ = *std::move(upload);
      job_id_ = chunk_.job_id();
      name_ = chunk_.name();
      attempt_ = chunk_.attempt();
    } else if (absl::Status s = ValidateArtifactChunk(chunk_, /*first=*/false); !s.ok()) {
      return s;
    }
    if (absl::Status s = upload_->Append(chunk_.data()); !s.ok()) return s;
    empty_in_a_row_ = chunk_.data().empty() ? empty_in_a_row_ + 1 : 0;
    if (empty_in_a_row_ > kMaxEmptyChunksInARow && !chunk_.last()) {
      return absl::InvalidArgumentError(absl::StrCat("data: more than ", kMaxEmptyChunksInARow,
                                                     " empty chunks in a row; nothing stored"));
    }
    if (chunk_.last()) {
      size_ = chunk_.size();
      crc32_ = chunk_.crc32();
    }
    return absl::OkStatus();
  }

  // The whole file received and the stream ended: checked against the last chunk's size and CRC,
  // then put in place and named the job's only while the attempt still runs.
  absl::Status Store() {
    POLYTRAIN_RETURN_IF_ERROR(upload_->Verify(size_, crc32_));
    absl::StatusOr<std::string> best = protocol_->StoreArtifact(
        job_id_, attempt_, upload_->relative(), [this] { return upload_->Publish().status(); });
    if (!best.ok()) return best.status();
    upload_->SyncPublished();  // after the scheduler's lock: no disk waited for under it
    if (absl::StartsWith(name_, kCheckpointPrefix)) {
      artifacts_->PruneOlder(job_id_, kCheckpointPrefix, kStoredCheckpointsPerJob, name_,
                             std::string(CheckpointName(*best)));
    }
    polytrain::v1::ArtifactReceipt receipt;
    receipt.set_path(upload_->relative());
    receipt.set_size(size_);
    return SerializeResponse(receipt, receipt_);
  }

  WorkerProtocol* protocol_;
  ArtifactStore* artifacts_;
  grpc::ByteBuffer* receipt_;
  const RefusalLog refusals_;
  grpc::ByteBuffer chunk_bytes_;
  polytrain::v1::ArtifactChunk chunk_;
  std::unique_ptr<ArtifactStore::Upload> upload_;
  std::string job_id_, name_;
  int32_t attempt_ = 0;
  bool last_received_ = false;
  int empty_in_a_row_ = 0;
  int64_t size_ = 0;
  uint32_t crc32_ = 0;
  StreamIdleTimer idle_;  // last: stopped before the rest goes
};

// The file a worker's request names (with or_older_checkpoint, perhaps an older checkpoint of
// the same job); the request is one the protocol lets that worker make.
absl::StatusOr<IntactArtifact> RequestedFile(
    ArtifactStore* artifacts, const polytrain::v1::DownloadArtifactRequest& request) {
  std::vector<std::string> passed_over;
  const std::string name = request.path().substr(request.path().find('/') + 1);
  const bool checkpoint =
      request.or_older_checkpoint() && absl::StartsWith(name, kCheckpointPrefix);
  absl::StatusOr<IntactArtifact> file =
      checkpoint ? artifacts->FindIntactOrOlder(request.path(), kCheckpointPrefix, &passed_over)
                 : artifacts->FindIntact(request.path());
  for (const std::string& why : passed_over) {
    spdlog::warn("{}: passed over {}", request.path().substr(0, request.path().find('/')),
                 std::string(absl::StripPrefix(why, "path: ")));
  }
  return file;
}

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* NewArtifactUpload(
    WorkerProtocol* protocol, ArtifactStore* artifacts, grpc::ByteBuffer* receipt,
    const absl::Status& access, absl::Duration idle_timeout, RefusalLog refusals) {
  return new ArtifactUpload(protocol, artifacts, receipt, access, idle_timeout,
                            std::move(refusals));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* NewArtifactDownload(
    grpc::CallbackServerContext* context, WorkerProtocol* protocol, ArtifactStore* artifacts,
    const grpc::ByteBuffer& request_bytes, const absl::Status& access, absl::Duration idle_timeout,
    RefusalLog refusals) {
  // Checked here (the request buffer is the call's, and a refused call needs no thread); the
  // file is found on another thread.
  polytrain::v1::DownloadArtifactRequest request;
  absl::Status refused = access;
  if (refused.ok()) refused = ParseRequest(request_bytes, &request, UnknownFields::kDrop);
  if (refused.ok()) refused = ValidateDownloadArtifactRequest(request);
  if (refused.ok()) refused = protocol->CheckDownload(request.session_key(), request.path());
  if (access.ok() && !refused.ok() && refusals != nullptr) refusals(refused);
  auto find = [artifacts, request = std::move(request)](
                  polytrain::v1::ArtifactChunk* first) -> absl::StatusOr<IntactArtifact> {
    absl::StatusOr<IntactArtifact> file = RequestedFile(artifacts, request);
    if (file.ok()) {
      first->set_job_id(file->relative.substr(0, file->relative.find('/')));
      first->set_name(file->name);
    }
    return file;
  };
  return new FileDownload<polytrain::v1::ArtifactChunk>(context, refused, std::move(find),
                                                        idle_timeout);
}

}  // namespace polytrain
