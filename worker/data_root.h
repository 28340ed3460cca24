// Confines a job's data paths to the worker's data root: a job may read only files under it,
// whatever "..", absolute paths or symlinks it names.
#ifndef POLYTRAIN_WORKER_DATA_ROOT_H_
#define POLYTRAIN_WORKER_DATA_ROOT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// Debian's dataset packages install under this directory.
inline constexpr char kDefaultDataRoot[] = "/usr/share/datasets";

// The canonical path of `relative` under `data_root`, or INVALID_ARGUMENT naming `field` when
// it escapes the root (through "..", an absolute path elsewhere or a symlink pointing out) or is
// not a regular file (a directory, a FIFO), and NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ResolveDataPath(absl::string_view data_root, absl::string_view relative,
                                            absl::string_view field);

// Where a job's own files come from: paths under the worker's data root, and artifacts the
// worker fetched from the coordinator before the job started (id -> a copy checked against it).
struct JobFiles {
  std::string data_root = kDefaultDataRoot;
  std::map<std::string, std::string> artifacts;
};

// The field of a file source (TorchScriptModel, TensorFile) that names the file: "<field>.path"
// or "<field>.artifact".
std::string SourceField(absl::string_view field, bool has_artifact);

// The local file a source names: its path resolved under the data root (ResolveDataPath), or
// the fetched copy of its artifact. FAILED_PRECONDITION naming "<field>.artifact" when the
// artifact was not fetched (a standalone run has no coordinator to fetch it from).
absl::StatusOr<std::string> ResolveJobFile(const JobFiles& files, bool has_artifact,
                                           const std::string& path, const std::string& artifact,
                                           absl::string_view field);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_DATA_ROOT_H_
