// What a JobSpec's dataset asks to be done to its images: per-channel standardization of every
// split once after loading (DatasetSpec.normalize), and random crops with padding and horizontal
// flips of each training batch on the training device (DatasetSpec.augment). A step's draws
// depend only on the job's seed and the step, as the data order depends only on the seed and the
// epoch, so a resumed run augments exactly as an uninterrupted one.
#ifndef POLYTRAIN_WORKER_AUGMENTATION_H_
#define POLYTRAIN_WORKER_AUGMENTATION_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

// Standardizes `x` ([N, C, H, W] with one value per channel, or any shape with one value) in
// place. INVALID_ARGUMENT naming `field` ("spec.dataset.normalize") when the channels differ.
absl::Status Normalize(const polytrain::v1::Normalization& normalize,
                       const std::vector<int64_t>& sample_shape, const std::string& field,
                       const std::vector<torch::Tensor*>& splits);

// INVALID_ARGUMENT naming `field` ("spec.dataset.augment") unless the samples are images
// ([H, W] or [C, H, W]).
absl::Status CheckAugmentation(const polytrain::v1::Augmentation& augment,
                               const std::vector<int64_t>& sample_shape, const std::string& field);

// Whether `augment` changes anything.
bool Augments(const polytrain::v1::Augmentation& augment);

// A training batch [B, ..., H, W] cropped and flipped as `augment` says, on its own device: each
// sample padded with zeros by random_crop_padding on every side, cut back to H x W at an offset
// drawn per sample, and mirrored left to right with probability 1/2. The draws come from
// (`seed`, `step`) alone. A data-parallel replica passes where its rows lie in the global batch
// (`first_row`, `global_rows`; -1: x is the whole batch) and gets the draws of those rows.
torch::Tensor AugmentBatch(const torch::Tensor& x, const polytrain::v1::Augmentation& augment,
                           uint64_t seed, int64_t step, int64_t first_row = 0,
                           int64_t global_rows = -1);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_AUGMENTATION_H_
