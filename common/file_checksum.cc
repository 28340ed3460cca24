#include "common/file_checksum.h"

#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace polytrain {

absl::StatusOr<FileChecksum> ComputeFileChecksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string buffer(1 << 20, '\0');
  uLong crc = crc32(0L, Z_NULL, 0);
  FileChecksum checksum;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize n = in.gcount();
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(n));
    checksum.size += n;
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  checksum.crc32 = static_cast<uint32_t>(crc);
  return checksum;
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
  if (std::rename(temp.c_str(), record_path.c_str()) != 0) {
    std::remove(temp.c_str());
    return absl::InternalError(absl::StrCat(record_path, ": rename failed"));
  }
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
