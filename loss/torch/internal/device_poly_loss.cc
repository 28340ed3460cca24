// PolyLoss as tensor ops on the logits' own device: the same math as the host kernels
// (softmax_poly_loss.cc, sigmoid_poly_loss.cc, sample_math.h), with no copy to the host and no
// read of a device value, so on a GPU a training step never waits for the loss.
//
// Softmax: log-softmax, one gather, the per-row series on the device (device_series.h), and in
// backward one log-softmax backward, as on the host. Targets are range-checked on the device
// (an asynchronous assert, as torch's cross_entropy does on CUDA); the mean's divisor stays a
// device tensor. Sigmoid: the elementwise pass as ATen ops. Computed in float32, or float64
// for float64 logits (half and bfloat16 logits arrive as float32, see poly_loss.cc).
#include "loss/torch/internal/device_series.h"
#include "loss/torch/internal/prepared_loss.h"

namespace polytrain::loss::internal {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool HasIgnore(const LossConfig& config) { return config.ignore_index.has_value(); }

// The per-element loss and its two partial derivatives (CombineSample, on tensors).
struct TermTensors {
  torch::Tensor loss, dloss_dx, dloss_dce;
};

TermTensors Combine(const PolySeries& series, bool never_negative, const torch::Tensor& x,
                    const torch::Tensor& xg, const torch::Tensor& ce,
                    const torch::Tensor& poly_weight, const torch::Tensor& q,
                    const torch::Tensor& d) {
  const torch::Tensor tail_ce = series.ce_tail ? ce : torch::zeros_like(ce);
  TermTensors terms;
  terms.loss = xg * (tail_ce + poly_weight * x * q);
  if (never_negative) {
    terms.loss = torch::where(terms.loss < 0, torch::zeros_like(terms.loss), terms.loss);
  }
  terms.dloss_dx = xg * poly_weight * d;
  if (series.gamma != 0.0) {
    // g x^g (t ce / x + w Q), and its limit 0 at x = 0 (where the division is not taken).
    const torch::Tensor positive = x > 0;
    const torch::Tensor safe_x = torch::where(positive, x, torch::ones_like(x));
    terms.dloss_dx += torch::where(
        positive, series.gamma * xg * (tail_ce / safe_x + poly_weight * q), torch::zeros_like(x));
  }
  terms.dloss_dce = series.ce_tail ? xg : torch::zeros_like(xg);
  return terms;
}

// The reduced loss, and the factor backward scales the upstream gradient by (a device tensor:
// 1 / the kept weight for mean, 0 when nothing is kept, where torch's mean gives NaN).
std::pair<torch::Tensor, torch::Tensor> Reduce(const LossConfig& config, const torch::Tensor& loss,
                                               const torch::Tensor& weight_sum) {
  if (config.reduction == Reduction::kNone) return {loss, torch::Tensor()};
  const torch::Tensor total = loss.sum();
  if (config.reduction == Reduction::kSum) return {total, torch::ones_like(total)};
  const torch::Tensor any = weight_sum > 0;
  const torch::Tensor scale =
      torch::where(any, 1.0 / torch::where(any, weight_sum, torch::ones_like(weight_sum)),
                   torch::zeros_like(weight_sum));
  return {total * scale, scale};
}

class DeviceSoftmaxFunction : public torch::autograd::Function<DeviceSoftmaxFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, const PreparedLoss* prepared) {
    const LossConfig& config = prepared->config;
    const int64_t classes = logits.size(1);
    TORCH_CHECK(targets.dim() == 1 && targets.size(0) == logits.size(0),
                "PolyLoss: softmax targets must be [batch] class indices, got ", targets.sizes(),
                " for logits ", logits.sizes());
    TORCH_CHECK(targets.scalar_type() == torch::kLong,
                "PolyLoss: softmax targets must be int64 class indices, got ",
                targets.scalar_type());
    const torch::TensorOptions options = logits.options();
    const double s = config.label_smoothing;
    const double c = static_cast<double>(classes);

