// Checks of a job's data beyond each field's range: what the worker would refuse once the data
// is loaded, refused at submission wherever the answer does not depend on the files (the
// built-in datasets' shapes and sizes, float32 arithmetic).
#ifndef POLYTRAIN_API_DATASET_CHECKS_H_
#define POLYTRAIN_API_DATASET_CHECKS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

// normalize's values (`path` names it): 1 to kMaxNormalizedChannels means, as many stds, each in
// its range, and no channel whose (x - mean) / std overflows float32 for every value x but the
// mean itself (the worker normalizes in float32, the samples' type).
absl::Status CheckNormalization(const polytrain::v1::Normalization& normalize,
                                const std::string& path);

// Where the samples' shape is known at submission (synthetic, Fashion-MNIST): augment and
// normalize fit it, in the worker's words. `path` names the DatasetSpec.
absl::Status CheckKnownSampleShape(const polytrain::v1::DatasetSpec& data, const std::string& path);

// The samples held out of `train_samples` for validation: floor(n * fraction).
int64_t HeldOutSamples(int64_t train_samples, double fraction);

// The validation split of `train_samples` training samples (HeldOutSamples held out): OK
// when it holds at least one sample, else INVALID_ARGUMENT on `field`. The worker checks it once
// it has read the data.
absl::Status CheckValidationSplit(int64_t train_samples, double fraction, absl::string_view field);

// CheckValidationSplit where the training set's size is known at submission (synthetic data).
// `path` names the DatasetSpec.
absl::Status CheckKnownValidationSplit(const polytrain::v1::DatasetSpec& data,
                                       const std::string& path);

// With drop_last, a training split of `train_samples` holds at least one whole batch, else
// INVALID_ARGUMENT on `field`. The worker checks it once it has split the data.
absl::Status CheckDropLastBatch(int64_t train_samples, int64_t batch_size, absl::string_view field);

// CheckDropLastBatch where the training split's size is known at submission (synthetic data:
// after the held-out validation samples and train_limit, as the worker splits it). `path` names
// the JobSpec.
absl::Status CheckKnownDropLast(const polytrain::v1::JobSpec& spec, const std::string& path);

}  // namespace polytrain

#endif  // POLYTRAIN_API_DATASET_CHECKS_H_
