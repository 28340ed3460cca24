// The coordinator's artifact directory: files of jobs (checkpoints), written atomically under
// <root>/<job_id>/<name>, each with the size and CRC-32 it was stored with recorded beside it
// (<root>/<job_id>/.checksums/<name>), so that a file damaged on disk later is never served.
#ifndef POLYTRAIN_SERVER_ARTIFACT_STORE_H_
#define POLYTRAIN_SERVER_ARTIFACT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/limits.h"
#include "common/chunked_file.h"
#include "common/file_sync.h"

namespace polytrain {

// A stored file that still matches its record.
struct IntactArtifact {
  std::string relative;  // "<job_id>/<name>"
  std::string name;
  std::string path;  // on disk
  int64_t size = 0;
  uint32_t crc32 = 0;
};

class ArtifactStore {
 public:
  // Creates the root directory if needed, and removes the temporary files of uploads that a
  // crash cut short.
  static absl::StatusOr<std::unique_ptr<ArtifactStore>> Open(const std::string& root);

  // One file being received: Append chunks, then Commit (Verify, Publish, SyncPublished) or
  // drop it (the temporary files are removed).
  class Upload {
   public:
    absl::Status Append(const std::string& data);
    // Checks size and CRC-32 against what was appended (DATA_LOSS naming the artifact if they
    // differ), then writes its record beside it: both synced, neither in place yet.
    absl::Status Verify(int64_t size, uint32_t crc32);
    // Renames the verified file and its record into place (replacing a file of its name); syncs
    // nothing, so that it is quick under a caller's lock. Returns the path relative to the root.
    absl::StatusOr<std::string> Publish();
    // Syncs the directories of what Publish renamed (best effort: the files are in place).
    void SyncPublished();
    // Verify, Publish, SyncPublished.
    absl::StatusOr<std::string> Commit(int64_t size, uint32_t crc32);
    // "<job_id>/<name>", the path Publish puts it at.
    const std::string& relative() const { return relative_; }
    // Commit of what was appended, for a sender that checks the content its own way.
    absl::StatusOr<std::string> CommitAsWritten() {
      return Commit(file_->written().size, file_->written().crc32);
    }

   private:
    friend class ArtifactStore;
    Upload(std::string relative, std::unique_ptr<ChunkedFileWriter> file);
    std::string relative_;
    std::unique_ptr<ChunkedFileWriter> file_;
    std::unique_ptr<PendingReplacement> record_;  // from Verify
  };

  // INVALID_ARGUMENT for a job id or name that is not a plain file name
  // (api/worker_messages.h's ValidateArtifactName).
  absl::StatusOr<std::unique_ptr<Upload>> Begin(const std::string& job_id, const std::string& name);
  // The file stored at "<job_id>/<name>": INVALID_ARGUMENT for another shape, NOT_FOUND when
  // absent.
  absl::StatusOr<std::string> Find(const std::string& relative) const;
  // Find, then reads the whole file: DATA_LOSS when its size or CRC-32 differs from the record
  // made when it was stored (or there is no record).
  absl::StatusOr<IntactArtifact> FindIntact(const std::string& relative) const;
  // FindIntact of `relative`, else of the newest older file of the same job whose name starts
  // with `prefix` (and sorts before it) that is intact. Each file passed over is appended to
  // `passed_over` with why. Fails with the requested file's error when none is intact.
  absl::StatusOr<IntactArtifact> FindIntactOrOlder(const std::string& relative,
                                                   const std::string& prefix,
                                                   std::vector<std::string>* passed_over) const;

  // Deletes the job's files whose names start with `prefix` (and their records), all but the
  // `keep` newest by name and `spared` (the one just stored: an attempt that started over from an
  // earlier step stores names older than its predecessor's, and its newest must stay), and
  // `also_kept` (the job's best checkpoint) where it is older than those. Returns how many went.
  // A reader holding one open still reads it.
  size_t PruneOlder(const std::string& job_id, const std::string& prefix, size_t keep,
                    const std::string& spared = "", const std::string& also_kept = "") const;

  // Deletes the file at "<job_id>/<name>" and its record (absent already: OK).
  absl::Status Remove(const std::string& relative) const;
  // Deletes every file of the job (its directory); returns how many files (not counting their
  // records) went. A job id that is not a plain file name removes nothing.
  int RemoveJob(const std::string& job_id) const;
  // The ids of the jobs that have a directory here (checkpoints), in name order.
  std::vector<std::string> JobDirectories() const;

  const std::string& root() const { return root_; }

 private:
  explicit ArtifactStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_ARTIFACT_STORE_H_
