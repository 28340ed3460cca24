// Sigmoid PolyLoss: every logit is its own binary problem, so the loss is elementwise and its
// gradient is computed in the same pass as the loss and kept for backward.
//
// Per element, with y the (smoothed) target, e = exp(-|z|), sigma = sigmoid(z):
//   pt = y sigma + (1 - y)(1 - sigma),  x = y sigma(-z) + (1 - y) sigma(z)   (no cancellation),
//   ce = y softplus(-z) + (1 - y) softplus(z),  omega = w_class * (alpha y + (1 - alpha)(1 - y)),
//   L = omega x^g (t ce + P(x))  (or, with the balance on the CE term only, x^g (omega t ce +
//   w_class P(x))),
//   dL/dz = A (1 - 2y) sigma sigma(-z) + B omega (sigma - y)     (A, B from sample_math.h).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "loss/core/double_lanes.h"
#include "loss/torch/internal/prepared_loss.h"

namespace polytrain::loss::internal {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Elements per work item (a multiple of kLanes): the per-chunk scratch stays in L1/L2.
constexpr int64_t kChunk = 2048;
static_assert(kChunk % kLanes == 0);

struct ChunkResult {
  double loss_sum = 0.0;
  double count = 0.0;
  int64_t bad_index = -1;  // first element whose target is outside [0, 1]
};

// Per-chunk scratch, allocated once per worker thread: what the first pass leaves for the series
// (x) and for the second pass, and what the series gives back.
struct Scratch {
  std::vector<double> class_weight, x, xg, q, d, ce, omega, keep, dx_dz, dce_dz;
  // For HardTargetLoss (sample_math.h): Q_rest, -log pt unweighted, the CE term's weight, and
  // 1 where the target is hard (0 or 1), else 0.
  std::vector<double> q_rest, neg_log_pt, ce_weight, hard;
  Scratch() {
    for (auto* v : {&class_weight, &x, &xg, &q, &d, &ce, &omega, &keep, &dx_dz, &dce_dz, &q_rest,
                    &neg_log_pt, &ce_weight, &hard}) {
      v->resize(kChunk);
    }
  }
};

// What every element of a call shares.
struct SigmoidConstants {
  double smoothing;
  double alpha_pos, alpha_neg;  // alpha-balance as alpha_pos y + alpha_neg (1 - y); 1 without
  bool alpha_on_ce_only;        // the balance weighs the cross-entropy term alone
  double ignore;                // NaN without ignore_index: NaN equals nothing
  const double* class_weights;  // [classes], or null
  int64_t classes;
};

template <typename scalar_t>
struct SigmoidInputs {
  const scalar_t* z;
  const scalar_t* y;
  const scalar_t* exp_neg_abs;  // exp(-|z|), by ATen's vectorized exp
  const scalar_t* log1p_exp;    // log1p(exp(-|z|))
  scalar_t* loss;               // per element, or null when only the sum is wanted
  scalar_t* grad;
};

// One chunk [begin, begin + n) in two passes of four lanes (double_lanes.h), the series between
// them. Pass 1 turns (z, y, e, log1p e) into x, the weighted CE, the weight and the two factors
// that carry dL/dx and dL/dce to dL/dz; pass 2 combines them with x^gamma and the series. Lanes
// past n (the last chunk's tail) are padded, computed and neither stored nor counted.
// Compiled for AVX + FMA where the CPU has them, with a baseline clone for the others.
template <typename scalar_t>
#if defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("fma", "default")))
#endif
void SigmoidChunk(const PreparedLoss& prepared, const SigmoidConstants& c,
                  const SigmoidInputs<scalar_t>& in, int64_t begin, int64_t n, Scratch& s,
                  ChunkResult* result) {
  const PolySeries& series = prepared.config.series;
  const int64_t padded = (n + kLanes - 1) / kLanes * kLanes;
  // A negative first coefficient can cancel the CE term's first power of x (a Poly-1 with
  // epsilon = -1 is -log pt - x): hard targets' losses are then summed as HardTargetLoss does.
  // Other losses keep the plain sum, whose relative error stays within a few ulps.
  const double c1 = prepared.polynomials.first();
  const double c2 = prepared.polynomials.second();
  const bool stable_sum = series.ce_tail && c.smoothing == 0.0 && c1 < 0.0;
  if (c.class_weights != nullptr) {
    int64_t cls = begin % c.classes;
    for (int64_t k = 0; k < padded; ++k) {
      s.class_weight[k] = c.class_weights[cls];
      if (++cls == c.classes) cls = 0;
    }
  }
  LaneMask bad{};
  for (int64_t k = 0; k < padded; k += kLanes) {
    const int count = static_cast<int>(std::min<int64_t>(kLanes, n - k));
    const int64_t i = begin + k;
    const DoubleLanes z = LoadLanes(in.z + i, count);
    const DoubleLanes raw_y = LoadLanes(in.y + i, count);
    const DoubleLanes e = LoadLanes(in.exp_neg_abs + i, count, 1.0);
    const DoubleLanes l1 = LoadLanes(in.log1p_exp + i, count, 0.6931471805599453);
    const DoubleLanes zero{}, one = Broadcast(1.0);
    const LaneMask ignored = raw_y == c.ignore;
    bad |= ~ignored & ~((raw_y >= 0.0) & (raw_y <= 1.0));
    const DoubleLanes kept = Select(ignored, zero, one);
    const DoubleLanes y = (1.0 - c.smoothing) * raw_y * kept + 0.5 * c.smoothing;
    const DoubleLanes big = one / (one + e);  // sigmoid(|z|)
    const DoubleLanes small = e * big;        // sigmoid(-|z|)
    const LaneMask positive = z >= 0.0;
    const DoubleLanes sig = Select(positive, big, small);
    const DoubleLanes sig_neg = Select(positive, small, big);
    // max(z, 0) and max(-z, 0) as std::max has them: a NaN z stays NaN.
    const DoubleLanes softplus_pos = Select(z < zero, zero, z) + l1;   // -log(1 - sigma)
    const DoubleLanes softplus_neg = Select(z > zero, zero, -z) + l1;  // -log(sigma)
    DoubleLanes class_weight = one;
    if (c.class_weights != nullptr) std::memcpy(&class_weight, &s.class_weight[k], sizeof(one));
    // w weighs the cross-entropy term, w_poly the polynomial: both alpha-balanced, or (the
    // paper's code) the polynomial without the balance.
    const DoubleLanes balance = c.alpha_pos * y + c.alpha_neg * (one - y);
    const DoubleLanes w = class_weight * balance * kept;
    const DoubleLanes w_poly = c.alpha_on_ce_only ? class_weight * kept : w;
    std::memcpy(&s.keep[k], &kept, sizeof(kept));
    const DoubleLanes x = y * sig_neg + (one - y) * sig;
    const DoubleLanes neg_log_pt = y * softplus_neg + (one - y) * softplus_pos;
    const DoubleLanes ce = w * neg_log_pt;
    const DoubleLanes dx_dz = (one - 2.0 * y) * sig * sig_neg;
    const DoubleLanes dce_dz = w * ((one - y) * sig - y * sig_neg);  // sig - y, no cancellation
    if (stable_sum) {
      const DoubleLanes hard = Select((y == 0.0) | (y == 1.0), one, zero);
      std::memcpy(&s.neg_log_pt[k], &neg_log_pt, sizeof(neg_log_pt));
      std::memcpy(&s.ce_weight[k], &w, sizeof(w));
      std::memcpy(&s.hard[k], &hard, sizeof(hard));
    }
    std::memcpy(&s.x[k], &x, sizeof(x));
    std::memcpy(&s.ce[k], &ce, sizeof(ce));
    std::memcpy(&s.omega[k], &w_poly, sizeof(w_poly));
    std::memcpy(&s.dx_dz[k], &dx_dz, sizeof(dx_dz));
    std::memcpy(&s.dce_dz[k], &dce_dz, sizeof(dce_dz));
  }
  if (AnyLane(bad)) {
    for (int64_t k = 0; k < n; ++k) {
      const double t = static_cast<double>(in.y[begin + k]);
      if (!(t == c.ignore) && !(t >= 0.0 && t <= 1.0)) {
        result->bad_index = begin + k;
        return;
      }
    }
  }
  PowGamma(s.x.data(), padded, series.gamma, s.xg.data());
  prepared.polynomials.Evaluate(s.x.data(), padded, s.q.data(), s.d.data(),
                                stable_sum ? s.q_rest.data() : nullptr);
  DoubleLanes loss_sum{}, kept_sum{};
  for (int64_t k = 0; k < padded; k += kLanes) {
    const int count = static_cast<int>(std::min<int64_t>(kLanes, n - k));
    DoubleLanes x, xg, q, d, ce, w, dx_dz, dce_dz, kept;
    std::memcpy(&x, &s.x[k], sizeof(x));
    std::memcpy(&xg, &s.xg[k], sizeof(xg));
    std::memcpy(&q, &s.q[k], sizeof(q));
    std::memcpy(&d, &s.d[k], sizeof(d));
    std::memcpy(&ce, &s.ce[k], sizeof(ce));
    std::memcpy(&w, &s.omega[k], sizeof(w));
    std::memcpy(&dx_dz, &s.dx_dz[k], sizeof(dx_dz));
    std::memcpy(&dce_dz, &s.dce_dz[k], sizeof(dce_dz));
    std::memcpy(&kept, &s.keep[k], sizeof(kept));
    SampleTermsOf<DoubleLanes> terms =
        CombineSample(series.gamma, series.ce_tail, prepared.never_negative, x, xg, ce, w, q, d);
    if (stable_sum) {  // every group of lanes: a branch on their x costs more than it saves
      DoubleLanes q_rest, neg_log_pt, ce_weight, hard;
      std::memcpy(&q_rest, &s.q_rest[k], sizeof(q_rest));
      std::memcpy(&neg_log_pt, &s.neg_log_pt[k], sizeof(neg_log_pt));
      std::memcpy(&ce_weight, &s.ce_weight[k], sizeof(ce_weight));
      std::memcpy(&hard, &s.hard[k], sizeof(hard));
      terms.loss = Select(
          hard != 0.0,
          HardTargetLoss(prepared.never_negative, x, xg, neg_log_pt, ce_weight, w, c1, c2, q_rest),
          terms.loss);
    }
    const DoubleLanes grad = terms.dloss_dx * dx_dz + terms.dloss_dce * dce_dz;
    StoreLanes(grad, in.grad + begin + k, count);
    if (in.loss != nullptr) StoreLanes(terms.loss, in.loss + begin + k, count);
    if (count < kLanes) {  // the tail: padded lanes count for nothing
      for (int lane = count; lane < kLanes; ++lane) kept[lane] = 0.0;
    }
    loss_sum += Select(kept != 0.0, terms.loss, DoubleLanes{});
    kept_sum += kept;
  }
  // Lane sums in a fixed order: the result does not depend on the thread count.
  result->loss_sum = SumLanes(loss_sum);
  result->count = SumLanes(kept_sum);
}

class SigmoidPolyLossFunction : public torch::autograd::Function<SigmoidPolyLossFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, const PreparedLoss* prepared) {
    const LossConfig& config = prepared->config;
    TORCH_CHECK(targets.sizes() == logits.sizes(),
                "PolyLoss: sigmoid targets must have the logits' shape ", logits.sizes(), ", got ",
                targets.sizes());
    // The elementwise pass runs on the host; CUDA tensors are copied (the device kernels in
    // device_poly_loss.cc are their default path).
    const torch::Tensor z = logits.to(torch::kCPU).contiguous();
    const torch::Tensor y = targets.to(torch::kCPU, logits.scalar_type()).contiguous();
    // exp and log1p by ATen's vectorized (Sleef) kernels; the rest is arithmetic, in one pass.
    const torch::Tensor exp_neg_abs = z.abs().neg_().exp_();
    const torch::Tensor log1p_exp = torch::log1p(exp_neg_abs);
    const bool per_element = config.reduction == Reduction::kNone;
    torch::Tensor loss = per_element ? torch::empty_like(z) : torch::Tensor();
    torch::Tensor grad = torch::empty_like(z);

