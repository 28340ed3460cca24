// The checkpoint files a worker keeps per job (ckpt-<step, 12 digits>.pt, each with its .crc32
// record), seen as files: no LibTorch here.
#ifndef POLYTRAIN_WORKER_CHECKPOINT_FILES_H_
#define POLYTRAIN_WORKER_CHECKPOINT_FILES_H_

#include <string>
#include <vector>

namespace polytrain {

// Deletes the checkpoints in `dir` that come after `newest_kept`, a checkpoint's file name (or a
// path ending in one); an empty `newest_kept` deletes every one. Returns the names deleted, in
// order. Files that are not checkpoints stay.
std::vector<std::string> DeleteCheckpointsAfter(const std::string& dir,
                                                const std::string& newest_kept);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_CHECKPOINT_FILES_H_
