// A stored file streamed to a downloader in chunks: a worker's DownloadArtifact (a checkpoint to
// resume from) and a client's DownloadCheckpoint (a trained model) alike. The first chunk carries
// what identifies the file, the last the size and CRC-32 recorded when it was stored (not those
// of what was read now), so the receiver also catches a file that changed while it was read. A
// downloader that takes no chunk for `idle_timeout` has its call cancelled, so it holds no file
// and no reactor. The reactor deletes itself when its stream is done.
//
// Finding the file runs on a thread of its own: checking a stored file against its record reads
// it whole (up to kMaxArtifactBytes, seconds), and a gRPC callback thread that blocks that long
// delays every other call of the server (workers' heartbeats among them). ServerWriteReactor
// takes StartWrite and Finish from any thread, before or after the handler has returned it.
#ifndef POLYTRAIN_SERVER_FILE_DOWNLOAD_REACTOR_H_
#define POLYTRAIN_SERVER_FILE_DOWNLOAD_REACTOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/limits.h"
#include "common/chunked_file.h"
#include "common/grpc_status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "server/artifact_store.h"
#include "server/request_bytes.h"
#include "server/stream_idle_timer.h"
#include "spdlog/spdlog.h"

namespace polytrain {

// Chunk: a message with data, last, size and crc32 fields (ArtifactChunk, CheckpointChunk).
template <typename Chunk>
class FileDownload final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // What to serve, or why nothing is (the call ends with that status), with the first chunk's
  // fields besides the data set. It must not use the call's request buffer (parse it first).
  using Finder = std::function<absl::StatusOr<IntactArtifact>(Chunk* first)>;

  // `refused`: why the call is refused before any file is looked for (its caller, its request,
  // a quota), or OK; a refused call ends at once, on the call's thread. `done` (may be null)
  // gets the stream's final status.
  FileDownload(grpc::CallbackServerContext* context, const absl::Status& refused, Finder find,
               absl::Duration idle_timeout, std::function<void(const grpc::Status&)> done = nullptr)
      : done_callback_(std::move(done)),
        // A write that waits is a downloader that stopped reading: only cancelling the call ends
        // it (Finish would wait behind the write).
        idle_(idle_timeout, [this, context, idle_timeout] {
          spdlog::warn("download of {}: not read for {} s (--transfer_idle_seconds); ended",
                       file_.relative, absl::ToDoubleSeconds(idle_timeout));
          context->TryCancel();
        }) {
    if (!refused.ok()) {
      End(ToGrpcStatus(refused));
      return;
    }
    auto begin = [this, find = std::move(find)] {
      // A downloader gone while it waited is not worth reading a file for.
      Begin(cancelled_ ? absl::CancelledError("the downloader went away") : find(&chunk_));
    };
    try {
      std::thread(begin).detach();          // a copy: `begin` stays whole for the fallback below
    } catch (const std::system_error& e) {  // no thread to be had: find it here instead
      spdlog::warn("download: no thread to find the file on ({}); found on the call's", e.what());
      begin();
    }
  }

  void OnCancel() override { cancelled_ = true; }

  void OnWriteDone(bool ok) override {
    if (!idle_.Disarm()) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "the downloader stopped reading"));
    } else if (!ok) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "the downloader went away"));
    } else if (last_written_) {
      End(grpc::Status::OK);
    } else {
      chunk_.Clear();
      WriteNext();
    }
  }

  void OnDone() override {
    idle_.Stop();
    if (done_callback_) done_callback_(status_);
    delete this;
  }

 private:
  // Nothing of this reactor may be touched once WriteNext or End has returned: the stream may
  // be done, and the reactor deleted, on another thread.
  void Begin(absl::StatusOr<IntactArtifact> file) {
    if (!file.ok()) {
      End(ToGrpcStatus(file.status()));
      return;
    }
    file_ = *std::move(file);
    absl::StatusOr<std::unique_ptr<ChunkedFileReader>> reader =
        ChunkedFileReader::Open(file_.path, kArtifactChunkBytes);
    if (!reader.ok()) {
      End(ToGrpcStatus(reader.status()));
      return;
    }
    reader_ = *std::move(reader);
    WriteNext();
  }

  void End(const grpc::Status& status) {
    status_ = status;
    Finish(status);
  }

  void WriteNext() {
    bool last = false;
    if (absl::Status s = reader_->Next(chunk_.mutable_data(), &last); !s.ok()) {
      End(ToGrpcStatus(s));
      return;
    }
    if (last) {
      chunk_.set_last(true);
      chunk_.set_size(file_.size);
      chunk_.set_crc32(file_.crc32);
      last_written_ = true;
    }
    if (absl::Status s = SerializeResponse(chunk_, &chunk_bytes_); !s.ok()) {
      End(ToGrpcStatus(s));
      return;
    }
    idle_.Arm();
    StartWrite(&chunk_bytes_);
  }

  const std::function<void(const grpc::Status&)> done_callback_;
  std::atomic<bool> cancelled_{false};
  grpc::Status status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
  IntactArtifact file_;
  std::unique_ptr<ChunkedFileReader> reader_;
  Chunk chunk_;
  grpc::ByteBuffer chunk_bytes_;
  bool last_written_ = false;
  StreamIdleTimer idle_;  // last: stopped before the rest goes
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_FILE_DOWNLOAD_REACTOR_H_
