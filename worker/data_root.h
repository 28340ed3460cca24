// Confines a job's data paths to the worker's data root: a job may read only files under it,
// whatever "..", absolute paths or symlinks it names.
#ifndef POLYTRAIN_WORKER_DATA_ROOT_H_
#define POLYTRAIN_WORKER_DATA_ROOT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// Debian's dataset packages install under this directory.
inline constexpr char kDefaultDataRoot[] = "/usr/share/datasets";

// The canonical path of `relative` under `data_root`, or INVALID_ARGUMENT naming `field` when
// it escapes the root (through "..", an absolute path elsewhere or a symlink pointing out) and
// NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ResolveDataPath(absl::string_view data_root, absl::string_view relative,
                                            absl::string_view field);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_DATA_ROOT_H_
