// A loss against the classes of its job's dataset: one class weight per class, and a softmax
// loss's ignored class one of them. Checked at submission where the class count is known before
// any file is read, and by the worker once it has read a file's labels.
#ifndef POLYTRAIN_API_LOSS_DATASET_FIT_H_
#define POLYTRAIN_API_LOSS_DATASET_FIT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "polytrain/v1/job.pb.h"
#include "polytrain/v1/loss.pb.h"

namespace polytrain {

// The classes of a dataset whose class count is known before any file is read (Fashion-MNIST's
// 10, a synthetic dataset's `classes`); 0 for the others (files the worker reads).
int64_t KnownClasses(const polytrain::v1::DatasetSpec& dataset);

// A loss's class_weights and ignore_index against the classes of a dataset whose class count is
// known before any file is read (Fashion-MNIST's 10, a synthetic dataset's `classes`): one weight
// per class, a softmax loss's ignored class one of them; INVALID_ARGUMENT on
// "<loss_path>.class_weights" or ".ignore_index". Other datasets are checked by the worker.
absl::Status CheckLossFitsDataset(const polytrain::v1::LossSpec& loss, absl::string_view loss_path,
                                  const polytrain::v1::DatasetSpec& dataset);
// A softmax loss's ignore_index, if set, is a class in [0, classes): a training job's labels are
// (a value outside would silently ignore nothing). A sigmoid loss's compares element values.
absl::Status CheckIgnoredClass(const polytrain::v1::LossSpec& loss, absl::string_view loss_path,
                               int64_t classes);

}  // namespace polytrain

#endif  // POLYTRAIN_API_LOSS_DATASET_FIT_H_
