// Forcing what was written to a file, or a name made in a directory, onto the disk. A file
// renamed into place is written, synced, renamed, and its directory synced: after a power loss
// the name then holds the whole file, never an empty or partial one (the page cache alone
// survives a killed process, not a lost machine).
#ifndef POLYTRAIN_COMMON_FILE_SYNC_H_
#define POLYTRAIN_COMMON_FILE_SYNC_H_

#include <string>

#include "absl/status/status.h"

namespace polytrain {

// fsync of the file at `path`: NOT_FOUND when it does not exist, INTERNAL naming the path and
// the system's reason when the sync fails.
absl::Status SyncFile(const std::string& path);

// fsync of the directory holding `path` (the current directory for a bare name), so that a name
// made, renamed or removed there lasts.
absl::Status SyncParentDirectory(const std::string& path);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_FILE_SYNC_H_
