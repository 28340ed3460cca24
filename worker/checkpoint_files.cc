#include "worker/checkpoint_files.h"

#include <algorithm>
#include <system_error>

#include "absl/strings/match.h"
#include "api/limits.h"

namespace polytrain {

namespace fs = std::filesystem;

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

}  // namespace polytrain
