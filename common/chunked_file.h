// A file moved in chunks, as artifacts travel between workers and the coordinator: read chunk by
// chunk with the size and CRC-32 of what was read, or written chunk by chunk to a temporary file
// that is checked against the sender's size and CRC-32 and only then synced and renamed into
// place (its directory synced after), so a file in place is never partial, not even after a power
// loss. Both sides of every transfer use these.
#ifndef POLYTRAIN_COMMON_CHUNKED_FILE_H_
#define POLYTRAIN_COMMON_CHUNKED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_checksum.h"

namespace polytrain {

class ChunkedFileReader {
 public:
  // NOT_FOUND when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<ChunkedFileReader>> Open(const std::string& path,
                                                                 size_t chunk_bytes);

  // The next chunk (at most chunk_bytes) into `data`; `last` is true when the file ends with it
  // (an empty file is one empty last chunk). DATA_LOSS when reading fails.
  absl::Status Next(std::string* data, bool* last);
  // Size and CRC-32 of every chunk returned so far: the whole file's after the last.
  const FileChecksum& read() const { return read_; }

 private:
  ChunkedFileReader(std::string path, size_t chunk_bytes);
  std::string path_;
  size_t chunk_bytes_;
  std::ifstream in_;
  FileChecksum read_;
};

// A failed write or sync of a received file as a status: ENOSPC and EDQUOT RESOURCE_EXHAUSTED
// ("the receiver's disk is full"), anything else INTERNAL; `what` says what failed.
absl::Status WriteFailure(absl::string_view what, int error);
// A refusal for a full disk: WriteFailure's, and the coordinator's own ("the coordinator's --db
// disk is full"), a file system's quota (EDQUOT) included: RESOURCE_EXHAUSTED saying "disk is
// full". Space may come back; our own limits (--max_artifact_bytes, uploads at once) do not.
bool IsDiskFull(const absl::Status& status);

class ChunkedFileWriter {
 public:
  // What Commit does with a file already at the final path.
  enum class Existing { kReplace, kKeep };
  // How the temporary file is named, in the final path's directory. kStored: the stores' own
  // files, <name>.upload-<pid>-<random> (they skip and clean up that marker). kDownload: a user's
  // file, hidden, .<name>.download-<pid>-<random>, so a download killed half-way leaves nothing
  // that looks like output (RemoveAbandonedDownloads clears it later).
  enum class TempName { kStored, kDownload };

  // Writes to a temporary file beside `final_path` (created, with its directory, if needed),
  // named as `temp_name` says and opened O_EXCL: writers never share it. Appending beyond
  // `max_bytes` is INVALID_ARGUMENT on the field "data".
  static absl::StatusOr<std::unique_ptr<ChunkedFileWriter>> Create(
      const std::string& final_path, int64_t max_bytes, TempName temp_name = TempName::kStored);
  // Removes the kDownload temporary files of `final_path` whose writer is gone: its pid runs no
  // process here and the file was not written for a minute. Returns how many it removed.
  static int RemoveAbandonedDownloads(const std::string& final_path);
  // Removes the temporary file unless it was committed.
  ~ChunkedFileWriter();

  absl::Status Append(absl::string_view data);
  // Syncs and closes the temporary file (INTERNAL naming `label`, not the path, when that
  // fails), then checks that what was appended matches what the sender says it sent: DATA_LOSS
  // naming `label` otherwise.
  absl::Status Verify(absl::string_view label, const FileChecksum& sent);
  // Renames the verified file into place, then syncs its directory (best effort: the file is in
  // place whatever that sync says; without `sync_directory` the caller syncs it). With kKeep a file
  // already there (one made while this was written) stays, and the commit is ALREADY_EXISTS: the
  // check and the rename are one step (renameat2's RENAME_NOREPLACE, or link where the file system
  // lacks it). An error means nothing was put in place.
  absl::Status Commit(Existing existing = Existing::kReplace, bool sync_directory = true);
  const FileChecksum& written() const { return written_; }
  const std::string& final_path() const { return final_path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  ChunkedFileWriter(std::string final_path, int64_t max_bytes, TempName temp_name);
  std::string final_path_;
  std::string temp_path_;
  int64_t max_bytes_;
  // Appending starts writing back every this many bytes (sync_file_range, not waited for).
  static constexpr int64_t kWritebackBytes = int64_t{8} << 20;
  int fd_ = -1;  // the temporary file, until Verify
  FileChecksum written_;
  int64_t started_writeback_ = 0;
  bool created_ = false;
  bool verified_ = false;
  bool committed_ = false;
};

// The CRC-32 (zlib's) of `data` continued from `crc` (0 for the first bytes).
uint32_t ExtendCrc32(uint32_t crc, absl::string_view data);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_CHUNKED_FILE_H_