    SigmoidConstants constants;
    constants.smoothing = config.label_smoothing;
    constants.alpha_pos = config.alpha ? *config.alpha : 1.0;
    constants.alpha_neg = config.alpha ? 1.0 - *config.alpha : 1.0;
    constants.alpha_on_ce_only = config.alpha_on_ce_only;
    constants.ignore = config.ignore_index ? static_cast<double>(*config.ignore_index)
                                           : std::numeric_limits<double>::quiet_NaN();
    constants.class_weights = config.class_weights.empty() ? nullptr : config.class_weights.data();
    constants.classes = z.size(1);
    const int64_t numel = z.numel();
    const int64_t chunks = (numel + kChunk - 1) / kChunk;
    std::vector<ChunkResult> results(chunks);
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "SigmoidPolyLoss", [&] {
      SigmoidInputs<scalar_t> inputs;
      inputs.z = z.data_ptr<scalar_t>();
      inputs.y = y.data_ptr<scalar_t>();
      inputs.exp_neg_abs = exp_neg_abs.data_ptr<scalar_t>();
      inputs.log1p_exp = log1p_exp.data_ptr<scalar_t>();
      inputs.loss = per_element ? loss.data_ptr<scalar_t>() : nullptr;
      inputs.grad = grad.data_ptr<scalar_t>();
      at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
        Scratch scratch;
        for (int64_t c = first; c < last; ++c) {
          const int64_t begin = c * kChunk;
          SigmoidChunk<scalar_t>(*prepared, constants, inputs, begin,
                                 std::min(numel, begin + kChunk) - begin, scratch, &results[c]);
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
    if (per_element) {
      result = loss.to(logits.device());
    } else {
      if (config.reduction == Reduction::kMean) {
        scale = count > 0.0 ? 1.0 / count : 0.0;
        total *= scale;
      }
      // Through a double tensor: a sum past float32's range becomes inf (a diverged loss the
      // trainer names), where scalar_tensor would throw.
      result = torch::scalar_tensor(total, torch::kDouble).to(logits.options());
    }
    ctx->saved_data["grad"] = grad.to(logits.device());
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["per_element"] = per_element;
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
