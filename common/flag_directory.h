// A directory named by a flag that a process will write into later (checkpoints, a cache):
// made and tried at start-up, so that a path that cannot hold files fails before any work is
// done, naming the flag, rather than hours into a run.
#ifndef POLYTRAIN_COMMON_FLAG_DIRECTORY_H_
#define POLYTRAIN_COMMON_FLAG_DIRECTORY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// Creates `path` (and its parents) when missing, then writes and removes a small file in it.
// INVALID_ARGUMENT "FLAG PATH: why" when it is not a directory or cannot be written.
absl::Status PrepareFlagDirectory(absl::string_view flag, const std::string& path);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_FLAG_DIRECTORY_H_
