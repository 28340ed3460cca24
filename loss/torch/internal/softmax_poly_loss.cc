// Softmax PolyLoss: log-softmax once forward, one log-softmax backward.
//
// With y the smoothed one-hot target, pt = sum_k y_k p_k, x = 1 - pt, the weighted CE
// ce = -sum_k y_k w_k log p_k and per-row factors A = dL/dx, B = dL/dce (sample_math.h):
//   dL/dz_k = A p_k (pt - y_k) + B (p_k W - y_k w_k),   W = sum_k y_k w_k.
// Collecting terms, this is exactly log_softmax_backward(G) = G_k - p_k sum_j G_j with
//   G_k = -(B s / C) w_k - [k = target] (1 - s)(A p_t + B w_t),
// so the backward costs what cross-entropy's does, whatever the loss.
#include <algorithm>
#include <cmath>
#include <vector>

#include "loss/torch/internal/prepared_loss.h"

namespace polytrain::loss::internal {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Per-row results, computed on the host in double precision.
struct RowFactors {
  std::vector<double> loss;
  std::vector<double> target_coef;  // (1 - s)(A p_t + B w_t)
  std::vector<double> spread_coef;  // B s / C
  double weight_sum = 0.0;          // sum of w_target over rows not ignored
};

bool IsIgnored(const LossConfig& config, int64_t target) {
  return config.ignore_index.has_value() && target == *config.ignore_index;
}

RowFactors ComputeRows(const PreparedLoss& prepared, const double* log_pt, const double* row_sum,
                       const int64_t* targets, int64_t rows, int64_t classes) {
  const LossConfig& config = prepared.config;
  const PolySeries& series = config.series;
  const double s = config.label_smoothing;
  const double c = static_cast<double>(classes);
  const double smooth_floor = s * (c - 1.0) / c;  // 1 - pt >= this when s > 0
  const bool weighted = !config.class_weights.empty();

  std::vector<double> x(rows, 0.0), xg(rows), q(rows), d(rows), q_rest(rows);
  for (int64_t i = 0; i < rows; ++i) {
    if (IsIgnored(config, targets[i])) continue;
    x[i] = std::max(0.0, (1.0 - s) * -std::expm1(log_pt[i]) + smooth_floor);
  }
  PowGamma(x.data(), rows, series.gamma, xg.data());
  prepared.polynomials.Evaluate(x.data(), rows, q.data(), d.data(), q_rest.data());
  // A hard target's CE term is w_t * -log(1 - x), whose first power of x a negative first
  // coefficient cancels (a Poly-1 with epsilon = -1 is -log pt - x): its loss is then summed as
  // HardTargetLoss does. Other losses keep the plain sum, within a few ulps.
  const double c1 = prepared.polynomials.first();
  const double c2 = prepared.polynomials.second();
  const bool hard = s == 0.0 && series.ce_tail && c1 < 0.0;

  RowFactors out;
  out.loss.assign(rows, 0.0);
  out.target_coef.assign(rows, 0.0);
  out.spread_coef.assign(rows, 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    if (IsIgnored(config, targets[i])) continue;
    const double w_t = weighted ? config.class_weights[targets[i]] : 1.0;
    double ce = -(1.0 - s) * w_t * log_pt[i];
    if (s != 0.0) ce -= s / c * row_sum[i];
    const SampleTerms terms = CombineSample(series.gamma, series.ce_tail, prepared.never_negative,
                                            x[i], xg[i], ce, w_t, q[i], d[i]);
    const double p_t = std::exp(log_pt[i]);
    out.loss[i] = hard ? HardTargetLoss(prepared.never_negative, x[i], xg[i], -log_pt[i], w_t, w_t,
                                        c1, c2, q_rest[i])
                       : terms.loss;
    // Through x, dL/dx * p_t; 0 where p_t underflows to 0 (its limit), even where dL/dx is
    // infinite (ce overflowed), which would make it NaN.
    const double through_x = p_t == 0.0 ? 0.0 : terms.dloss_dx * p_t;
    out.target_coef[i] = (1.0 - s) * (through_x + terms.dloss_dce * w_t);
    out.spread_coef[i] = terms.dloss_dce * s / c;
    out.weight_sum += w_t;
  }
  return out;
}

torch::Tensor ToTensor(const std::vector<double>& values, const torch::TensorOptions& options) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kDouble)).to(options);
}

// Rows whose log p_t is above this (p_t > 0.99) take 1 - p_t from the other classes'
// probabilities: log_softmax's log p_t = -log(1 + r) there keeps r only to the precision of 1
// (it is exactly 0 once r < 2^-24 in float32), which a large epsilon multiplies.
constexpr double kConfidentLogPt = -0.01;

