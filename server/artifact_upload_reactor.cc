#include "server/artifact_upload_reactor.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "api/limits.h"
#include "common/grpc_status.h"
#include "server/artifact_catalog.h"
#include "server/request_bytes.h"
#include "server/stream_idle_timer.h"

namespace polytrain {
namespace {

class ArtifactUploadReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  using Done = std::function<void(const grpc::Status&)>;

  ArtifactUploadReactor(grpc::CallbackServerContext* context, ClientApi* api,
                        const absl::StatusOr<Caller>& caller, grpc::ByteBuffer* response,
                        absl::Duration idle_timeout, Done done)
      : context_(context),
        api_(api),
        response_(response),
        done_(std::move(done)),
        idle_(idle_timeout, [this, idle_timeout] { End(IdleUploadStatus(idle_timeout)); }) {
    if (!caller.ok()) {
      End(caller.status());
      return;
    }
    caller_ = *caller;
    Read();
  }

  void OnReadDone(bool ok) override {
    if (!idle_.Disarm()) return;  // ended for being idle
    if (last_received_) {         // the stream must end with the chunk marked last
      if (ok) {
        End(absl::InvalidArgumentError(
            "last: a chunk came after the one marked last (it must end the upload); nothing "
            "stored"));
        return;
      }
      absl::StatusOr<polytrain::v1::Artifact> stored = upload_->Finish();
      absl::Status s = stored.status();
      if (s.ok()) s = SerializeResponse(*stored, response_);
      End(s);
      return;
    }
    if (!ok) {
      // A client that went away (killed, its deadline passed) is not one that sent a bad
      // request: the call's metrics tell them apart.
      End(cancelled_ || context_->IsCancelled()
              ? absl::CancelledError("the client went away before the chunk marked last; "
                                     "nothing stored")
              : absl::InvalidArgumentError("last: the upload ended before a chunk marked last"));
      return;
    }
    absl::StatusOr<bool> more = Receive();
    if (!more.ok()) {
      End(more.status());
    } else if (*more) {
      Read();
    }
  }

  void OnCancel() override { cancelled_ = true; }

  void OnDone() override {
    idle_.Stop();
    delete this;
  }

 private:
  void Read() {
    idle_.Arm();
    StartRead(&chunk_bytes_);
  }

  // Takes one chunk: true when the stream is to be read on (after the chunk marked last too, to
  // see it end); false once answered early (the file is stored already).
  absl::StatusOr<bool> Receive() {
    ++chunks_;
    // A refusal of a chunk's own content names which chunk it was (from 1).
    auto in_chunk = [this](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat("chunk ", chunks_, ": ", s.message()));
    };
    polytrain::v1::UploadArtifactRequest chunk;
    if (absl::Status s = ParseRequest(chunk_bytes_, &chunk, UnknownFields::kRefuse); !s.ok()) {
      return in_chunk(s);
    }
    if (absl::Status s = ValidateUploadArtifactRequest(chunk, upload_ == nullptr); !s.ok()) {
      return in_chunk(s);
    }
    if (upload_ == nullptr) {
      absl::StatusOr<ArtifactCatalog*> catalog = api_->Artifacts();
      if (!catalog.ok()) return catalog.status();
      absl::StatusOr<std::optional<polytrain::v1::Artifact>> stored =
          (*catalog)->AlreadyUploaded(chunk, caller_);
      if (!stored.ok()) return stored.status();
      if (stored->has_value()) {
        // The rest of the stream is not read: the client's writes fail and it finishes.
        if (absl::Status s = SerializeResponse(**stored, response_); !s.ok()) return s;
        End(absl::OkStatus());
        return false;
      }
      absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> upload =
          (*catalog)->BeginUpload(chunk, caller_);
      if (!upload.ok()) return upload.status();
      upload_ = *std::move(upload);
    }
    // (A refusal here is of the upload as a whole: its size, the disk.)
    if (absl::Status s = upload_->Append(chunk.data()); !s.ok()) return s;
    empty_in_a_row_ = chunk.data().empty() ? empty_in_a_row_ + 1 : 0;
    if (empty_in_a_row_ > kMaxEmptyChunksInARow && !chunk.last()) {
      return in_chunk(absl::InvalidArgumentError(absl::StrCat(
          "data: more than ", kMaxEmptyChunksInARow, " empty chunks in a row; nothing stored")));
    }
    // After the last chunk, one more read: the stream's end stores the file, a further chunk
    // refuses it.
    last_received_ = chunk.last();
    return true;
  }

  // Called once: from a reaction, or from the idle timer while a read is outstanding.
  void End(const absl::Status& status) {
    upload_.reset();  // an unfinished upload's temporary file goes now
    const grpc::Status grpc_status = ToGrpcStatus(status);
    done_(grpc_status);
    Finish(grpc_status);
  }

  grpc::CallbackServerContext* const context_;
  ClientApi* api_;
  grpc::ByteBuffer* response_;
  Done done_;
  Caller caller_;
  grpc::ByteBuffer chunk_bytes_;
  std::unique_ptr<ArtifactCatalog::Upload> upload_;
  bool last_received_ = false;
  int64_t chunks_ = 0;  // received so far
  int empty_in_a_row_ = 0;
  std::atomic<bool> cancelled_{false};
  StreamIdleTimer idle_;  // last: stopped before the rest goes
};

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* NewUserArtifactUpload(
    grpc::CallbackServerContext* context, ClientApi* api, const absl::StatusOr<Caller>& caller,
    grpc::ByteBuffer* response, absl::Duration idle_timeout,
    std::function<void(const grpc::Status&)> done) {
  return new ArtifactUploadReactor(context, api, caller, response, idle_timeout, std::move(done));
}

}  // namespace polytrain
