#include "common/flag_directory.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/random_key.h"

namespace polytrain {

absl::Status PrepareFlagDirectory(absl::string_view flag, const std::string& path) {
  const auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": ", why));
  };
  std::error_code error;
  if (std::filesystem::exists(path, error) && !std::filesystem::is_directory(path, error)) {
    return refuse("not a directory");
  }
  std::filesystem::create_directories(path, error);
  if (error) return refuse(error.message());
  if (!std::filesystem::is_directory(path, error)) return refuse("not a directory");
  // Permissions alone do not tell (root, read-only mounts, full disks): a file is tried.
  const std::string probe = path + "/.write-test-" + RandomHexKey(8);
  FILE* file = std::fopen(probe.c_str(), "wb");
  if (file == nullptr)
    return refuse(absl::StrCat("cannot write files there: ", std::strerror(errno)));
  const bool written = std::fputc('x', file) != EOF;
  const bool closed = std::fclose(file) == 0;
  std::filesystem::remove(probe, error);
  if (!written || !closed) return refuse("cannot write files there");
  return absl::OkStatus();
}

}  // namespace polytrain
