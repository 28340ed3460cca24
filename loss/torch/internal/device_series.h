// The series Q(x) = sum_j c_j x^(j-1) and D(x) = P'(x) = sum_j j c_j x^(j-1) (sample_math.h) for
// a whole batch as tensor ops on the batch's own device: a constant number of kernel launches
// whatever the number of terms K, and no host copy.
//
// Paterson-Stockmeyer, with m = ceil(sqrt(K)) and nb = ceil(K / m) blocks: the powers
// x^0..x^(m-1) as an [n, m] tensor, one matmul against the coefficient blocks [m, 2 nb] (Q's and
// D's side by side), then each block scaled by its power of x^m and summed. For x in [0, 1]
// every power is at most 1, so the block sum loses nothing Horner's rule would keep.
#ifndef POLYTRAIN_LOSS_TORCH_INTERNAL_DEVICE_SERIES_H_
#define POLYTRAIN_LOSS_TORCH_INTERNAL_DEVICE_SERIES_H_

#include <torch/torch.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace polytrain::loss::internal {

class DeviceSeries {
 public:
  explicit DeviceSeries(const std::vector<double>& extra);

  bool empty() const { return terms_ == 0; }

  // Q and D at every element of `x` (any shape, values in [0, 1]), in x's dtype and device. With
  // no terms both are zeros.
  std::pair<torch::Tensor, torch::Tensor> Evaluate(const torch::Tensor& x) const;

 private:
  // The coefficient blocks and exponents on `options`' device and dtype, copied there once: a
  // copy from the host each step would stall a GPU's queue.
  const std::pair<torch::Tensor, torch::Tensor>& Constants(
      const torch::TensorOptions& options) const;

  int64_t terms_ = 0;
  int64_t block_ = 0;          // m
  int64_t blocks_ = 0;         // nb
  torch::Tensor host_blocks_;  // [m, 2 nb] float64 on the CPU
  mutable std::mutex mu_;
  mutable std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> on_device_;
};

// x^gamma elementwise for x in [0, 1], 0^0 = 1 (as PowGamma in sample_math.h).
torch::Tensor PowGammaTensor(const torch::Tensor& x, double gamma);

}  // namespace polytrain::loss::internal

#endif  // POLYTRAIN_LOSS_TORCH_INTERNAL_DEVICE_SERIES_H_
