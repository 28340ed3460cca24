#include "loss/torch/internal/device_series.h"

#include <cmath>

namespace polytrain::loss::internal {

DeviceSeries::DeviceSeries(const std::vector<double>& extra)
    : terms_(static_cast<int64_t>(extra.size())) {
  if (terms_ == 0) return;
  block_ = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(terms_))));
  blocks_ = (terms_ + block_ - 1) / block_;
  // Column b holds the coefficients of x^(b m) .. x^(b m + m - 1) of Q; column nb + b of D.
  host_blocks_ = torch::zeros({block_, 2 * blocks_}, torch::kDouble);
  auto blocks = host_blocks_.accessor<double, 2>();
  for (int64_t j = 0; j < terms_; ++j) {  // c_(j+1) multiplies x^j in Q, (j+1) c_(j+1) in D
    blocks[j % block_][j / block_] = extra[j];
    blocks[j % block_][blocks_ + j / block_] = static_cast<double>(j + 1) * extra[j];
  }
}

const std::pair<torch::Tensor, torch::Tensor>& DeviceSeries::Constants(
    const torch::TensorOptions& options) const {
  const std::string key =
      options.device().str() + "/" + c10::toString(c10::typeMetaToScalarType(options.dtype()));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = on_device_.find(key);
  if (it == on_device_.end()) {
    torch::NoGradGuard no_grad;
    torch::Tensor exponents = torch::arange(std::max(block_, blocks_), options);
    it = on_device_.emplace(key, std::make_pair(host_blocks_.to(options), exponents)).first;
  }
  return it->second;
}

std::pair<torch::Tensor, torch::Tensor> DeviceSeries::Evaluate(const torch::Tensor& x) const {
  if (terms_ == 0) return {torch::zeros_like(x), torch::zeros_like(x)};
  const auto& [blocks, exponents] = Constants(x.options());
  const torch::Tensor flat = x.reshape({-1, 1});
  const torch::Tensor powers = flat.pow(exponents.narrow(0, 0, block_));              // [n, m]
  const torch::Tensor sums = powers.matmul(blocks).view({-1, 2, blocks_});            // [n, 2, nb]
  const torch::Tensor outer = flat.pow(block_).pow(exponents.narrow(0, 0, blocks_));  // [n, nb]
  const torch::Tensor qd = (sums * outer.unsqueeze(1)).sum(2);                        // [n, 2]
  return {qd.select(1, 0).view(x.sizes()), qd.select(1, 1).view(x.sizes())};
}

torch::Tensor PowGammaTensor(const torch::Tensor& x, double gamma) {
  if (gamma == 0.0) return torch::ones_like(x);
  if (gamma == 1.0) return x;
  if (gamma == 2.0) return x * x;
  if (gamma == 3.0) return x * x * x;
  return x.pow(gamma);  // pow(0, g > 0) = 0
}

}  // namespace polytrain::loss::internal
