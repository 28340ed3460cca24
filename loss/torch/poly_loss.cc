#include "loss/torch/poly_loss.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "loss/torch/internal/prepared_loss.h"

namespace polytrain::loss {
namespace {

// POLYTRAIN_LOSS_PATH=host|device overrides KernelPath::kAuto (read once).
KernelPath PathFromEnvironment() {
  static const KernelPath path = [] {
    const char* value = std::getenv("POLYTRAIN_LOSS_PATH");
    const std::string text = value == nullptr ? "" : value;
    if (text == "device") return KernelPath::kDevice;
    if (text == "host") return KernelPath::kHost;
    if (!text.empty()) {
      std::fprintf(stderr,
                   "polytrain: POLYTRAIN_LOSS_PATH=%s is neither host nor device; ignored (the "
                   "path follows the tensors' device)\n",
                   text.c_str());
    }
    return KernelPath::kAuto;
  }();
  return path;
}

}  // namespace

namespace internal {

torch::Tensor PreparedLoss::ClassWeights(const torch::TensorOptions& options) const {
  const std::string key =
      options.device().str() + "/" + c10::toString(c10::typeMetaToScalarType(options.dtype()));
  std::lock_guard<std::mutex> lock(mu_);
  torch::Tensor& weights = class_weights_[key];
  if (!weights.defined()) {
    weights = torch::tensor(config.class_weights, torch::kDouble).to(options);
  }
  return weights;
}

}  // namespace internal

PolyLoss::PolyLoss(LossConfig config, KernelPath path)
    : prepared_(std::make_shared<internal::PreparedLoss>(std::move(config))), path_(path) {}

const LossConfig& PolyLoss::config() const { return prepared_->config; }

bool PolyLoss::RunsOnDevice(const torch::Tensor& logits) const {
  KernelPath path = path_ == KernelPath::kAuto ? PathFromEnvironment() : path_;
  if (path == KernelPath::kAuto) path = logits.is_cpu() ? KernelPath::kHost : KernelPath::kDevice;
  return path == KernelPath::kDevice;
}

torch::Tensor PolyLoss::operator()(const torch::Tensor& logits,
                                   const torch::Tensor& targets) const {
  TORCH_CHECK(logits.dim() == 2, "PolyLoss: logits must be [batch, classes], got ", logits.sizes());
  const auto dtype = logits.scalar_type();
  TORCH_CHECK(dtype == torch::kFloat || dtype == torch::kDouble || dtype == torch::kHalf ||
                  dtype == torch::kBFloat16,
              "PolyLoss: logits must be float32 or float64 (float16 and bfloat16 are computed in "
              "float32), got ",
              dtype);
  TORCH_CHECK(targets.device() == logits.device(), "PolyLoss: targets on ", targets.device(),
              " but logits on ", logits.device());
  const int64_t classes = logits.size(1);
  const auto& weights = prepared_->config.class_weights;
  TORCH_CHECK(weights.empty() || static_cast<int64_t>(weights.size()) == classes,
              "PolyLoss: class_weights has ", weights.size(), " entries but logits have ", classes,
              " classes");
  // Half precision is computed in float32 and handed back in the logits' dtype (the casts are
  // differentiable, so the gradient arrives in it too).
  if (dtype == torch::kHalf || dtype == torch::kBFloat16) {
    return (*this)(logits.to(torch::kFloat), targets).to(dtype);
  }
  const bool sigmoid = prepared_->config.activation == Activation::kSigmoid;
  if (RunsOnDevice(logits)) {
    return sigmoid ? internal::SigmoidPolyLossOnDevice(*prepared_, logits, targets)
                   : internal::SoftmaxPolyLossOnDevice(*prepared_, logits, targets);
  }
  return sigmoid ? internal::SigmoidPolyLoss(*prepared_, logits, targets)
                 : internal::SoftmaxPolyLoss(*prepared_, logits, targets);
}

}  // namespace polytrain::loss
