// What a PolyLoss computes once from its config and reuses on every call.
#ifndef POLYTRAIN_LOSS_TORCH_INTERNAL_PREPARED_LOSS_H_
#define POLYTRAIN_LOSS_TORCH_INTERNAL_PREPARED_LOSS_H_

#include <torch/torch.h>

#include <map>
#include <mutex>
#include <string>

#include "loss/core/loss_config.h"
#include "loss/core/sample_math.h"
#include "loss/torch/internal/device_series.h"

namespace polytrain::loss::internal {

struct PreparedLoss {
  explicit PreparedLoss(LossConfig c)
      : config(std::move(c)),
        never_negative(NeverNegative(config)),
        polynomials(config.series.extra),
        device_series(config.series.extra) {}

  // The class weights on `options`' device and dtype, copied there once.
  torch::Tensor ClassWeights(const torch::TensorOptions& options) const;

  LossConfig config;
  bool never_negative;            // NeverNegative(config): below 0 is rounding, taken as 0
  SeriesPolynomials polynomials;  // the host kernels' series (float64)
  DeviceSeries device_series;     // the device kernels' series

 private:
  mutable std::mutex mu_;
  mutable std::map<std::string, torch::Tensor> class_weights_;
};

// Host kernels: the per-sample series on the CPU in float64 (the CPU's path; CUDA tensors'
// O(B C) passes run on their device, the series after a copy of [B] values).
// Softmax: logits [B, C], int64 targets [B]. Sigmoid: logits [B, C], targets of the same shape.
torch::Tensor SoftmaxPolyLoss(const PreparedLoss& loss, const torch::Tensor& logits,
                              const torch::Tensor& targets);
torch::Tensor SigmoidPolyLoss(const PreparedLoss& loss, const torch::Tensor& logits,
                              const torch::Tensor& targets);

// Device kernels (device_poly_loss.cc): everything as tensor ops on the logits' device, no host
// copy or sync. Logits float32 or float64.
torch::Tensor SoftmaxPolyLossOnDevice(const PreparedLoss& loss, const torch::Tensor& logits,
                                      const torch::Tensor& targets);
torch::Tensor SigmoidPolyLossOnDevice(const PreparedLoss& loss, const torch::Tensor& logits,
                                      const torch::Tensor& targets);

}  // namespace polytrain::loss::internal

#endif  // POLYTRAIN_LOSS_TORCH_INTERNAL_PREPARED_LOSS_H_
