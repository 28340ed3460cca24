#include "common/file_checksum.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/chunked_file.h"
#include "common/file_sync.h"

namespace polytrain {

absl::StatusOr<FileChecksum> ComputeFileChecksum(const std::string& path) {
  absl::StatusOr<std::unique_ptr<ChunkedFileReader>> reader =
      ChunkedFileReader::Open(path, size_t{1} << 20);
  if (!reader.ok()) return reader.status();
  std::string chunk;
  bool last = false;
  while (!last) {
    if (absl::Status s = (*reader)->Next(&chunk, &last); !s.ok()) return s;
  }
  return (*reader)->read();
}

absl::Status WriteChecksumRecord(const std::string& record_path, const FileChecksum& checksum) {
  if (absl::Status s = ReplaceFileWhole(record_path, ChecksumRecordText(checksum),
                                        /*durable=*/true);
      !s.ok()) {
    return absl::InternalError(absl::StrCat(record_path, ": cannot write: ", s.message()));
  }
  return absl::OkStatus();
}

std::string ChecksumRecordText(const FileChecksum& checksum) {
  return absl::StrCat(checksum.size, " ", checksum.crc32, "\n");
}

absl::StatusOr<FileChecksum> VerifyAgainstRecord(const std::string& label, const std::string& path,
                                                 const std::string& record_path) {
  std::ifstream record(record_path);
  FileChecksum recorded;
  if (!(record >> recorded.size >> recorded.crc32)) {
    return absl::DataLossError(absl::StrCat(label, ": no checksum recorded"));
  }
  absl::StatusOr<FileChecksum> actual = ComputeFileChecksum(path);
  if (!actual.ok())
    return absl::DataLossError(absl::StrCat(label, ": ", actual.status().message()));
  if (!(*actual == recorded)) {
    return absl::DataLossError(absl::StrCat(label, ": ", actual->size, " bytes with CRC-32 ",
                                            actual->crc32, " on disk, written as ", recorded.size,
                                            " bytes with CRC-32 ", recorded.crc32));
  }
  return recorded;
}

}  // namespace polytrain
