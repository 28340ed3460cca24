#include "common/flag_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/file_sync.h"

namespace polytrain {

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path,
                                         int64_t max_bytes) {
  const std::string where = absl::StrCat(flag, " ", path, ": ");
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    if (error && error != std::errc::no_such_file_or_directory) {
      return absl::InvalidArgumentError(absl::StrCat(where, "cannot read: ", error.message()));
    }
    return absl::NotFoundError(absl::StrCat(where, "no such file"));
  }
  if (std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(where, "is a directory"));
  }
  if (!std::filesystem::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(where, "not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(where, "cannot read: ", std::strerror(errno)));
  }
  std::string text(static_cast<size_t>(max_bytes) + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (static_cast<int64_t>(text.size()) > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(where, "larger than ", max_bytes >> 20, " MiB"));
  }
  return text;
}

absl::Status CheckFlagFileWritable(absl::string_view flag, const std::string& path) {
  const std::string where = absl::StrCat(flag, " ", path, ": cannot write: ");
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat(where, "is a directory"));
  }
  std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (directory.empty()) directory = ".";
  if (access(directory.c_str(), W_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status WriteFlagFile(absl::string_view flag, const std::string& path,
                           absl::string_view content) {
  const std::string where = absl::StrCat(flag, " ", path, ": cannot write: ");
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat(where, "is a directory"));
  }
  // Read by scripts that wait for it, not kept across a power loss: not synced.
  if (absl::Status s = ReplaceFileWhole(path, content, /*durable=*/false); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, s.message()));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
