// Evaluation of a classifier on a split: loss, top-1 accuracy, per-class accuracy and expected
// calibration error (calibration is one of the properties PolyLoss is chosen for).
#ifndef POLYTRAIN_WORKER_EVALUATION_H_
#define POLYTRAIN_WORKER_EVALUATION_H_

#include <torch/torch.h>

#include <map>
#include <string>

#include "loss/torch/poly_loss.h"
#include "polytrain/v1/job.pb.h"
#include "worker/dataset.h"
#include "worker/trainable_model.h"

namespace polytrain {

struct EvalOptions {
  int64_t batch_size = 1024;
  int calibration_bins = 15;
  torch::Device device = torch::kCPU;
  // The job's precision for the forward pass (autocast_scope.h); the metrics are computed from
  // float32 logits either way.
  polytrain::v1::Precision precision = polytrain::v1::PRECISION_FP32;
  // The job's reduction: <prefix>loss is the split's summed losses divided as the job's loss
  // divides a batch's (REDUCTION_MEAN: by its denominator, loss_denominator.h; REDUCTION_SUM:
  // by the samples, as the training loss is logged), so it reads on the training loss's scale.
  loss::Reduction reduction = loss::Reduction::kMean;
};

// Keys: <prefix>loss (the job's own loss, see EvalOptions::reduction), <prefix>accuracy,
// <prefix>ece and, for tasks of at most kMaxClassesWithPerClassMetrics classes,
// <prefix>class_accuracy/<k> for each class k present in the split. `per_sample_loss` must use
// reduction none. Confidence is the softmax (or, for sigmoid losses, sigmoid) probability of the
// predicted class. Runs in eval mode without gradients and restores train mode.
std::map<std::string, double> Evaluate(TrainableModel& model, const Split& split, int64_t classes,
                                       const loss::PolyLoss& per_sample_loss,
                                       const EvalOptions& options, const std::string& prefix);

// Targets in the form the loss expects: class indices for softmax, one-hot rows for sigmoid.
torch::Tensor LossTargets(const loss::PolyLoss& loss, const torch::Tensor& labels, int64_t classes,
                          torch::ScalarType dtype);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_EVALUATION_H_
