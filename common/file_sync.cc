#include "common/file_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

// 0 when synced (or nothing to sync: EINVAL), else the errno of the open or the fsync.
int Sync(const std::string& path, int flags, bool* opened) {
  const int fd = open(path.c_str(), flags | O_RDONLY | O_CLOEXEC);
  *opened = fd >= 0;
  if (fd < 0) return errno;
  const int result = fsync(fd);
  const int why = errno;
  close(fd);
  return result == 0 || why == EINVAL ? 0 : why;
}

std::string ParentOf(const std::string& path) {
  std::string directory = std::filesystem::path(path).parent_path().string();
  return directory.empty() ? "." : directory;
}

}  // namespace

absl::Status SyncFile(const std::string& path) {
  bool opened = false;
  const int why = Sync(path, 0, &opened);
  if (why == 0) return absl::OkStatus();
  if (!opened && why == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  return absl::InternalError(
      absl::StrCat(path, opened ? ": sync failed: " : ": cannot open: ", std::strerror(why)));
}

void SyncParentDirectory(const std::string& path) {
  const std::string directory = ParentOf(path);
  bool opened = false;
  const int why = Sync(directory, O_DIRECTORY, &opened);
  if (why == 0 || (!opened && (why == EACCES || why == EPERM))) return;
  spdlog::warn("{}: syncing the directory failed ({}): a power loss now may lose the name of {}",
               directory, std::strerror(why), path);
}

absl::Status CreateDirectoriesDurably(const std::string& dir) {
  // The directories that do not exist yet, innermost first.
  std::vector<std::filesystem::path> missing;
  std::error_code error;
  std::filesystem::path start = std::filesystem::path(dir).lexically_normal();
  if (!start.has_filename()) start = start.parent_path();  // "a/b/" is "a/b"
  for (std::filesystem::path at = start; !at.empty() && !std::filesystem::exists(at, error);
       at = at.parent_path()) {
    missing.push_back(at);
    if (at == at.parent_path()) break;
  }
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat(dir, ": ", error.message()));
  // Outermost first: each new directory's name, in its parent.
  for (auto made = missing.rbegin(); made != missing.rend(); ++made) {
    SyncParentDirectory(made->string());
  }
  return absl::OkStatus();
}

namespace {

// Writes `content` to a new temporary file beside `path`, synced with `durable`; returns its
// name. Nothing is left behind on a failure (INTERNAL with the system's reason).
absl::StatusOr<std::string> WriteBeside(const std::string& path, absl::string_view content,
                                        bool durable) {
  // The process and a counter: two writers of one path (threads or processes) never share one.
  static std::atomic<int64_t> counter{0};
  const std::string temporary = absl::StrCat(path, ".tmp-", getpid(), "-", counter++);
  auto fail = [&](int why) {
    unlink(temporary.c_str());
    return absl::InternalError(std::strerror(why));
  };
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(std::strerror(errno));
  for (size_t done = 0; done < content.size();) {
    const ssize_t wrote = write(fd, content.data() + done, content.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      const int why = errno;
      close(fd);
      return fail(why);
    }
    done += static_cast<size_t>(wrote);
  }
  if (durable && fsync(fd) != 0 && errno != EINVAL) {
    const int why = errno;
    close(fd);
    return fail(why);
  }
  if (close(fd) != 0) return fail(errno);
  return temporary;
}

}  // namespace

absl::Status ReplaceFileWhole(const std::string& path, absl::string_view content, bool durable) {
  absl::StatusOr<std::string> temporary = WriteBeside(path, content, durable);
  if (!temporary.ok()) return temporary.status();
  if (std::rename(temporary->c_str(), path.c_str()) != 0) {
    const int why = errno;
    unlink(temporary->c_str());
    return absl::InternalError(std::strerror(why));
  }
  if (durable) SyncParentDirectory(path);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PendingReplacement>> PendingReplacement::Write(
    const std::string& path, absl::string_view content) {
  absl::StatusOr<std::string> temporary = WriteBeside(path, content, /*durable=*/true);
  if (!temporary.ok()) return temporary.status();
  return std::unique_ptr<PendingReplacement>(new PendingReplacement(path, *std::move(temporary)));
}

PendingReplacement::~PendingReplacement() {
  if (!replaced_) unlink(temporary_.c_str());
}

absl::Status PendingReplacement::Replace() {
  if (replaced_) return absl::FailedPreconditionError("replaced twice");
  if (std::rename(temporary_.c_str(), path_.c_str()) != 0) {
    return absl::InternalError(std::strerror(errno));
  }
  replaced_ = true;
  return absl::OkStatus();
}

}  // namespace polytrain
