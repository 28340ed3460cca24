#include "loss/torch/poly_loss.h"

#include "loss/torch/internal/prepared_loss.h"

namespace polytrain::loss {

PolyLoss::PolyLoss(LossConfig config)
    : prepared_(std::make_shared<internal::PreparedLoss>(std::move(config))) {}

const LossConfig& PolyLoss::config() const { return prepared_->config; }

torch::Tensor PolyLoss::operator()(const torch::Tensor& logits,
                                   const torch::Tensor& targets) const {
  TORCH_CHECK(logits.dim() == 2, "PolyLoss: logits must be [batch, classes], got ", logits.sizes());
  TORCH_CHECK(logits.scalar_type() == torch::kFloat || logits.scalar_type() == torch::kDouble,
              "PolyLoss: logits must be float32 or float64, got ", logits.scalar_type());
  TORCH_CHECK(targets.device() == logits.device(), "PolyLoss: targets on ", targets.device(),
              " but logits on ", logits.device());
  const int64_t classes = logits.size(1);
  const auto& weights = prepared_->config.class_weights;
  TORCH_CHECK(weights.empty() || static_cast<int64_t>(weights.size()) == classes,
              "PolyLoss: class_weights has ", weights.size(), " entries but logits have ", classes,
              " classes");
  if (prepared_->config.activation == Activation::kSigmoid) {
    return internal::SigmoidPolyLoss(*prepared_, logits, targets);
  }
  return internal::SoftmaxPolyLoss(*prepared_, logits, targets);
}

}  // namespace polytrain::loss