    const torch::Tensor ignored = HasIgnore(config) ? targets == *config.ignore_index
                                                    : torch::zeros_like(targets, torch::kBool);
    torch::_assert_async(((targets >= 0).logical_and(targets < classes)).logical_or(ignored).all());
    const torch::Tensor keep = ignored.logical_not().to(options.dtype());
    const torch::Tensor safe_targets = targets.masked_fill(ignored, 0);

    const torch::Tensor log_probs = torch::log_softmax(logits, 1);
    const torch::Tensor log_pt = log_probs.gather(1, safe_targets.unsqueeze(1)).squeeze(1);
    torch::Tensor weights, w_t = torch::ones_like(log_pt);
    if (!config.class_weights.empty()) {
      weights = prepared->ClassWeights(options);
      w_t = weights.index_select(0, safe_targets);
    }
    const torch::Tensor x =
        ((1.0 - s) * -torch::expm1(log_pt) + s * (c - 1.0) / c).clamp_min(0.0) * keep;
    const torch::Tensor xg = PowGammaTensor(x, config.series.gamma);
    const auto [q, d] = prepared->device_series.Evaluate(x);
    torch::Tensor ce = -(1.0 - s) * w_t * log_pt;
    if (s != 0.0) {
      const torch::Tensor row_sum =
          weights.defined() ? log_probs.matmul(weights) : log_probs.sum(1);
      ce = ce - s / c * row_sum;
    }
    const TermTensors terms =
        Combine(config.series, prepared->never_negative, x, xg, ce, w_t, q, d);
    // where, not a product with keep: an ignored row's loss is 0 even when its logits are NaN,
    // as on the host path (0 * NaN would be NaN and end the whole batch's loss).
    const torch::Tensor loss = torch::where(ignored, torch::zeros_like(terms.loss), terms.loss);
    // Through x, dL/dx * p_t; 0 where p_t underflows to 0 (its limit), even where dL/dx is
    // infinite (ce overflowed), which would make it NaN.
    const torch::Tensor p_t = log_pt.exp();
    const torch::Tensor through_x =
        torch::where(p_t == 0, torch::zeros_like(p_t), terms.dloss_dx * p_t);
    const torch::Tensor target_coef = (1.0 - s) * (through_x + terms.dloss_dce * w_t) * keep;
    const auto [result, scale] = Reduce(config, loss, (w_t * keep).sum());

    ctx->saved_data["log_probs"] = log_probs;
    ctx->saved_data["targets"] = safe_targets;
    ctx->saved_data["target_coef"] = target_coef;
    if (s != 0.0) {
      ctx->saved_data["spread_coef"] = terms.dloss_dce * (s / c) * keep;
      if (weights.defined()) ctx->saved_data["weights"] = weights;
    }
    if (scale.defined()) ctx->saved_data["scale"] = scale;
    return result;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const torch::Tensor log_probs = ctx->saved_data["log_probs"].toTensor();
    const torch::Tensor targets = ctx->saved_data["targets"].toTensor();
    // The upstream gradient per row: a scalar for mean/sum, one per row for none.
    const torch::Tensor row_scale = ctx->saved_data.count("scale") != 0
                                        ? grad_outputs[0] * ctx->saved_data["scale"].toTensor()
                                        : grad_outputs[0];
    torch::Tensor g;
    if (ctx->saved_data.count("spread_coef") != 0) {
      const torch::Tensor spread =
          (-(ctx->saved_data["spread_coef"].toTensor() * row_scale)).unsqueeze(1);
      g = ctx->saved_data.count("weights") != 0
              ? spread * ctx->saved_data["weights"].toTensor().unsqueeze(0)
              : spread.expand(log_probs.sizes()).contiguous();
    } else {
      g = torch::zeros_like(log_probs);
    }
    g.scatter_add_(1, targets.unsqueeze(1),
                   (-(ctx->saved_data["target_coef"].toTensor() * row_scale)).unsqueeze(1));
    return {torch::_log_softmax_backward_data(g, log_probs, 1, log_probs.scalar_type()),
            torch::Tensor(), torch::Tensor()};
  }
};

