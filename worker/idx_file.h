// Reads IDX files (the MNIST format: big-endian header, unsigned bytes), gzipped or plain.
#ifndef POLYTRAIN_WORKER_IDX_FILE_H_
#define POLYTRAIN_WORKER_IDX_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// Largest file we accept after decompression (Fashion-MNIST's train images are 47 MB).
inline constexpr int64_t kMaxIdxBytes = int64_t{2} << 30;

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;  // row-major, product(dims) bytes
};

// Errors start with `label` (default: the path): NOT_FOUND when the file cannot be opened,
// INVALID_ARGUMENT for a bad magic number, an element type other than unsigned byte, or data
// shorter than the header says. A job's files are labelled by the spec field and the path the
// job gave, so that no error tells a client where the worker keeps its data.
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path, absl::string_view label = "");

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_IDX_FILE_H_
