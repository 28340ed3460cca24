// A zip archive of stored (uncompressed) records, as the coordinator and the worker expect of
// a file a job names (common/torch_file_check.h): for tests that upload a model or a dataset
// without needing LibTorch to read it. Its CRC is left 0 (nothing here checks it).
#ifndef POLYTRAIN_TESTING_ZIP_ARCHIVE_H_
#define POLYTRAIN_TESTING_ZIP_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace polytrain::testing {

inline void PutLittleEndian(std::string* out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out->push_back(static_cast<char>(value >> (8 * i) & 0xff));
}

// Stored records (name, data) as a zip archive, in order.
inline std::string StoredZipRecords(
    const std::vector<std::pair<std::string, std::string>>& records) {
  std::string file, directory;
  for (const auto& [name, data] : records) {
    const uint64_t offset = file.size();
    PutLittleEndian(&file, 0x04034b50, 4);  // local file header
    PutLittleEndian(&file, 20, 2);
    PutLittleEndian(&file, 0, 2);
    PutLittleEndian(&file, 0, 2);  // stored
    PutLittleEndian(&file, 0, 4);  // time, date
    PutLittleEndian(&file, 0, 4);  // crc
    PutLittleEndian(&file, data.size(), 4);
    PutLittleEndian(&file, data.size(), 4);
    PutLittleEndian(&file, name.size(), 2);
    PutLittleEndian(&file, 0, 2);
    file += name + data;
    PutLittleEndian(&directory, 0x02014b50, 4);  // central directory entry
    PutLittleEndian(&directory, 20, 2);
    PutLittleEndian(&directory, 20, 2);
    PutLittleEndian(&directory, 0, 2);
    PutLittleEndian(&directory, 0, 2);
    PutLittleEndian(&directory, 0, 4);
    PutLittleEndian(&directory, 0, 4);
    PutLittleEndian(&directory, data.size(), 4);
    PutLittleEndian(&directory, data.size(), 4);
    PutLittleEndian(&directory, name.size(), 2);
    PutLittleEndian(&directory, 0, 2);  // extra
    PutLittleEndian(&directory, 0, 2);  // comment
    PutLittleEndian(&directory, 0, 2);
    PutLittleEndian(&directory, 0, 2);
    PutLittleEndian(&directory, 0, 4);
    PutLittleEndian(&directory, offset, 4);  // the local header's offset
    directory += name;
  }
  const uint64_t directory_at = file.size();
  file += directory;
  PutLittleEndian(&file, 0x06054b50, 4);  // end of central directory
  PutLittleEndian(&file, 0, 4);
  PutLittleEndian(&file, records.size(), 2);
  PutLittleEndian(&file, records.size(), 2);
  PutLittleEndian(&file, directory.size(), 4);
  PutLittleEndian(&file, directory_at, 4);
  PutLittleEndian(&file, 0, 2);
  return file;
}

// `data` as the record `name` of a zip archive. A TorchScript file holds "archive/constants.pkl"
// (StoredModelZip), which the coordinator looks for in a model.
inline std::string StoredZip(const std::string& data, const std::string& name = "archive/data") {
  return StoredZipRecords({{name, data}});
}

// What passes for a TorchScript file until LibTorch reads it: `data` beside a constants.pkl
// holding an empty tuple.
inline std::string StoredModelZip(const std::string& data) {
  return StoredZipRecords({{"a/constants.pkl", std::string("\x80\x02).", 4)}, {"a/0", data}});
}

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_ZIP_ARCHIVE_H_
