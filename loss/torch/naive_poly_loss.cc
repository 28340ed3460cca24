// The reference composition: every term of the series as its own autograd op, with x = 1 - pt
// formed directly, as public PolyLoss implementations do.
#include "loss/torch/poly_loss.h"

namespace polytrain::loss {
namespace {

// sum_{j=1..K} c_j x^j, one pow per term.
torch::Tensor NaivePolynomial(const PolySeries& series, const torch::Tensor& x) {
  torch::Tensor poly = torch::zeros_like(x);
  for (int j = 1; j <= series.NumExtraTerms(); ++j) {
    poly = poly + series.extra[j - 1] * torch::pow(x, j);
  }
  return poly;
}

torch::Tensor Reduce(const LossConfig& config, const torch::Tensor& per_sample,
                     const torch::Tensor& denominator) {
  switch (config.reduction) {
    case Reduction::kNone:
      return per_sample;
    case Reduction::kSum:
      return per_sample.sum();
    case Reduction::kMean:
      break;
  }
  return per_sample.sum() / denominator;
}

torch::Tensor NaiveSoftmax(const LossConfig& config, const torch::Tensor& logits,
                           const torch::Tensor& targets) {
  const int64_t classes = logits.size(1);
  const double s = config.label_smoothing;
  torch::Tensor keep = torch::ones_like(targets, torch::kBool);
  if (config.ignore_index) keep = targets != *config.ignore_index;
  const torch::Tensor safe = targets.masked_fill(keep.logical_not(), 0);

  torch::Tensor weights = torch::ones({classes}, logits.options());
  if (!config.class_weights.empty()) {
    weights = torch::tensor(config.class_weights, torch::kDouble).to(logits.options());
  }
  const torch::Tensor one_hot = torch::one_hot(safe, classes).to(logits.options());
  const torch::Tensor y = (1.0 - s) * one_hot + s / classes;
  const torch::Tensor log_p = torch::log_softmax(logits, 1);
  const torch::Tensor pt = (y * log_p.exp()).sum(1);
  const torch::Tensor x = 1.0 - pt;
  const torch::Tensor ce = -(y * weights.unsqueeze(0) * log_p).sum(1);
  const torch::Tensor w_t = weights.index_select(0, safe);

  torch::Tensor inner = w_t * NaivePolynomial(config.series, x);
  if (config.series.ce_tail) inner = inner + ce;
  torch::Tensor per_sample = torch::pow(x, config.series.gamma) * inner;
  const torch::Tensor keep_f = keep.to(logits.scalar_type());
  per_sample = per_sample * keep_f;
  return Reduce(config, per_sample, (w_t * keep_f).sum());
}

torch::Tensor NaiveSigmoid(const LossConfig& config, const torch::Tensor& logits,
                           const torch::Tensor& targets) {
  const double s = config.label_smoothing;
  const torch::Tensor target = targets.to(logits.scalar_type());
  torch::Tensor keep = torch::ones_like(target, torch::kBool);
  if (config.ignore_index) keep = target != static_cast<double>(*config.ignore_index);
  const torch::Tensor keep_f = keep.to(logits.scalar_type());
  const torch::Tensor y = ((1.0 - s) * target + 0.5 * s) * keep_f;

  const torch::Tensor p = torch::sigmoid(logits);
  const torch::Tensor pt = y * p + (1.0 - y) * (1.0 - p);
  const torch::Tensor x = 1.0 - pt;
  const torch::Tensor ce =
      torch::binary_cross_entropy_with_logits(logits, y, {}, {}, at::Reduction::None);
  torch::Tensor omega = torch::ones_like(logits);
  if (!config.class_weights.empty()) {
    omega = omega *
            torch::tensor(config.class_weights, torch::kDouble).to(logits.options()).unsqueeze(0);
  }
  torch::Tensor balance = torch::ones_like(logits);
  if (config.alpha) balance = *config.alpha * y + (1.0 - *config.alpha) * (1.0 - y);

  // alpha_t weighs the whole loss, or (the paper's code) the cross-entropy term alone.
  torch::Tensor inner = NaivePolynomial(config.series, x);
  if (config.alpha_on_ce_only) {
    if (config.series.ce_tail) inner = inner + balance * ce;
  } else {
    omega = omega * balance;
    if (config.series.ce_tail) inner = inner + ce;
  }
  const torch::Tensor per_element = omega * torch::pow(x, config.series.gamma) * inner * keep_f;
  return Reduce(config, per_element, keep_f.sum());
}

}  // namespace

torch::Tensor NaivePolyLoss(const LossConfig& config, const torch::Tensor& logits,
                            const torch::Tensor& targets) {
  if (config.activation == Activation::kSigmoid) return NaiveSigmoid(config, logits, targets);
  return NaiveSoftmax(config, logits, targets);
}

}  // namespace polytrain::loss
