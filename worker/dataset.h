// A job's data, decoded once into tensors: batches are then one gather, never a decode.
#ifndef POLYTRAIN_WORKER_DATASET_H_
#define POLYTRAIN_WORKER_DATASET_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/job.pb.h"
#include "worker/data_root.h"

namespace polytrain {

struct Split {
  torch::Tensor x;  // float32 [N, sample_shape...]
  // int64 [N], class indices; or float32 [N, C] multi-label targets (multi_label.h), C the
  // dataset's `classes`
  torch::Tensor y;
  int64_t size() const { return y.defined() ? y.size(0) : 0; }
};

struct Dataset {
  Split train;
  Split validation;  // empty unless validation_fraction > 0
  Split test;
  int64_t classes = 0;
  std::vector<int64_t> sample_shape;  // {1, H, W} for images, {features} otherwise
  std::string description;            // e.g. "fashion_mnist: 60000 train, 10000 test, 10 classes"
  std::string field;                  // the spec field errors about the data's values name
};

// Reads (or generates) the data of `spec`, its files found through `files`. Image
// pixels are scaled to [0, 1] and standardized with the training set's mean and std. `seed` (the
// job's) draws the validation split.
absl::StatusOr<Dataset> LoadDataset(const polytrain::v1::DatasetSpec& spec, const JobFiles& files,
                                    uint64_t seed, const std::string& path = "spec.dataset");

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_DATASET_H_
