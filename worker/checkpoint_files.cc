#include "worker/checkpoint_files.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/limits.h"

namespace polytrain {

namespace fs = std::filesystem;

std::string WithoutCheckpointDirs(std::string error, const std::vector<std::string>& dirs) {
  // A character a path goes on with: a directory that follows one is part of a longer path
  // ("my_ckpt/" is not "ckpt/").
  auto in_path = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '/';
  };
  for (std::string dir : dirs) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();  // "ckpt/" as "ckpt"
    if (dir.empty()) continue;
    const std::string prefix = dir == "/" ? dir : dir + "/";
    std::string kept;
    size_t from = 0;
    for (size_t at = error.find(prefix); at != std::string::npos;) {
      if (at > 0 && in_path(error[at - 1])) {
        at = error.find(prefix, at + 1);
        continue;
      }
      kept.append(error, from, at - from);
      from = at + prefix.size();
      at = error.find(prefix, from);  // past the part taken out
    }
    kept.append(error, from, std::string::npos);
    error = std::move(kept);
  }
  return error;
}

std::vector<fs::path> ListCheckpoints(const std::string& dir) {
  std::vector<fs::path> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && absl::StartsWith(name, kCheckpointPrefix) &&
        absl::EndsWith(name, kCheckpointSuffix)) {
      found.push_back(entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

void DeleteCheckpoint(const fs::path& checkpoint) {
  std::error_code error;
  fs::remove(checkpoint, error);
  fs::remove(checkpoint.string() + kCheckpointRecordSuffix, error);
}

void PruneCheckpoints(const std::string& dir, int keep_last, const std::string& also_kept) {
  const std::vector<fs::path> all = ListCheckpoints(dir);
  for (size_t i = 0; i + keep_last < all.size(); ++i) {
    if (also_kept.empty() || all[i].filename() != also_kept) DeleteCheckpoint(all[i]);
  }
}

void DeleteLeftoverCheckpointFiles(const std::string& dir) {
  std::error_code error;
  std::vector<fs::path> leftovers;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !absl::StartsWith(name, kCheckpointPrefix)) continue;
    const std::string record_of = absl::StrCat(kCheckpointSuffix, kCheckpointRecordSuffix);
    const std::string temp_of = absl::StrCat(kCheckpointSuffix, ".tmp");
    if (absl::EndsWith(name, record_of)) {
      const fs::path checkpoint =
          entry.path().parent_path() /
          name.substr(0, name.size() - std::string(kCheckpointRecordSuffix).size());
      if (!fs::exists(checkpoint, error)) leftovers.push_back(entry.path());
    } else if (absl::EndsWith(name, temp_of)) {
      leftovers.push_back(entry.path());
    }
  }
  for (const fs::path& leftover : leftovers) fs::remove(leftover, error);
}

std::vector<std::string> DeleteCheckpointsAfter(const std::string& dir,
                                                const std::string& newest_kept) {
  // Names of one length compare as their zero-padded steps do.
  const std::string kept = fs::path(newest_kept).filename().string();
  std::vector<std::string> deleted;
  for (const fs::path& checkpoint : ListCheckpoints(dir)) {
    const std::string name = checkpoint.filename().string();
    if (kept.empty() || name > kept) {
      DeleteCheckpoint(checkpoint);
      deleted.push_back(name);
    }
  }
  return deleted;
}

namespace {

void RemoveIdleJobDirsOrThrow(const std::string& root, fs::file_time_type cutoff,
                              const std::set<std::string>& running,
                              std::vector<std::string>* removed) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_symlink() || !entry.is_directory() || running.count(name) != 0) continue;
    // The directory's own time moves with each file made or renamed in it; its files' times
    // with each write.
    fs::file_time_type newest = fs::last_write_time(entry.path(), error);
    for (const auto& file : fs::directory_iterator(entry.path(), error)) {
      newest = std::max(newest, fs::last_write_time(file.path(), error));
    }
    if (error || newest > cutoff) continue;
    if (fs::remove_all(entry.path(), error) != static_cast<std::uintmax_t>(-1) && !error) {
      removed->push_back(name);
    }
  }
}

}  // namespace

std::vector<std::string> RemoveIdleJobDirs(const std::string& root, std::chrono::seconds idle,
                                           const std::set<std::string>& running) {
  std::vector<std::string> removed;
  if (root.empty()) return removed;
  // A directory iterator's step throws where a directory goes meanwhile: this is housekeeping,
  // so what is left stays for the next time.
  try {
    RemoveIdleJobDirsOrThrow(root, fs::file_time_type::clock::now() - idle, running, &removed);
  } catch (const fs::filesystem_error&) {
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

namespace {

constexpr char kAttemptDirPrefix[] = "polytrain-attempt-";

// The process named in an attempt directory's name, "polytrain-attempt-<job>-p<pid>-XXXXXX"; 0
// when it names none.
pid_t AttemptDirProcess(const std::string& name) {
  if (!absl::StartsWith(name, kAttemptDirPrefix) || name.size() < 8) return 0;
  const std::string head = name.substr(0, name.size() - 7);  // without "-XXXXXX"
  const size_t mark = head.rfind("-p");
  int pid = 0;
  if (mark == std::string::npos || !absl::SimpleAtoi(head.substr(mark + 2), &pid)) return 0;
  return pid;
}

}  // namespace

std::string MakeAttemptDir(const std::string& temp_dir, const std::string& job_id) {
  std::string pattern =
      (fs::path(temp_dir) / absl::StrCat(kAttemptDirPrefix, job_id, "-p", getpid(), "-XXXXXX"))
          .string();
  return mkdtemp(pattern.data()) != nullptr ? pattern : "";
}

std::vector<std::string> RemoveOrphanedAttemptDirs(const std::string& temp_dir) {
  std::vector<std::string> removed;
  std::error_code error;
  try {
    for (const auto& entry : fs::directory_iterator(temp_dir, error)) {
      const std::string name = entry.path().filename().string();
      const pid_t pid = AttemptDirProcess(name);
      if (pid <= 0 || entry.is_symlink() || !entry.is_directory()) continue;
      if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to ask
      if (fs::remove_all(entry.path(), error) != static_cast<std::uintmax_t>(-1) && !error) {
        removed.push_back(name);
      }
    }
  } catch (const fs::filesystem_error&) {  // housekeeping: what is left stays for next time
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace polytrain
