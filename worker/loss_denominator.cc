#include "worker/loss_denominator.h"

namespace polytrain {

torch::Tensor MeanDenominators(const loss::LossConfig& config, const torch::Tensor& labels,
                               int64_t classes) {
  const auto options = labels.options().dtype(torch::kDouble);
  if (config.activation == loss::Activation::kSigmoid && labels.dim() == 2) {
    // Multi-label rows: the elements ignore_index leaves.
    if (!config.ignore_index) return torch::full({labels.size(0)}, labels.size(1), options);
    return labels.ne(static_cast<double>(*config.ignore_index)).sum({1}, false, torch::kDouble);
  }
  if (config.activation == loss::Activation::kSigmoid) {
    // A row is its one-hot target: one 1 and classes - 1 zeros; ignore_index drops the elements
    // equal to it.
    double kept = static_cast<double>(classes);
    if (config.ignore_index == 1) kept = static_cast<double>(classes - 1);
    if (config.ignore_index == 0) kept = 1;
    return torch::full({labels.size(0)}, kept, options);
  }
  const torch::Tensor index = labels.to(torch::kLong);
  const torch::Tensor kept =
      config.ignore_index ? index.ne(*config.ignore_index) : torch::ones_like(index, torch::kBool);
  if (config.class_weights.empty()) return kept.to(torch::kDouble);
  const torch::Tensor weights =
      torch::tensor(config.class_weights, torch::kDouble).to(labels.device());
  // An ignored row's label may be outside [0, classes): it indexes class 0 and counts 0.
  const torch::Tensor safe = torch::where(kept, index, torch::zeros_like(index));
  return weights.index_select(0, safe) * kept.to(torch::kDouble);
}

std::optional<int64_t> IgnoredRowLabel(const loss::LossConfig& config) {
  if (config.activation != loss::Activation::kSoftmax) return std::nullopt;
  return config.ignore_index;
}

std::optional<int64_t> UnscoredTarget(const loss::LossConfig& config, bool multi_label) {
  return multi_label ? config.ignore_index : IgnoredRowLabel(config);
}

}  // namespace polytrain
