// The worker's side of artifact transfer (WorkerService.UploadArtifact / DownloadArtifact): a
// file streamed to the coordinator's artifact store in chunks with its size and CRC-32, and a
// stored file fetched into a directory, checked against the size and CRC-32 the coordinator
// recorded and renamed into place only then. Both sides chunk with common/chunked_file.h.
#ifndef POLYTRAIN_WORKER_ARTIFACT_CLIENT_H_
#define POLYTRAIN_WORKER_ARTIFACT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/file_checksum.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "polytrain/v1/worker.grpc.pb.h"

namespace polytrain {

class ArtifactClient {
 public:
  // A fresh channel to the coordinator, with the worker's token attached to the call's context.
  using Dialer =
      std::function<absl::StatusOr<std::shared_ptr<grpc::Channel>>(grpc::ClientContext* context)>;

  // The key of the worker's live session with the coordinator (Welcome.session_key), named on
  // every transfer: the coordinator lets a worker store and read only its own jobs' files.
  using SessionKey = std::function<std::string()>;

  ArtifactClient(Dialer dial, SessionKey session_key)
      : dial_(std::move(dial)), session_key_(std::move(session_key)) {}

  // Streams the file at `path` as "<job_id>/<its file name>" of `attempt`.
  absl::Status Upload(const std::string& job_id, int attempt, const std::string& path);

  struct Downloaded {
    std::string path;  // in the directory asked for, under the name the coordinator served
    FileChecksum checksum;
  };
  // Fetches the stored file `relative` ("<job_id>/<name>") into `dir`. With
  // `or_older_checkpoint`, the coordinator may serve the newest older intact checkpoint instead
  // (a damaged newest one); the name it serves must satisfy `acceptable_name`. DATA_LOSS when
  // what arrived does not match the coordinator's record. `before_commit` runs once the file is
  // verified and before it is renamed into place (to record its checksum beside it, so a file in
  // place always has its record); its error abandons the file.
  absl::StatusOr<Downloaded> Download(
      const std::string& relative, bool or_older_checkpoint, const std::string& dir,
      const std::function<bool(const std::string&)>& acceptable_name,
      const std::function<absl::Status(const Downloaded&)>& before_commit);

 private:
  // A stub on a fresh channel, with the token and the transfer deadline on `context`.
  absl::StatusOr<std::unique_ptr<polytrain::v1::WorkerService::Stub>> Connect(
      grpc::ClientContext* context);

  Dialer dial_;
  SessionKey session_key_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_ARTIFACT_CLIENT_H_
