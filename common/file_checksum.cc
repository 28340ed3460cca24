#include "common/file_checksum.h"

#include <atomic>
#include <cstdio>
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
  static std::atomic<int64_t> counter{0};
  const std::string temp = absl::StrCat(record_path, ".tmp-", counter++);
  {
    std::ofstream out(temp, std::ios::trunc);
    out << checksum.size << " " << checksum.crc32 << "\n";
    if (!out.flush()) {
      std::remove(temp.c_str());
      return absl::InternalError(absl::StrCat(temp, ": write failed"));
    }
  }
  if (absl::Status synced = SyncFile(temp); !synced.ok()) {
    std::remove(temp.c_str());
    return synced;
  }
  if (std::rename(temp.c_str(), record_path.c_str()) != 0) {
    std::remove(temp.c_str());
    return absl::InternalError(absl::StrCat(record_path, ": rename failed"));
  }
  SyncParentDirectory(record_path);
  return absl::OkStatus();
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
