// Reading a small file named by a flag (a certificate, a key, a token, a tokens list): errors
// name the flag and the path, a missing file is NOT_FOUND (exit 4, as a missing file everywhere),
// and only regular files are read, so a FIFO cannot block the tool and /dev/zero cannot fill its
// memory.
#ifndef POLYTRAIN_COMMON_FLAG_FILE_H_
#define POLYTRAIN_COMMON_FLAG_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// The whole file, at most `max_bytes`. NOT_FOUND when it does not exist; INVALID_ARGUMENT when it
// is a directory, not a regular file, unreadable or larger, each as "FLAG PATH: why".
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path,
                                         int64_t max_bytes);

// Writes `content` to the file a flag names (a --port_file a script waits for): into a temporary
// file beside it, then renamed into place, so that a reader never sees it half-written.
// INVALID_ARGUMENT "FLAG PATH: cannot write: why" when it cannot be (no such directory, a
// directory there, no permission), and nothing is left behind.
absl::Status WriteFlagFile(absl::string_view flag, const std::string& path,
                           absl::string_view content);

// WriteFlagFile's errors, checked before there is anything to write (a port not yet bound), so
// that a tool refuses the flag before it starts: the path is no directory and the directory it
// goes in exists and may be written.
absl::Status CheckFlagFileWritable(absl::string_view flag, const std::string& path);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_FLAG_FILE_H_
