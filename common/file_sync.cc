#include "common/file_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace polytrain {
namespace {

absl::Status Sync(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags | O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int why = errno;
    if (why == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::InternalError(absl::StrCat(path, ": cannot open to sync: ", std::strerror(why)));
  }
  const int result = fsync(fd);
  const int why = errno;
  close(fd);
  // EINVAL: a file or directory that cannot be synced (a special file system); nothing to wait
  // for there.
  if (result != 0 && why != EINVAL) {
    return absl::InternalError(absl::StrCat(path, ": sync failed: ", std::strerror(why)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SyncFile(const std::string& path) { return Sync(path, 0); }

absl::Status SyncParentDirectory(const std::string& path) {
  std::string directory = std::filesystem::path(path).parent_path().string();
  if (directory.empty()) directory = ".";
  return Sync(directory, O_DIRECTORY);
}

}  // namespace polytrain
