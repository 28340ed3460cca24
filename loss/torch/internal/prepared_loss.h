// What a PolyLoss computes once from its config and reuses on every call.
#ifndef POLYTRAIN_LOSS_TORCH_INTERNAL_PREPARED_LOSS_H_
#define POLYTRAIN_LOSS_TORCH_INTERNAL_PREPARED_LOSS_H_

#include <torch/torch.h>

#include "loss/core/loss_config.h"
#include "loss/core/sample_math.h"

namespace polytrain::loss::internal {

struct PreparedLoss {
  explicit PreparedLoss(LossConfig c) : config(std::move(c)), polynomials(config.series.extra) {}

  LossConfig config;
  SeriesPolynomials polynomials;
};

// Softmax path: logits [B, C], int64 targets [B].
torch::Tensor SoftmaxPolyLoss(const PreparedLoss& loss, const torch::Tensor& logits,
                              const torch::Tensor& targets);

// Sigmoid path: logits [B, C], targets of the same shape.
torch::Tensor SigmoidPolyLoss(const PreparedLoss& loss, const torch::Tensor& logits,
                              const torch::Tensor& targets);

}  // namespace polytrain::loss::internal

#endif  // POLYTRAIN_LOSS_TORCH_INTERNAL_PREPARED_LOSS_H_
