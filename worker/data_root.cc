#include "worker/data_root.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"

namespace polytrain {

absl::StatusOr<std::string> ResolveDataPath(absl::string_view data_root, absl::string_view relative,
                                            absl::string_view field) {
  // Errors name the field and quote what the job gave, never the root or where a link points:
  // they reach whoever submitted the job, who has no business knowing the worker's file system.
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path root = fs::canonical(fs::path{std::string(data_root)}, error);
  if (error) return absl::NotFoundError("the worker's data root (--data_root) does not exist");
  const fs::path requested{std::string(relative)};
  for (const fs::path& part : requested) {
    if (part == "..") {
      return InvalidField(field, absl::StrCat("must stay inside the data root; '..' is not "
                                              "allowed, got ",
                                              Quote(relative)));
    }
  }
  const fs::path joined = requested.is_absolute() ? requested : root / requested;
  // weakly_canonical() follows every symlink that exists, so a link pointing out of the root is
  // caught below, and a path outside the root is refused whether or not it exists.
  const fs::path resolved = fs::weakly_canonical(joined, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat(field, ": ", Quote(relative), " cannot be resolved: ", error.message()));
  }
  const auto [root_end, ignored] =
      std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
  if (root_end != root.end()) {
    return InvalidField(
        field, absl::StrCat("must stay inside the data root, but ", Quote(relative), " leaves it"));
  }
  if (!fs::exists(resolved, error)) {
    return absl::NotFoundError(
        absl::StrCat(field, ": ", Quote(relative),
                     " does not exist in the data root (the worker's --data_root); ",
                     // IDX files have no artifact: nothing uploads them.
                     absl::StrContains(field, ".idx.")
                         ? "IDX files are read there as they are (polyctl does not upload them; a "
                           "tensors file is)"
                         : "polyctl submit uploads a file of yours from the spec's directory or "
                           "--files DIR, the Python client's submit() from files=DIR"));
  }
  // Checked before anything opens it: opening a FIFO waits for a writer, past any time limit
  // and any cancel.
  if (!fs::is_regular_file(resolved, error)) {
    return InvalidField(
        field, absl::StrCat(Quote(relative), fs::is_directory(resolved, error)
                                                 ? " is a directory; name a file"
                                                 : " is not a regular file (a FIFO, a socket or a "
                                                   "device); name a file"));
  }
  return resolved.string();
}

std::string SourceField(absl::string_view field, bool has_artifact) {
  return FieldPath(field, has_artifact ? "artifact" : "path");
}

absl::StatusOr<std::string> ResolveJobFile(const JobFiles& files, bool has_artifact,
                                           const std::string& path, const std::string& artifact,
                                           absl::string_view field) {
  const std::string source_field = SourceField(field, has_artifact);
  if (!has_artifact) return ResolveDataPath(files.data_root, path, source_field);
  auto fetched = files.artifacts.find(artifact);
  if (fetched == files.artifacts.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        source_field, ": ", artifact,
        " was not fetched; artifacts come from a coordinator (a standalone run names a path)"));
  }
  return fetched->second;
}

}  // namespace polytrain
