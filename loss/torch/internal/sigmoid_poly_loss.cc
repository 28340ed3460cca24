// Sigmoid PolyLoss: every logit is its own binary problem, so the loss is elementwise and its
// gradient is computed in the same pass as the loss and kept for backward.
//
// Per element, with y the (smoothed) target, e = exp(-|z|), sigma = sigmoid(z):
//   pt = y sigma + (1 - y)(1 - sigma),  x = y sigma(-z) + (1 - y) sigma(z)   (no cancellation),
//   ce = y softplus(-z) + (1 - y) softplus(z),  omega = w_class * (alpha y + (1 - alpha)(1 - y)),
//   L = omega x^g (t ce + P(x)),
//   dL/dz = A (1 - 2y) sigma sigma(-z) + B omega (sigma - y)     (A, B from sample_math.h).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
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

// Per-chunk scratch, allocated once per worker thread.
struct Scratch {
  std::vector<double> z, y, e, l1, omega, x, xg, q, d, ce, sig, sig_neg, keep, loss, grad;
  Scratch() {
    for (auto* v :
         {&z, &y, &e, &l1, &omega, &x, &xg, &q, &d, &ce, &sig, &sig_neg, &keep, &loss, &grad}) {
      v->resize(kChunk);
    }
  }
};

// The elementwise math on double arrays, in branch-free loops the compiler vectorizes (its
// "fma" clone uses 256-bit AVX + FMA where the CPU has them). On entry z, y (raw targets),
// e = exp(-|z|), l1 = log1p(e) and omega (class weights, 1 without) are filled; on exit loss
// and grad hold each element's loss and dL/dz, zero where keep is 0.
#if defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("fma", "default")))
#endif
void SigmoidMath(const PreparedLoss& prepared, int64_t n, Scratch& s) {
  const LossConfig& config = prepared.config;
  const double smoothing = config.label_smoothing;
  const bool has_ignore = config.ignore_index.has_value();
  // NaN equals nothing: no target is ignored without ignore_index.
  const double ignore = config.ignore_index ? static_cast<double>(*config.ignore_index)
                                            : std::numeric_limits<double>::quiet_NaN();
  // alpha-balance as alpha_pos y + alpha_neg (1 - y); both 1 without it.
  const double alpha_pos = config.alpha ? *config.alpha : 1.0;
  const double alpha_neg = config.alpha ? 1.0 - *config.alpha : 1.0;
  // Raw restrict pointers: distinct buffers, so the loops vectorize without alias checks.
  const double* __restrict z = s.z.data();
  const double* __restrict e = s.e.data();
  const double* __restrict l1 = s.l1.data();
  double* __restrict y = s.y.data();
  double* __restrict omega = s.omega.data();
  double* __restrict keep = s.keep.data();
  double* __restrict sig = s.sig.data();
  double* __restrict sig_neg = s.sig_neg.data();
  double* __restrict ce = s.ce.data();
  double* __restrict x = s.x.data();
  for (int64_t k = 0; k < n; ++k) {
    const double kept = (has_ignore && y[k] == ignore) ? 0.0 : 1.0;
    const double yk = (1.0 - smoothing) * y[k] * kept + 0.5 * smoothing;
    const double inv = 1.0 / (1.0 + e[k]);
    const double big = inv;           // sigmoid(|z|)
    const double small = e[k] * inv;  // sigmoid(-|z|)
    const bool positive = z[k] >= 0.0;
    const double softplus_pos = std::max(z[k], 0.0) + l1[k];   // -log(1 - sigma)
    const double softplus_neg = std::max(-z[k], 0.0) + l1[k];  // -log(sigma)
    const double w = omega[k] * (alpha_pos * yk + alpha_neg * (1.0 - yk)) * kept;
    keep[k] = kept;
    y[k] = yk;
    sig[k] = positive ? big : small;
    sig_neg[k] = positive ? small : big;
    omega[k] = w;
    ce[k] = w * (yk * softplus_neg + (1.0 - yk) * softplus_pos);
    x[k] = yk * sig_neg[k] + (1.0 - yk) * sig[k];
  }
  const PolySeries& series = config.series;
  PowGamma(s.x.data(), n, series.gamma, s.xg.data());
  prepared.polynomials.Evaluate(s.x.data(), n, s.q.data(), s.d.data());
  const double* __restrict xg = s.xg.data();
  const double* __restrict q = s.q.data();
  const double* __restrict d = s.d.data();
  double* __restrict loss = s.loss.data();
  double* __restrict grad = s.grad.data();
  for (int64_t k = 0; k < n; ++k) {
    const SampleTerms terms =
        CombineSample(series.gamma, series.ce_tail, x[k], xg[k], ce[k], omega[k], q[k], d[k]);
    loss[k] = terms.loss;
    grad[k] = terms.dloss_dx * (1.0 - 2.0 * y[k]) * sig[k] * sig_neg[k] +
              terms.dloss_dce * omega[k] * (sig[k] - y[k]);
  }
}

template <typename scalar_t>
void SigmoidChunk(const PreparedLoss& prepared, const scalar_t* z, const scalar_t* y0,
                  const scalar_t* exp_neg_abs, const scalar_t* log1p_exp, int64_t begin,
                  int64_t end, int64_t classes, scalar_t* loss_out, scalar_t* grad_out, Scratch& s,
                  ChunkResult* result) {
  const LossConfig& config = prepared.config;
  const int64_t n = end - begin;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = begin + k;
    s.z[k] = static_cast<double>(z[i]);
    s.y[k] = static_cast<double>(y0[i]);
    s.e[k] = static_cast<double>(exp_neg_abs[i]);
    s.l1[k] = static_cast<double>(log1p_exp[i]);
  }
  for (int64_t k = 0; k < n; ++k) {
    const double t = s.y[k];
    const bool ignored = config.ignore_index && t == static_cast<double>(*config.ignore_index);
    if (!ignored && !(t >= 0.0 && t <= 1.0)) {
      result->bad_index = begin + k;
      return;
    }
  }
  if (config.class_weights.empty()) {
    std::fill(s.omega.begin(), s.omega.begin() + n, 1.0);
  } else {
    int64_t cls = begin % classes;
    for (int64_t k = 0; k < n; ++k) {
      s.omega[k] = config.class_weights[cls];
      if (++cls == classes) cls = 0;
    }
  }
  SigmoidMath(prepared, n, s);
  for (int64_t k = 0; k < n; ++k) {
    loss_out[begin + k] = static_cast<scalar_t>(s.loss[k]);
    grad_out[begin + k] = static_cast<scalar_t>(s.grad[k]);
    result->loss_sum += s.loss[k];  // in element order: the sum is reproducible
    result->count += s.keep[k];
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
        Scratch scratch;
        for (int64_t c = first; c < last; ++c) {
          SigmoidChunk<scalar_t>(*prepared, z.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                                 exp_neg_abs.data_ptr<scalar_t>(), log1p_exp.data_ptr<scalar_t>(),
                                 c * kChunk, std::min(numel, (c + 1) * kChunk), classes,
                                 loss.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(), scratch,
                                 &results[c]);
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