// The confident rows (not ignored, log p_t above kConfidentLogPt), each with its 1 - p_t summed
// from the other classes' probabilities in double and its log p_t = log1p(-(1 - p_t)).
struct ConfidentRows {
  std::vector<int64_t> rows;
  std::vector<double> rest;    // 1 - p_t of each
  std::vector<double> log_pt;  // log p_t of each, from `rest`
};

void SumOthersAsTensors(const torch::Tensor& log_probs, const torch::Tensor& safe_targets,
                        int64_t rows, ConfidentRows* confident) {
  const torch::Tensor index = torch::tensor(confident->rows, torch::kLong).to(log_probs.device());
  // Most rows confident (a trained model): one pass over them all beats copying them out.
  const bool most = 2 * static_cast<int64_t>(confident->rows.size()) > rows;
  torch::Tensor others = most ? log_probs.exp() : log_probs.index_select(0, index).exp();
  others.scatter_(1, (most ? safe_targets : safe_targets.index_select(0, index)).unsqueeze(1), 0.0);
  // ATen's cascade sum keeps float32's own precision here (the terms are all positive).
  torch::Tensor rest = others.sum(1);
  if (most) rest = rest.index_select(0, index);
  rest = rest.to(torch::kCPU, torch::kDouble).contiguous();
  const double* rest_data = rest.data_ptr<double>();
  confident->rest.assign(rest_data, rest_data + rest.numel());
}

// Up to this many values, CPU rows are summed in a loop (a tensor op costs tens of microseconds
// before it starts, more than a small batch's whole loss); beyond it, by ATen's vectorized ops.
constexpr int64_t kLoopValues = 1 << 15;

template <typename T>
void SumOthersInALoop(const torch::Tensor& log_probs, const int64_t* targets,
                      ConfidentRows* confident) {
  const torch::Tensor contiguous = log_probs.contiguous();
  const T* data = contiguous.data_ptr<T>();
  const int64_t classes = log_probs.size(1);
  for (const int64_t i : confident->rows) {
    const T* row = data + i * classes;
    double sum = 0.0;
    for (int64_t k = 0; k < classes; ++k) {
      if (k != targets[i]) sum += std::exp(static_cast<double>(row[k]));
    }
    confident->rest.push_back(sum);
  }
}

ConfidentRows FindConfidentRows(const LossConfig& config, const torch::Tensor& log_probs,
                                const torch::Tensor& safe_targets, const int64_t* targets,
                                const double* log_pt, int64_t rows) {
  ConfidentRows confident;
  for (int64_t i = 0; i < rows; ++i) {
    if (!IsIgnored(config, targets[i]) && log_pt[i] > kConfidentLogPt) confident.rows.push_back(i);
  }
  if (confident.rows.empty()) return confident;
  const bool few = static_cast<int64_t>(confident.rows.size()) * log_probs.size(1) <= kLoopValues;
  if (few && log_probs.is_cpu() && log_probs.scalar_type() == torch::kFloat) {
    SumOthersInALoop<float>(log_probs, targets, &confident);
  } else if (few && log_probs.is_cpu() && log_probs.scalar_type() == torch::kDouble) {
    SumOthersInALoop<double>(log_probs, targets, &confident);
  } else {
    SumOthersAsTensors(log_probs, safe_targets, rows, &confident);
  }
  for (const double rest : confident.rest) {
    confident.log_pt.push_back(std::log1p(-std::min(rest, 1.0)));
  }
  return confident;
}

class SoftmaxPolyLossFunction : public torch::autograd::Function<SoftmaxPolyLossFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, const PreparedLoss* prepared) {
    const LossConfig& config = prepared->config;
    const int64_t rows = logits.size(0);
    const int64_t classes = logits.size(1);
    TORCH_CHECK(targets.dim() == 1 && targets.size(0) == rows,
                "PolyLoss: softmax targets must be [batch] class indices, got ", targets.sizes(),
                " for logits ", logits.sizes());
    TORCH_CHECK(targets.scalar_type() == torch::kLong,
                "PolyLoss: softmax targets must be int64 class indices, got ",
                targets.scalar_type());

