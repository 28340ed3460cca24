#include "worker/checkpoint_files.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "api/limits.h"

namespace polytrain {
namespace {

constexpr char kSuffix[] = ".pt";
constexpr char kRecordSuffix[] = ".crc32";

// The step digits of a checkpoint's file name, or "" when it is not one.
std::string StepDigits(const std::string& name) {
  const size_t prefix = sizeof(kCheckpointPrefix) - 1;
  if (name.size() != prefix + kCheckpointStepDigits + sizeof(kSuffix) - 1 ||
      !absl::StartsWith(name, kCheckpointPrefix) || !absl::EndsWith(name, kSuffix)) {
    return "";
  }
  std::string digits = name.substr(prefix, kCheckpointStepDigits);
  return std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ? digits : "";
}

}  // namespace

std::vector<std::string> DeleteCheckpointsAfter(const std::string& dir,
                                                const std::string& newest_kept) {
  const std::string kept =
      newest_kept.empty() ? "" : StepDigits(std::filesystem::path(newest_kept).filename());
  std::vector<std::string> deleted;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    const std::string digits = StepDigits(name);
    if (!digits.empty() && (kept.empty() || digits > kept)) deleted.push_back(name);
  }
  std::sort(deleted.begin(), deleted.end());
  for (const std::string& name : deleted) {
    std::filesystem::remove(std::filesystem::path(dir) / name, error);
    std::filesystem::remove(std::filesystem::path(dir) / (name + kRecordSuffix), error);
  }
  return deleted;
}

}  // namespace polytrain
