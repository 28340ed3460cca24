// The checkpoint files a worker keeps per job (ckpt-<step, 12 digits>.pt, each with its .crc32
// record), seen as files: no LibTorch here. checkpoint.h writes and reads their contents.
#ifndef POLYTRAIN_WORKER_CHECKPOINT_FILES_H_
#define POLYTRAIN_WORKER_CHECKPOINT_FILES_H_

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace polytrain {

inline constexpr char kCheckpointSuffix[] = ".pt";
// A checkpoint's size and CRC-32 are recorded in <checkpoint>.crc32.
inline constexpr char kCheckpointRecordSuffix[] = ".crc32";

// The checkpoints in `dir`, oldest first (zero-padded steps sort by name); none when it is
// missing.
std::vector<std::filesystem::path> ListCheckpoints(const std::string& dir);

// Deletes a checkpoint and its record.
void DeleteCheckpoint(const std::filesystem::path& checkpoint);

// Deletes the checkpoints in `dir` but the `keep_last` newest and `also_kept` (a file name; ""
// none), e.g. the run's best by spec.checkpoint.keep_best_by.
void PruneCheckpoints(const std::string& dir, int keep_last, const std::string& also_kept);

// Deletes what a save cut short (a worker killed while writing) left in `dir`: a checkpoint's
// record without its checkpoint (the record is written first) and a checkpoint's temporary file
// (<checkpoint>.tmp). One job saves in a directory at a time, so none is another save's.
void DeleteLeftoverCheckpointFiles(const std::string& dir);

// Deletes the checkpoints in `dir` that come after `newest_kept`, a checkpoint's file name (or a
// path ending in one); an empty `newest_kept` deletes every one. Returns the names deleted, in
// order. Files that are not checkpoints stay.
std::vector<std::string> DeleteCheckpointsAfter(const std::string& dir,
                                                const std::string& newest_kept);

// A service worker's --checkpoint_dir holds a directory per job. Once a job no longer runs
// there, its copies only spare a download of what the coordinator stored (a job resumes only from
// a stored checkpoint), so the directories of jobs not in `running` in which nothing was written
// for `idle` are removed (a paused search trial that was never resumed, a failed job). Entries
// that are not directories stay. Returns the names removed.
std::vector<std::string> RemoveIdleJobDirs(const std::string& root, std::chrono::seconds idle,
                                           const std::set<std::string>& running);

// A service worker without --checkpoint_dir gives each attempt a directory of its own under
// `temp_dir` (the system's temporary directory): MakeAttemptDir makes one, unpredictably named
// and private (0700), naming the worker's process; "" when it cannot. An attempt removes its
// directory when it ends; RemoveOrphanedAttemptDirs removes those whose process is gone (a
// worker killed mid-attempt) and returns their names.
std::string MakeAttemptDir(const std::string& temp_dir, const std::string& job_id);
std::vector<std::string> RemoveOrphanedAttemptDirs(const std::string& temp_dir);

// `error` for the coordinator and its clients: the worker's own checkpoint directories (`dirs`,
// with or without a trailing '/') taken out of the paths it names, so that
// "ROOT/job-x/ckpt-....pt" reads as "job-x/ckpt-....pt", the coordinator's name for its copy (a
// search trial's temporary directory leaves the bare file name). Only whole leading parts of a
// path go: "my_ckpt/x" stays when "ckpt" is one of `dirs`.
std::string WithoutCheckpointDirs(std::string error, const std::vector<std::string>& dirs);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_CHECKPOINT_FILES_H_
