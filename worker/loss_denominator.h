// What a REDUCTION_MEAN loss divides its batch's summed losses by, row by row: for softmax, the
// target class's weight (1 without class_weights, 0 for a row ignore_index drops); for sigmoid,
// the elements of the row's one-hot target that ignore_index leaves. Data-parallel ranks weigh
// their means by it (replica_share.h), and an evaluation's loss is the job's own mean by it.
#ifndef POLYTRAIN_WORKER_LOSS_DENOMINATOR_H_
#define POLYTRAIN_WORKER_LOSS_DENOMINATOR_H_

#include <torch/types.h>

#include <cstdint>
#include <optional>

#include "loss/core/loss_config.h"

namespace polytrain {

// One float64 value per label (class indices), on the labels' device.
torch::Tensor MeanDenominators(const loss::LossConfig& config, const torch::Tensor& labels,
                               int64_t classes);

// The label whose rows a loss ignores whole: a softmax loss's ignore_index (a sigmoid loss's
// drops target elements, not rows). Accuracy, per-class accuracy and calibration, in training
// and evaluation alike, score only the other rows.
std::optional<int64_t> IgnoredRowLabel(const loss::LossConfig& config);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_LOSS_DENOMINATOR_H_
