// Forcing what was written to a file, or a name made in a directory, onto the disk. A file
// renamed into place is written, synced, renamed, and its directory synced: after a power loss
// the name then holds the whole file, never an empty or partial one (the page cache alone
// survives a killed process, not a lost machine).
#ifndef POLYTRAIN_COMMON_FILE_SYNC_H_
#define POLYTRAIN_COMMON_FILE_SYNC_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// fsync of the file at `path`: NOT_FOUND when it does not exist, INTERNAL naming the path and
// the system's reason when the sync fails. A file system that cannot sync (EINVAL) passes.
absl::Status SyncFile(const std::string& path);

// fsync of the directory holding `path` (the current directory for a bare name), so that a name
// made, renamed or removed there lasts. Best effort, for a name already in place: a directory
// this process may write but not read (EACCES) or that cannot be synced (EINVAL) is skipped, any
// other failure logged as a warning; the file itself was synced before it got its name.
void SyncParentDirectory(const std::string& path);

// std::filesystem::create_directories, with each directory it made synced into its parent (best
// effort, as above): a file later renamed into the innermost one is reachable after a power
// loss. INTERNAL naming `dir` when it cannot be made.
absl::Status CreateDirectoriesDurably(const std::string& dir);

// Writes `content` to a temporary file beside `path` and renames it over `path`: a reader sees the
// old file or the whole new one, never a part. With `durable`, the file is synced before the
// rename and its directory after (SyncParentDirectory). Nothing is left behind on a failure,
// which is INTERNAL with the system's reason only ("No such file or directory"): the caller
// names the file as its users know it.
absl::Status ReplaceFileWhole(const std::string& path, absl::string_view content, bool durable);

// ReplaceFileWhole(durable) in two steps, for a caller that renames under a lock and syncs
// nothing there: Write puts `content` in a temporary file beside `path`, synced (INTERNAL with
// the system's reason on a failure, nothing left behind); Replace renames it over `path` and
// leaves SyncParentDirectory(path) to the caller. The temporary file goes with the object unless
// it was renamed.
class PendingReplacement {
 public:
  static absl::StatusOr<std::unique_ptr<PendingReplacement>> Write(const std::string& path,
                                                                   absl::string_view content);
  ~PendingReplacement();
  PendingReplacement(const PendingReplacement&) = delete;
  PendingReplacement& operator=(const PendingReplacement&) = delete;

  absl::Status Replace();
  const std::string& path() const { return path_; }

 private:
  PendingReplacement(std::string path, std::string temporary)
      : path_(std::move(path)), temporary_(std::move(temporary)) {}
  const std::string path_, temporary_;
  bool replaced_ = false;
};

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_FILE_SYNC_H_
