#include "common/exclusive_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace polytrain {
namespace {

// The process holding a flock on the file `fd` is open on, from /proc/locks ("1: FLOCK
// ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF", device numbers in hex).
std::optional<int64_t> FlockHolder(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return std::nullopt;
  const std::string file =
      absl::StrFormat("%02x:%02x:%u", major(st.st_dev), minor(st.st_dev), st.st_ino);
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    const std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t pid = 0;
    if (fields.size() >= 6 && fields[1] == "FLOCK" && fields[5] == file &&
        absl::SimpleAtoi(fields[4], &pid)) {
      return pid;
    }
  }
  return std::nullopt;
}

// `fd` (open on `path`) locked without waiting: FAILED_PRECONDITION naming the holder when
// another process has it.
absl::StatusOr<std::unique_ptr<ExclusiveLock>> Lock(std::unique_ptr<ExclusiveLock> lock, int fd,
                                                    const std::string& what) {
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
  const int error = errno;
  if (error != EWOULDBLOCK) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot lock: ", std::strerror(error)));
  }
  const std::optional<int64_t> holder = FlockHolder(fd);
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": another coordinator",
                   holder.has_value() ? absl::StrCat(" (process ", *holder, ")") : "",
                   " is using it; one coordinator per database and artifacts directory"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExclusiveLock>> ExclusiveLock::OnFile(const std::string& path,
                                                                     const std::string& what) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot open: ", std::strerror(errno)));
  }
  return Lock(std::unique_ptr<ExclusiveLock>(new ExclusiveLock(fd)), fd, what);
}

absl::StatusOr<std::unique_ptr<ExclusiveLock>> ExclusiveLock::OnDirectory(const std::string& path,
                                                                          const std::string& what) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot open: ", std::strerror(errno)));
  }
  return Lock(std::unique_ptr<ExclusiveLock>(new ExclusiveLock(fd)), fd, what);
}

ExclusiveLock::~ExclusiveLock() { close(fd_); }

}  // namespace polytrain
