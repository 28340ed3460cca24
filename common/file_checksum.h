// Size and CRC-32 of a file, and the small record of them kept beside a file that must be
// checked before it is trusted again (checkpoints on a worker, artifacts on the coordinator):
// a file damaged on disk after it was written is caught before it is loaded or served.
#ifndef POLYTRAIN_COMMON_FILE_CHECKSUM_H_
#define POLYTRAIN_COMMON_FILE_CHECKSUM_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polytrain {

struct FileChecksum {
  int64_t size = 0;
  uint32_t crc32 = 0;  // zlib's
  bool operator==(const FileChecksum& other) const {
    return size == other.size && crc32 == other.crc32;
  }
};

// Reads the whole file. NOT_FOUND when it cannot be opened.
absl::StatusOr<FileChecksum> ComputeFileChecksum(const std::string& path);

// Writes "<size> <crc32>\n" to `record_path` through a temporary file and a rename, so a
// record is never half-written.
absl::Status WriteChecksumRecord(const std::string& record_path, const FileChecksum& checksum);
// The content of such a record.
std::string ChecksumRecordText(const FileChecksum& checksum);

// Checks `path` against the record at `record_path`; returns the checksum when they agree.
// DATA_LOSS, naming `label`, when there is no readable record or the file differs from it.
absl::StatusOr<FileChecksum> VerifyAgainstRecord(const std::string& label, const std::string& path,
                                                 const std::string& record_path);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_FILE_CHECKSUM_H_
