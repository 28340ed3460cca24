#include "server/artifact_transfer.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/chunked_file.h"
#include "common/grpc_status.h"
#include "grpcpp/server_context.h"
#include "server/request_bytes.h"
#include "server/stream_idle_timer.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

class ArtifactUpload final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  ArtifactUpload(WorkerProtocol* protocol, ArtifactStore* artifacts, grpc::ByteBuffer* receipt,
                 const absl::Status& access, absl::Duration idle_timeout)
      : protocol_(protocol),
        artifacts_(artifacts),
        receipt_(receipt),
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
      Finish(ToGrpcStatus(s));
      return;
    }
    // A refused upload's temporary file goes before the status does: a client that sees the
    // status must not find the file still there.
    if (!ok) {
      upload_.reset();
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "last: the upload ended before a chunk marked last"));
      return;
    }
    chunk_.Clear();
    absl::Status s = ParseRequest(chunk_bytes_, &chunk_);
    if (s.ok()) s = Receive();
    if (!s.ok()) {
      upload_.reset();
      Finish(ToGrpcStatus(s));
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
    if (chunk_.last()) {
      size_ = chunk_.size();
      crc32_ = chunk_.crc32();
    }
    return absl::OkStatus();
  }

  // The whole file received and the stream ended: checked against the last chunk's size and CRC,
  // stored, and named the job's (the attempt must still be running).
  absl::Status Store() {
    absl::StatusOr<std::string> path = upload_->Commit(size_, crc32_);
    if (!path.ok()) return path.status();
    if (absl::Status s = protocol_->ArtifactStored(job_id_, attempt_, name_, *path); !s.ok()) {
      (void)artifacts_->Remove(*path);  // no job points at it
      return s;
    }
    artifacts_->PruneOlder(job_id_, kCheckpointPrefix, kStoredCheckpointsPerJob, name_);
    polytrain::v1::ArtifactReceipt receipt;
    receipt.set_path(*path);
    receipt.set_size(size_);
    return SerializeResponse(receipt, receipt_);
  }

  WorkerProtocol* protocol_;
  ArtifactStore* artifacts_;
  grpc::ByteBuffer* receipt_;
  grpc::ByteBuffer chunk_bytes_;
  polytrain::v1::ArtifactChunk chunk_;
  std::unique_ptr<ArtifactStore::Upload> upload_;
  std::string job_id_, name_;
  int32_t attempt_ = 0;
  bool last_received_ = false;
  int64_t size_ = 0;
  uint32_t crc32_ = 0;
  StreamIdleTimer idle_;  // last: stopped before the rest goes
};

class ArtifactDownload final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  ArtifactDownload(grpc::CallbackServerContext* context, WorkerProtocol* protocol,
                   ArtifactStore* artifacts, const grpc::ByteBuffer& request_bytes,
                   const absl::Status& access, absl::Duration idle_timeout)
      // A write that waits is a downloader that stopped reading: only cancelling the call ends
      // it (Finish would wait behind the write).
      : idle_(idle_timeout, [this, context, idle_timeout] {
          spdlog::warn("download of {}: not read for {} s (--transfer_idle_seconds); ended",
                       file_.relative, absl::ToDoubleSeconds(idle_timeout));
          context->TryCancel();
        }) {
    polytrain::v1::DownloadArtifactRequest request;
    absl::Status status = access;
    if (status.ok()) status = ParseRequest(request_bytes, &request);
    if (status.ok()) status = ValidateDownloadArtifactRequest(request);
    if (status.ok()) status = protocol->CheckDownload(request.session_key(), request.path());
    if (status.ok()) status = Open(artifacts, request);
    if (!status.ok()) {
      Finish(ToGrpcStatus(status));
      return;
    }
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!idle_.Disarm()) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the downloader stopped reading"));
    } else if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the downloader went away"));
    } else if (done_) {
      Finish(grpc::Status::OK);
    } else {
      chunk_.Clear();
      WriteNext();
    }
  }

  void OnDone() override {
    idle_.Stop();
    delete this;
  }

 private:
  absl::Status Open(ArtifactStore* artifacts,
                    const polytrain::v1::DownloadArtifactRequest& request) {
    std::vector<std::string> passed_over;
    const std::string name = request.path().substr(request.path().find('/') + 1);
    const bool checkpoint =
        request.or_older_checkpoint() && absl::StartsWith(name, kCheckpointPrefix);
    absl::StatusOr<IntactArtifact> file =
        checkpoint ? artifacts->FindIntactOrOlder(request.path(), kCheckpointPrefix, &passed_over)
                   : artifacts->FindIntact(request.path());
    for (const std::string& why : passed_over) spdlog::warn("passed over {}", why);
    if (!file.ok()) return file.status();
    file_ = *std::move(file);
    absl::StatusOr<std::unique_ptr<ChunkedFileReader>> reader =
        ChunkedFileReader::Open(file_.path, kArtifactChunkBytes);
    if (!reader.ok()) return reader.status();
    reader_ = *std::move(reader);
    chunk_.set_job_id(file_.relative.substr(0, file_.relative.find('/')));
    chunk_.set_name(file_.name);
    return absl::OkStatus();
  }

  void WriteNext() {
    bool last = false;
    if (absl::Status s = reader_->Next(chunk_.mutable_data(), &last); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    if (last) {
      // The size and CRC-32 recorded when it was stored, not those of what was read now.
      chunk_.set_last(true);
      chunk_.set_size(file_.size);
      chunk_.set_crc32(file_.crc32);
      done_ = true;
    }
    if (absl::Status s = SerializeResponse(chunk_, &chunk_bytes_); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    idle_.Arm();
    StartWrite(&chunk_bytes_);
  }

  IntactArtifact file_;
  std::unique_ptr<ChunkedFileReader> reader_;
  polytrain::v1::ArtifactChunk chunk_;
  grpc::ByteBuffer chunk_bytes_;
  bool done_ = false;
  StreamIdleTimer idle_;  // last: stopped before the rest goes
};

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* NewArtifactUpload(WorkerProtocol* protocol,
                                                             ArtifactStore* artifacts,
                                                             grpc::ByteBuffer* receipt,
                                                             const absl::Status& access,
                                                             absl::Duration idle_timeout) {
  return new ArtifactUpload(protocol, artifacts, receipt, access, idle_timeout);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* NewArtifactDownload(
    grpc::CallbackServerContext* context, WorkerProtocol* protocol, ArtifactStore* artifacts,
    const grpc::ByteBuffer& request, const absl::Status& access, absl::Duration idle_timeout) {
  return new ArtifactDownload(context, protocol, artifacts, request, access, idle_timeout);
}

}  // namespace polytrain
