#include "common/exclusive_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace polytrain {
namespace {

// Why flock failed with `error`: FAILED_PRECONDITION when another process holds the lock.
absl::Status Refusal(const std::string& what, int error, const std::string& holder) {
  if (error == EWOULDBLOCK) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": another coordinator", holder,
                     " is using it; one coordinator per database and artifacts directory"));
  }
  return absl::InvalidArgumentError(absl::StrCat(what, ": cannot lock: ", std::strerror(error)));
}

// " (process N, lock PATH)" from the process id its holder wrote into the lock file.
std::string Holder(int fd, const std::string& path) {
  char buffer[32] = {};
  const ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
  int64_t pid = 0;
  if (n > 0 && absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buffer, n)), &pid)) {
    return absl::StrCat(" (process ", pid, ", lock ", path, ")");
  }
  return absl::StrCat(" (lock ", path, ")");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExclusiveLock>> ExclusiveLock::OnFile(const std::string& path,
                                                                     const std::string& what) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": cannot create its lock ", path, ": ", std::strerror(errno)));
  }
  std::unique_ptr<ExclusiveLock> lock(new ExclusiveLock(fd));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) return Refusal(what, errno, Holder(fd, path));
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": cannot write its lock ", path, ": ", std::strerror(errno)));
  }
  return lock;
}

absl::StatusOr<std::unique_ptr<ExclusiveLock>> ExclusiveLock::OnDirectory(const std::string& path,
                                                                          const std::string& what) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot open: ", std::strerror(errno)));
  }
  std::unique_ptr<ExclusiveLock> lock(new ExclusiveLock(fd));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) return Refusal(what, errno, "");
  return lock;
}

ExclusiveLock::~ExclusiveLock() { close(fd_); }

}  // namespace polytrain
