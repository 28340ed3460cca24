// The PolyLoss family in canonical form: plain C++ with no dependency, so that the loss math
// builds everywhere the tensor kernels do (including a GPU machine with only pip's LibTorch).
//
// Every member of the family is
//   L(pt) = x^gamma * ( tail * CE  +  w * sum_{j=1..K} c_j x^j ),   x = 1 - pt,
// with CE the (smoothed, weighted) cross-entropy of the sample and w the target's weight.
// Expanding CE = sum_j x^j / j, the polynomial coefficient of x^(j + gamma) is
//   alpha_j = tail / j + c_j.
#ifndef POLYTRAIN_LOSS_CORE_LOSS_CONFIG_H_
#define POLYTRAIN_LOSS_CORE_LOSS_CONFIG_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace polytrain::loss {

// Documented limits, shared by validation and the kernels.
inline constexpr int kMaxPolyTerms = 10000;
inline constexpr double kMaxGamma = 50.0;
inline constexpr double kMaxCoefficient = 1000.0;
inline constexpr int kMaxClassWeights = 100000;
inline constexpr double kMaxClassWeight = 1e6;
// The smallest weight above 0: a batch's weights then sum to at least this, far from float32's
// underflow (a weight of 1e-39 made the mean's divisor 0 and the loss inf or NaN).
inline constexpr double kMinPositiveClassWeight = 1e-12;

// The canonical polynomial: (gamma, tail, c_1..c_K) with no trailing zero in c.
struct PolySeries {
  double gamma = 0.0;
  // True when the full cross-entropy (focal, with gamma > 0) series is part of the loss.
  bool ce_tail = true;
  // c_j for j = 1..K, stored at index j - 1: what the loss adds on top of the CE series (or,
  // without the tail, the whole series).
  std::vector<double> extra;

  // alpha_j, the coefficient of x^(j + gamma), for j >= 1.
  double Alpha(int j) const {
    const double base = ce_tail ? 1.0 / j : 0.0;
    return j <= static_cast<int>(extra.size()) ? base + extra[j - 1] : base;
  }
  int NumExtraTerms() const { return static_cast<int>(extra.size()); }

  // Removes trailing zeros so that equal losses have equal series.
  void Normalize() {
    while (!extra.empty() && extra.back() == 0.0) extra.pop_back();
  }

  bool operator==(const PolySeries& other) const {
    return gamma == other.gamma && ce_tail == other.ce_tail && extra == other.extra;
  }
};

enum class Activation { kSoftmax, kSigmoid };
enum class Reduction { kMean, kSum, kNone };

// Everything the kernels need to compute a loss; built from a validated LossSpec.
struct LossConfig {
  PolySeries series;
  Activation activation = Activation::kSoftmax;
  double label_smoothing = 0.0;
  // Empty: every class weighs 1.
  std::vector<double> class_weights;
  // Sigmoid alpha-balance, and whether it weighs the cross-entropy term only (the PolyLoss
  // paper's code) instead of the whole loss.
  std::optional<double> alpha;
  bool alpha_on_ce_only = false;
  std::optional<int64_t> ignore_index;
  Reduction reduction = Reduction::kMean;
};

// Whether the loss is >= 0 for every input, so that a value below 0 can only be rounding (where
// alpha_j = 0 terms cancel near x = 0) and is taken as 0. Every alpha_j >= 0 makes it so, as the
// (smoothed) cross-entropy is at least -log(1 - x), but not in two cases where a negative c_j
// can outweigh what the cross-entropy brings: an alpha-balance on the cross-entropy term alone
// (alpha_t CE + P(x): alpha_t / j + c_j may be < 0), and label smoothing with unequal class
// weights (the smoothed, weighted CE lacks the floor x has). There the loss is its formula,
// negative values included, as its gradient always is.
inline bool NeverNegative(const LossConfig& config) {
  const std::vector<double>& c = config.series.extra;
  if (std::all_of(c.begin(), c.end(), [](double v) { return v >= 0.0; })) return true;
  if (config.series.ce_tail && config.alpha_on_ce_only && config.alpha.has_value()) {
    const double least = std::min(*config.alpha, 1.0 - *config.alpha);
    for (size_t j = 1; j <= c.size(); ++j) {
      if (least / static_cast<double>(j) + c[j - 1] < 0.0) return false;
    }
  }
  const std::vector<double>& w = config.class_weights;
  const bool unequal = std::any_of(w.begin(), w.end(), [&w](double v) { return v != w[0]; });
  return !(config.label_smoothing > 0.0 && unequal);
}

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_CORE_LOSS_CONFIG_H_
