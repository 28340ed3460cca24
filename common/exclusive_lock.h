// An advisory lock (flock) that one process holds on a file or a directory while it uses it:
// released when the object goes or the process ends, however it ends, so a coordinator killed
// with SIGKILL leaves no stale lock behind. Two coordinators on one database or one artifacts
// directory would take each other's jobs and delete each other's uploads in flight.
#ifndef POLYTRAIN_COMMON_EXCLUSIVE_LOCK_H_
#define POLYTRAIN_COMMON_EXCLUSIVE_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace polytrain {

class ExclusiveLock {
 public:
  // Locks the file `path` itself (created empty if missing; nothing is written to it), so that
  // any path to it (a symlink, a hard link) finds the lock, without waiting. FAILED_PRECONDITION
  // starting with `what` (e.g. "--db jobs.db") and naming the holder's process id when another
  // process holds it; INVALID_ARGUMENT when it cannot be opened.
  //
  // For a SQLite database: this descriptor must stay open until SQLite has closed the file
  // (closing any descriptor of a file drops the process's POSIX locks on it, SQLite's too).
  static absl::StatusOr<std::unique_ptr<ExclusiveLock>> OnFile(const std::string& path,
                                                               const std::string& what);
  // Locks the directory `path` itself (nothing is written into it), as OnFile.
  static absl::StatusOr<std::unique_ptr<ExclusiveLock>> OnDirectory(const std::string& path,
                                                                    const std::string& what);
  ~ExclusiveLock();
  ExclusiveLock(const ExclusiveLock&) = delete;
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;

 private:
  explicit ExclusiveLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_EXCLUSIVE_LOCK_H_
