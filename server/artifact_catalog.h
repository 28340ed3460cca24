// Users' artifacts (coordinator.proto: UploadArtifact, ListArtifacts, DeleteArtifact): files
// stored under their SHA-256 in the ArtifactStore (<artifacts>/sha256/<hex>, each kept once)
// and a record per uploader in the JobStore. A client's jobs may name only artifacts it
// uploaded; an admin's may name any stored one. One lock orders storing and deleting files with
// submitting jobs that name them, so a file is never deleted under a job being accepted.
#ifndef POLYTRAIN_SERVER_ARTIFACT_CATALOG_H_
#define POLYTRAIN_SERVER_ARTIFACT_CATALOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/artifacts.h"
#include "api/limits.h"
#include "common/sha256.h"
#include "polytrain/v1/coordinator.pb.h"
#include "server/artifact_quota.h"
#include "server/artifact_store.h"
#include "server/caller.h"
#include "server/job_store.h"

namespace polytrain {

class ArtifactCatalog {
 public:
  // Both must outlive this. Uploads larger than `max_upload_bytes` are refused, and those that
  // would take a client token's records past `max_client_bytes` (see ArtifactQuota).
  ArtifactCatalog(ArtifactStore* files, JobStore* store, int64_t max_upload_bytes,
                  int64_t max_client_bytes = kDefaultMaxClientArtifactBytes)
      : files_(files),
        store_(store),
        max_upload_bytes_(max_upload_bytes),
        quota_(store, max_client_bytes) {}

  // One file being received; dropped unfinished, nothing of it stays.
  class Upload {
   public:
    ~Upload();
    // A chunk after the first (the first's data too): INVALID_ARGUMENT on "data" past the limit,
    // on "size_bytes" past the size the first chunk announced; RESOURCE_EXHAUSTED on "data" past
    // the caller's quota (when no size was announced).
    absl::Status Append(const std::string& data);
    // The file must have the announced size, if one was (INVALID_ARGUMENT on "size_bytes"), and
    // SHA-256 (DATA_LOSS otherwise, nothing stored); then
    // the file is stored (replacing a copy already there: the same bytes, freshly checked) and
    // the caller's record made unless it has one (RESOURCE_EXHAUSTED, nothing stored, when that
    // would take it past its quota). Returns the record.
    absl::StatusOr<polytrain::v1::Artifact> Finish();

   private:
    friend class ArtifactCatalog;
    Upload(ArtifactCatalog* catalog, Caller caller, polytrain::v1::UploadArtifactRequest first,
           std::unique_ptr<ArtifactStore::Upload> file, ArtifactQuota::Reservation reservation);
    ArtifactCatalog* catalog_;
    Caller caller_;
    polytrain::v1::UploadArtifactRequest first_;  // name and sha256 (data cleared)
    std::unique_ptr<ArtifactStore::Upload> file_;
    Sha256Hasher hasher_;
    int64_t received_ = 0;
    ArtifactQuota::Reservation reservation_;
  };

  // The caller's own record of the artifact the first chunk announces, when the caller uploaded
  // it before and the file is still stored intact: the upload can be answered with it at once
  // (others must send the bytes, which proves they have them). Checking the file counts as one
  // of the caller's uploads in flight (RESOURCE_EXHAUSTED past kMaxConcurrentUploads), and a
  // file checked before and unchanged since (size and modification time) is not read again: a
  // few small requests must not make the coordinator read a large file over and over. A size
  // announced that is not the stored file's is INVALID_ARGUMENT.
  absl::StatusOr<std::optional<polytrain::v1::Artifact>> AlreadyUploaded(
      const polytrain::v1::UploadArtifactRequest& first, const Caller& caller);

  // Starts an upload from its validated first chunk (whose data the caller then Appends).
  // INVALID_ARGUMENT when the size it announces is past the limit; RESOURCE_EXHAUSTED when the
  // caller has kMaxConcurrentUploads in flight already, or when the size would take it past its
  // quota.
  absl::StatusOr<std::unique_ptr<Upload>> BeginUpload(
      const polytrain::v1::UploadArtifactRequest& first, const Caller& caller);

  absl::StatusOr<polytrain::v1::ListArtifactsResponse> List(
      const polytrain::v1::ListArtifactsRequest& request, const Caller& caller);
  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> Delete(
      const polytrain::v1::DeleteArtifactRequest& request, const Caller& caller);

  // Checks that the caller may use every artifact in `named` (NOT_FOUND naming the field
  // otherwise), then runs `submit` with no artifact deletable until it returns.
  absl::Status SubmitNaming(const std::vector<NamedArtifact>& named, const Caller& caller,
                            const std::function<absl::Status()>& submit);

  int64_t max_upload_bytes() const { return max_upload_bytes_; }

  // The uploads the database records whose file is not in the store (another --artifacts
  // directory than the database's, files removed by hand): how many, of how many, and the
  // first few as "name (id)". The coordinator warns of them at start-up.
  struct MissingFiles {
    int64_t missing = 0, recorded = 0;
    std::vector<std::string> first;
  };
  absl::StatusOr<MissingFiles> FindMissingFiles() const;
  // The unended jobs (queued, running, paused) whose checkpoint is not in the store: each would
  // start again from an older checkpoint, or from step 0. The coordinator warns of them too.
  absl::StatusOr<std::vector<std::string>> FindJobsMissingCheckpoint() const;

 private:
  // Whose records a caller acts on: its own (a client), or everyone's (an admin).
  static std::optional<std::string> OwnerScope(const Caller& caller);
  // The record with how many queued or running jobs (in the caller's scope) name it.
  absl::StatusOr<polytrain::v1::Artifact> WithActiveJobs(polytrain::v1::Artifact record,
                                                         const Caller& caller);

  ArtifactStore* const files_;
  JobStore* const store_;
  const int64_t max_upload_bytes_;
  ArtifactQuota quota_;
  std::mutex mu_;  // storing or deleting a file, or accepting jobs that name one
  std::map<std::string, int> uploads_in_flight_;  // by caller name, under mu_
  // Stored files found intact, by artifact id: the size and modification time they had then.
  struct FileStamp {
    int64_t size = 0;
    int64_t modified_ns = 0;
    bool operator==(const FileStamp& other) const {
      return size == other.size && modified_ns == other.modified_ns;
    }
  };
  std::map<std::string, FileStamp> intact_;  // under mu_
  // Takes one of the caller's kMaxConcurrentUploads (RESOURCE_EXHAUSTED when none is left);
  // ReleaseUploadSlot gives it back. Under mu_.
  absl::Status TakeUploadSlotLocked(const std::string& caller);
  void ReleaseUploadSlotLocked(const std::string& caller);
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_ARTIFACT_CATALOG_H_
