// Sigmoid PolyLoss: every logit is its own binary problem, so the loss is elementwise and its
// gradient is computed in the same pass as the loss and kept for backward.
//
// Per element, with y the (smoothed) target, e = exp(-|z|), sigma = sigmoid(z):
//   pt = y sigma + (1 - y)(1 - sigma),  x = y sigma(-z) + (1 - y) sigma(z)   (no cancellation),
//   ce = y softplus(-z) + (1 - y) softplus(z),  omega = w_class * (alpha y + (1 - alpha)(1 - y)),
//   L = omega x^g (t ce + P(x)),
//   dL/dz = A (1 - 2y) sigma sigma(-z) + B omega (sigma - y)     (A, B from sample_math.h).
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "loss/torch/internal/prepared_loss.h"

namespace polytrain::loss::internal {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Elements per work item: the per-element scratch of one chunk stays in L2.
constexpr int64_t kChunk = 2048;

struct ChunkResult {
  double loss_sum = 0.0;
  double count = 0.0;
  int64_t bad_index = -1;  // first element whose target is outside [0, 1]
};

template <typename scalar_t>
void SigmoidChunk(const PreparedLoss& prepared, const scalar_t* z, const scalar_t* y0,
                  const scalar_t* exp_neg_abs, const scalar_t* log1p_exp, int64_t begin,
                  int64_t end, int64_t classes, scalar_t* loss_out, scalar_t* grad_out,
                  ChunkResult* result) {
  const LossConfig& config = prepared.config;
  const double s = config.label_smoothing;
  const bool weighted = !config.class_weights.empty();
  const int64_t n = end - begin;
  std::vector<double> x(n), q(n), d(n), y(n), sig(n), sig_neg(n), ce(n), omega(n);
  std::vector<char> active(n, 0);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = begin + k;
    const double target = static_cast<double>(y0[i]);
    if (config.ignore_index && target == static_cast<double>(*config.ignore_index)) continue;
    if (!(target >= 0.0 && target <= 1.0)) {
      if (result->bad_index < 0) result->bad_index = i;
      continue;
    }
    active[k] = 1;
    const double zi = static_cast<double>(z[i]);
    const double e = static_cast<double>(exp_neg_abs[i]);
    const double l1 = static_cast<double>(log1p_exp[i]);
    const double big = 1.0 / (1.0 + e);  // sigmoid(|z|)
    const double small = e / (1.0 + e);  // sigmoid(-|z|)
    sig[k] = zi >= 0 ? big : small;
    sig_neg[k] = zi >= 0 ? small : big;
    const double yk = (1.0 - s) * target + 0.5 * s;
    y[k] = yk;
    const double softplus_pos = std::max(zi, 0.0) + l1;   // -log(1 - sigma)
    const double softplus_neg = std::max(-zi, 0.0) + l1;  // -log(sigma)
    double w = weighted ? config.class_weights[i % classes] : 1.0;
    if (config.alpha) w *= *config.alpha * yk + (1.0 - *config.alpha) * (1.0 - yk);
    omega[k] = w;
    ce[k] = w * (yk * softplus_neg + (1.0 - yk) * softplus_pos);
    x[k] = yk * sig_neg[k] + (1.0 - yk) * sig[k];
  }
  prepared.polynomials.Evaluate(x.data(), n, q.data(), d.data());
  const PolySeries& series = prepared.config.series;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = begin + k;
    if (!active[k]) {
      loss_out[i] = 0;
      grad_out[i] = 0;
      continue;
    }
    const SampleTerms terms =
        CombineSample(series.gamma, series.ce_tail, x[k], ce[k], omega[k], q[k], d[k]);
    const double grad = terms.dloss_dx * (1.0 - 2.0 * y[k]) * sig[k] * sig_neg[k] +
                        terms.dloss_dce * omega[k] * (sig[k] - y[k]);
    loss_out[i] = static_cast<scalar_t>(terms.loss);
    grad_out[i] = static_cast<scalar_t>(grad);
    result->loss_sum += terms.loss;
    result->count += 1.0;
  }
}

class SigmoidPolyLossFunction : public torch::autograd::Function<SigmoidPolyLossFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, const PreparedLoss* prepared) {
    const LossConfig& config = prepared->config;
    TORCH_CHECK(targets.sizes() == logits.sizes(),
                "PolyLoss: sigmoid targets must have the logits' shape ", logits.sizes(), ", got ",
                targets.sizes());
    // The elementwise pass runs on the host; CUDA tensors are copied (see BENCHMARKS.md).
    const torch::Tensor z = logits.to(torch::kCPU).contiguous();
    const torch::Tensor y = targets.to(torch::kCPU, logits.scalar_type()).contiguous();
    const torch::Tensor exp_neg_abs = torch::exp(-z.abs());
    const torch::Tensor log1p_exp = torch::log1p(exp_neg_abs);
    torch::Tensor loss = torch::empty_like(z);
    torch::Tensor grad = torch::empty_like(z);

    const int64_t numel = z.numel();
    const int64_t classes = z.size(1);
    const int64_t chunks = (numel + kChunk - 1) / kChunk;
    std::vector<ChunkResult> results(chunks);
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "SigmoidPolyLoss", [&] {
      at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
        for (int64_t c = first; c < last; ++c) {
          SigmoidChunk<scalar_t>(*prepared, z.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                                 exp_neg_abs.data_ptr<scalar_t>(), log1p_exp.data_ptr<scalar_t>(),
                                 c * kChunk, std::min(numel, (c + 1) * kChunk), classes,
                                 loss.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(), &results[c]);
        }
      });
    });
    // Chunk sums are added in chunk order, so the result does not depend on the thread count.
    double total = 0.0, count = 0.0;
    for (const ChunkResult& r : results) {
      TORCH_CHECK(r.bad_index < 0, "PolyLoss: sigmoid target ",
                  y.view(-1)[r.bad_index].item<double>(), " at element ", r.bad_index,
                  " is outside [0, 1]");
      total += r.loss_sum;
      count += r.count;
    }

    double scale = 1.0;
    torch::Tensor result;
    if (config.reduction == Reduction::kNone) {
      result = loss.to(logits.device());
    } else {
      if (config.reduction == Reduction::kMean) {
        scale = count > 0.0 ? 1.0 / count : 0.0;
        total *= scale;
      }
      result = torch::scalar_tensor(total, logits.options());
    }
    ctx->saved_data["grad"] = grad.to(logits.device());
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["per_element"] = config.reduction == Reduction::kNone;
    return result;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const torch::Tensor grad = ctx->saved_data["grad"].toTensor();
    const torch::Tensor upstream = ctx->saved_data["per_element"].toBool()
                                       ? grad_outputs[0]
                                       : grad_outputs[0] * ctx->saved_data["scale"].toDouble();
    return {grad * upstream, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SigmoidPolyLoss(const PreparedLoss& loss, const torch::Tensor& logits,
                              const torch::Tensor& targets) {
  return SigmoidPolyLossFunction::apply(logits, targets, &loss);
}

}  // namespace polytrain::loss::internal