class DeviceSigmoidFunction : public torch::autograd::Function<DeviceSigmoidFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, const PreparedLoss* prepared) {
    const LossConfig& config = prepared->config;
    TORCH_CHECK(targets.sizes() == logits.sizes(),
                "PolyLoss: sigmoid targets must have the logits' shape ", logits.sizes(), ", got ",
                targets.sizes());
    const torch::TensorOptions options = logits.options();
    const double s = config.label_smoothing;
    const torch::Tensor raw = targets.to(options.dtype());
    const torch::Tensor ignored = HasIgnore(config)
                                      ? raw == static_cast<double>(*config.ignore_index)
                                      : torch::zeros_like(raw, torch::kBool);
    torch::_assert_async(((raw >= 0).logical_and(raw <= 1)).logical_or(ignored).all());
    const torch::Tensor keep = ignored.logical_not().to(options.dtype());
    const torch::Tensor y = (1.0 - s) * raw * keep + 0.5 * s;

    // sigma(z) and sigma(-z) from e = exp(-|z|), and both softplus terms, without cancellation.
    const torch::Tensor e = torch::exp(-logits.abs());
    const torch::Tensor inv = 1.0 / (1.0 + e);
    const torch::Tensor positive = logits >= 0;
    const torch::Tensor sig = torch::where(positive, inv, e * inv);
    const torch::Tensor sig_neg = torch::where(positive, e * inv, inv);
    const torch::Tensor l1 = torch::log1p(e);
    const torch::Tensor softplus_pos = logits.clamp_min(0.0) + l1;     // -log(1 - sigma)
    const torch::Tensor softplus_neg = (-logits).clamp_min(0.0) + l1;  // -log(sigma)
    const double alpha_pos = config.alpha ? *config.alpha : 1.0;
    const double alpha_neg = config.alpha ? 1.0 - *config.alpha : 1.0;
    // omega weighs the cross-entropy term, omega_poly the polynomial: both alpha-balanced, or
    // (the paper's code) the polynomial without the balance.
    torch::Tensor omega_poly = keep;
    if (!config.class_weights.empty()) omega_poly = omega_poly * prepared->ClassWeights(options);
    const torch::Tensor omega = omega_poly * (alpha_pos * y + alpha_neg * (1.0 - y));
    if (!config.alpha_on_ce_only) omega_poly = omega;
    const torch::Tensor ce = omega * (y * softplus_neg + (1.0 - y) * softplus_pos);
    const torch::Tensor x = y * sig_neg + (1.0 - y) * sig;
    const torch::Tensor xg = PowGammaTensor(x, config.series.gamma);
    const auto [q, d] = prepared->device_series.Evaluate(x);
    const TermTensors terms =
        Combine(config.series, prepared->never_negative, x, xg, ce, omega_poly, q, d);
    const torch::Tensor grad =
        terms.dloss_dx * (1.0 - 2.0 * y) * sig * sig_neg +
        terms.dloss_dce * omega * ((1.0 - y) * sig - y * sig_neg);  // sig - y, no cancellation
    const auto [result, scale] = Reduce(
        config, torch::where(ignored, torch::zeros_like(terms.loss), terms.loss), keep.sum());
    ctx->saved_data["grad"] = grad;
    if (scale.defined()) ctx->saved_data["scale"] = scale;
    return result;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const torch::Tensor upstream = ctx->saved_data.count("scale") != 0
                                       ? grad_outputs[0] * ctx->saved_data["scale"].toTensor()
                                       : grad_outputs[0];
    return {ctx->saved_data["grad"].toTensor() * upstream, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SoftmaxPolyLossOnDevice(const PreparedLoss& loss, const torch::Tensor& logits,
                                      const torch::Tensor& targets) {
  return DeviceSoftmaxFunction::apply(logits, targets, &loss);
}

torch::Tensor SigmoidPolyLossOnDevice(const PreparedLoss& loss, const torch::Tensor& logits,
                                      const torch::Tensor& targets) {
  return DeviceSigmoidFunction::apply(logits, targets, &loss);
}

}  // namespace polytrain::loss::internal
