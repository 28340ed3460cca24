// A dataset of the user's own as tensors (JobSpec dataset.tensors): one file torch.save wrote,
// {"train_x", "train_y", "test_x", "test_y"[, "val_x", "val_y"]}, read with LibTorch's own
// pickle loader. Every key is checked for dtype, shape, sample count and class range before any
// training, and an error names the key; a file that is not such a dict (truncated, another
// pickle, wrong types) is an error, never a crash.
#ifndef POLYTRAIN_WORKER_TENSOR_FILE_H_
#define POLYTRAIN_WORKER_TENSOR_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "worker/dataset.h"

namespace polytrain {

// The largest tensor file read, and the most classes its labels may name.
inline constexpr int64_t kMaxTensorFileBytes = int64_t{16} << 30;
inline constexpr int64_t kMaxTensorFileClasses = 100000;

// Reads `file` into data->train, data->test and (with val_x/val_y) data->validation, and sets
// data->classes and data->sample_shape. x becomes float32 (uint8 scaled to [0, 1]), y int64
// class indices, or float32 multi-label targets where train_y is [N, C] (C is then `classes`).
// INVALID_ARGUMENT naming `field` and the key otherwise.
absl::Status ReadTensorFile(const std::string& file, const std::string& field, Dataset* data);

// Reads and unpickles `file` as ReadTensorFile does, then lets it go, building no dataset: what
// the load probe's child (worker/load_probe.h) runs, where LibTorch can crash on a crafted file.
absl::Status UnpickleTensorFile(const std::string& file, const std::string& field);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_TENSOR_FILE_H_
