// Checks of a job's data beyond each field's range: what the worker would refuse once the data
// is loaded, refused at submission wherever the answer does not depend on the files (the
// built-in datasets' shapes and sizes, float32 arithmetic), in the worker's words.
#ifndef POLYTRAIN_API_DATASET_CHECKS_H_
#define POLYTRAIN_API_DATASET_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

// normalize's values (`path` names it): 1 to kMaxNormalizedChannels means, as many stds, each in
// its range, and no channel whose (x - mean) / std overflows float32 for every value x but the
// mean itself (the worker normalizes in float32, the samples' type).
absl::Status CheckNormalization(const polytrain::v1::Normalization& normalize,
                                const std::string& path);

// Where the samples' shape is known at submission (synthetic, Fashion-MNIST): augment and
// normalize fit it. `path` names the DatasetSpec.
absl::Status CheckKnownSampleShape(const polytrain::v1::DatasetSpec& data, const std::string& path);

// Where the training split's size is known at submission (synthetic data): it keeps a validation
// split of at least one sample, and with drop_last at least one whole batch. `path` names the
// JobSpec.
absl::Status CheckKnownTrainingSplit(const polytrain::v1::JobSpec& spec, const std::string& path);

}  // namespace polytrain

#endif  // POLYTRAIN_API_DATASET_CHECKS_H_