    const torch::Tensor targets_cpu = targets.to(torch::kCPU).contiguous();
    const int64_t* target_data = targets_cpu.data_ptr<int64_t>();
    for (int64_t i = 0; i < rows; ++i) {
      TORCH_CHECK(
          IsIgnored(config, target_data[i]) || (target_data[i] >= 0 && target_data[i] < classes),
          "PolyLoss: target ", target_data[i], " at row ", i, " is outside [0, ", classes, ")");
    }
    torch::Tensor safe_targets = targets;
    if (config.ignore_index) {
      safe_targets = targets.masked_fill(targets == *config.ignore_index, 0);
    }

    const torch::Tensor log_probs = torch::log_softmax(logits, 1);
    const torch::Tensor log_pt_cpu =
        log_probs.gather(1, safe_targets.unsqueeze(1)).squeeze(1).to(torch::kCPU, torch::kDouble);
    torch::Tensor weights;
    if (!config.class_weights.empty()) weights = ToTensor(config.class_weights, logits.options());
    torch::Tensor row_sum_cpu;
    const bool smoothing = config.label_smoothing != 0.0;
    if (smoothing) {
      const torch::Tensor row_sum =
          weights.defined() ? log_probs.matmul(weights) : log_probs.sum(1);
      row_sum_cpu = row_sum.to(torch::kCPU, torch::kDouble).contiguous();
    }
    const torch::Tensor log_pt_host = log_pt_cpu.contiguous();
    const double* log_pt = log_pt_host.data_ptr<double>();
    const double* row_sum = smoothing ? row_sum_cpu.data_ptr<double>() : nullptr;
    RowFactors factors = ComputeRows(*prepared, log_pt, row_sum, target_data, rows, classes);
    // The confident rows' losses again, from their precise log p_t. Only the values: the
    // gradient stays log-softmax's (as torch's cross_entropy has it), so training takes the
    // same steps whatever the rounding of a loss it only reports.
    const ConfidentRows confident =
        FindConfidentRows(config, log_probs, safe_targets, target_data, log_pt, rows);
    if (!confident.rows.empty()) {
      std::vector<double> sub_row_sum;
      std::vector<int64_t> sub_targets;
      for (const int64_t i : confident.rows) {
        sub_targets.push_back(target_data[i]);
        if (smoothing) sub_row_sum.push_back(row_sum[i]);
      }
      const RowFactors precise =
          ComputeRows(*prepared, confident.log_pt.data(), smoothing ? sub_row_sum.data() : nullptr,
                      sub_targets.data(), static_cast<int64_t>(sub_targets.size()), classes);
      for (size_t k = 0; k < confident.rows.size(); ++k) {
        factors.loss[confident.rows[k]] = precise.loss[k];
      }
    }

    double scale = 1.0;
    torch::Tensor result;
    if (config.reduction == Reduction::kNone) {
      result = ToTensor(factors.loss, logits.options());
    } else {
      double total = 0.0;
      for (double v : factors.loss) total += v;
      if (config.reduction == Reduction::kMean) {
        // Every row ignored: 0 with zero gradient, where torch's cross_entropy gives NaN.
        scale = factors.weight_sum > 0.0 ? 1.0 / factors.weight_sum : 0.0;
        total *= scale;
      }
      // Through a double tensor: a sum past float32's range becomes inf (a diverged loss the
      // trainer names), where scalar_tensor would throw.
      result = torch::scalar_tensor(total, torch::kDouble).to(logits.options());
    }

    ctx->saved_data["log_probs"] = log_probs;
    ctx->saved_data["targets"] = safe_targets;
    ctx->saved_data["target_coef"] = ToTensor(factors.target_coef, logits.options());
    if (smoothing) {
      ctx->saved_data["spread_coef"] = ToTensor(factors.spread_coef, logits.options());
      if (weights.defined()) ctx->saved_data["weights"] = weights;
    }
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["per_sample"] = config.reduction == Reduction::kNone;
    return result;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const torch::Tensor log_probs = ctx->saved_data["log_probs"].toTensor();
    const torch::Tensor targets = ctx->saved_data["targets"].toTensor();
    const torch::Tensor grad = grad_outputs[0];
    // The upstream gradient per row: a scalar for mean/sum, one per row for none.
    const torch::Tensor row_scale =
        ctx->saved_data["per_sample"].toBool() ? grad : grad * ctx->saved_data["scale"].toDouble();

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
    torch::Tensor grad_logits =
        torch::_log_softmax_backward_data(g, log_probs, 1, log_probs.scalar_type());
    return {grad_logits, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SoftmaxPolyLoss(const PreparedLoss& loss, const torch::Tensor& logits,
                              const torch::Tensor& targets) {
  return SoftmaxPolyLossFunction::apply(logits, targets, &loss);
}

}  // namespace polytrain::loss::internal
