// What a REDUCTION_MEAN loss divides its batch's summed losses by, row by row: for softmax, the
// target class's weight (1 without class_weights, 0 for a row ignore_index drops); for sigmoid,
// the elements of the row's target (one-hot, or multi-label) that ignore_index leaves.
// Data-parallel ranks weigh their means by it (replica_share.h), and an evaluation's loss is the
// job's own mean by it.
#ifndef POLYTRAIN_WORKER_LOSS_DENOMINATOR_H_
#define POLYTRAIN_WORKER_LOSS_DENOMINATOR_H_

#include <torch/types.h>

#include <cstdint>
#include <optional>

#include "loss/core/loss_config.h"

namespace polytrain {

// One float64 value per row of `labels` (class indices [N], or multi-label targets [N, C] of a
// sigmoid loss: the row's elements ignore_index leaves), on the labels' device.
torch::Tensor MeanDenominators(const loss::LossConfig& config, const torch::Tensor& labels,
                               int64_t classes);

// The label whose rows a loss ignores whole: a softmax loss's ignore_index (a sigmoid loss's
// drops target elements, not rows). Accuracy, per-class accuracy and calibration, in training
// and evaluation alike, score only the other rows.
std::optional<int64_t> IgnoredRowLabel(const loss::LossConfig& config);

// The target value whose predictions are not scored: IgnoredRowLabel for class indices; for
// multi-label targets, a sigmoid loss's ignore_index (its elements; multi_label.h).
std::optional<int64_t> UnscoredTarget(const loss::LossConfig& config, bool multi_label);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_LOSS_DENOMINATOR_H_
