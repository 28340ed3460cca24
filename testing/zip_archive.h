// A zip archive of one stored (uncompressed) record, as the coordinator and the worker expect of
// a file a job names (common/torch_file_check.h): for tests that upload a model or a dataset
// without needing LibTorch to read it. Its CRC is left 0 (nothing here checks it).
#ifndef POLYTRAIN_TESTING_ZIP_ARCHIVE_H_
#define POLYTRAIN_TESTING_ZIP_ARCHIVE_H_

#include <cstdint>
#include <string>

namespace polytrain::testing {

inline void PutLittleEndian(std::string* out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out->push_back(static_cast<char>(value >> (8 * i) & 0xff));
}

// `data` as the record `name` of a zip archive. A TorchScript file holds "archive/constants.pkl"
// (StoredModelZip), which the coordinator looks for in a model.
inline std::string StoredZip(const std::string& data, const std::string& name = "archive/data") {
  std::string file;
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
  const uint64_t directory_at = file.size();
  PutLittleEndian(&file, 0x02014b50, 4);  // central directory entry
  PutLittleEndian(&file, 20, 2);
  PutLittleEndian(&file, 20, 2);
  PutLittleEndian(&file, 0, 2);
  PutLittleEndian(&file, 0, 2);
  PutLittleEndian(&file, 0, 4);
  PutLittleEndian(&file, 0, 4);
  PutLittleEndian(&file, data.size(), 4);
  PutLittleEndian(&file, data.size(), 4);
  PutLittleEndian(&file, name.size(), 2);
  PutLittleEndian(&file, 0, 2);  // extra
  PutLittleEndian(&file, 0, 2);  // comment
  PutLittleEndian(&file, 0, 2);
  PutLittleEndian(&file, 0, 2);
  PutLittleEndian(&file, 0, 4);
  PutLittleEndian(&file, 0, 4);  // the local header's offset
  file += name;
  const uint64_t directory_bytes = file.size() - directory_at;
  PutLittleEndian(&file, 0x06054b50, 4);  // end of central directory
  PutLittleEndian(&file, 0, 4);
  PutLittleEndian(&file, 1, 2);
  PutLittleEndian(&file, 1, 2);
  PutLittleEndian(&file, directory_bytes, 4);
  PutLittleEndian(&file, directory_at, 4);
  PutLittleEndian(&file, 0, 2);
  return file;
}

// What passes for a TorchScript file until LibTorch reads it.
inline std::string StoredModelZip(const std::string& data) {
  return StoredZip(data, "archive/constants.pkl");
}

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_ZIP_ARCHIVE_H_
