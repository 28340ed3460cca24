// Per-sample PolyLoss math shared by the scalar evaluator and every tensor kernel, so that the
// curve a user inspects and the loss a model trains on are computed by the same code.
//
// For one sample with x = 1 - pt, CE term `ce` and polynomial weight w:
//   L = x^g (t ce + w P(x)),  P(x) = sum_j c_j x^j = x Q(x),  Q(x) = sum_j c_j x^(j-1).
// Its derivative splits into a part through x and a part through ce:
//   dL = A dx + B dce,  A = g x^(g-1) (t ce + w P) + x^g w P'(x),  B = t x^g.
// g x^(g-1) (t ce + w P) is evaluated as g x^g (t ce / x + w Q): with hard targets ce / x stays
// bounded as x -> 0 (ce = -log(1-x) ~ x), so nothing overflows even for g < 1, and at x = 0
// exactly the term is 0 (its limit) instead of 0 * inf.
#ifndef POLYTRAIN_LOSS_CORE_SAMPLE_MATH_H_
#define POLYTRAIN_LOSS_CORE_SAMPLE_MATH_H_

#include <cmath>
#include <cstdint>
#include <vector>

#include "loss/core/double_lanes.h"

namespace polytrain::loss {

// Evaluates Q(x) = sum_j c_j x^(j-1) and D(x) = P'(x) = sum_j j c_j x^(j-1) at many points
// with Horner's rule, vectorized across points: the cost is K multiply-adds per point and
// polynomial, whatever the loss.
class SeriesPolynomials {
 public:
  explicit SeriesPolynomials(const std::vector<double>& extra);

  bool empty() const { return c_.empty(); }
  int degree() const { return static_cast<int>(c_.size()); }

  // q[i] = Q(x[i]), d[i] = D(x[i]) for i < n. With no terms both are 0. With `q_rest`, also
  // q_rest[i] = sum_{j>=3} c_j x^(j-3) = ((Q(x[i]) - c_1) / x[i] - c_2) / x[i], which Horner's
  // rule has two steps before Q (HardTargetLoss needs it without the cancellation of those
  // differences).
  void Evaluate(const double* x, int64_t n, double* q, double* d, double* q_rest = nullptr) const;

  // c_1 and c_2, the first terms' coefficients (0 where there is no such term).
  double first() const { return c_.empty() ? 0.0 : c_[0]; }
  double second() const { return c_.size() < 2 ? 0.0 : c_[1]; }

 private:
  std::vector<double> c_;   // c_j at j - 1
  std::vector<double> jc_;  // j * c_j at j - 1
};

// out[i] = x[i]^gamma for x in [0, 1], with 0^0 = 1; small integer gamma (the common focal
// values) by exact products in loops that vectorize, any other by std::pow.
void PowGamma(const double* x, int64_t n, double gamma, double* out);

template <typename T>
struct SampleTermsOf {
  T loss{};
  T dloss_dx{};   // A above: through x, with ce held fixed
  T dloss_dce{};  // B above: through ce
};
using SampleTerms = SampleTermsOf<double>;

// Combines one sample (T = double), or four at once (T = DoubleLanes, double_lanes.h). `xg` =
// x^gamma (PowGamma), `q` and `d` come from SeriesPolynomials at the same x. `never_negative`:
// NeverNegative of the loss (loss_config.h). Always inlined, as the lanes' helpers are.
template <typename T>
inline __attribute__((always_inline)) SampleTermsOf<T> CombineSample(double gamma, bool ce_tail,
                                                                     bool never_negative, T x, T xg,
                                                                     T ce, T poly_weight, T q,
                                                                     T d) {
  const T tail_ce = ce_tail ? ce : T{};
  SampleTermsOf<T> terms;
  terms.loss = xg * (tail_ce + poly_weight * x * q);
  // A loss that is never negative can still come out a few ulps below 0 where alpha_j = 0 terms
  // (eps_j = -1/j) cancel near x = 0: that is rounding, and 0 is its value. (A NaN stays NaN.)
  if (never_negative) terms.loss = Select(terms.loss < T{}, T{}, terms.loss);
  terms.dloss_dx = xg * poly_weight * d;
  // g x^(g-1) (t ce + w P) = g x^g (t ce / x + w Q); absent for g = 0 (even where ce is
  // infinite) and 0 at x = 0, its limit (the quotient there is computed, then not taken).
  if (gamma != 0.0) {
    terms.dloss_dx += Select(x > T{}, gamma * xg * (tail_ce / x + poly_weight * q), T{});
  }
  terms.dloss_dce = ce_tail ? xg : T{};
  return terms;
}

// HardTargetLoss sums R by its series below this x.
inline constexpr double kHardTargetSeriesBelow = 1.0 / 8;

// 1/k for k = 0..20 (0 for k < 3), for HardTargetLoss's series.
inline constexpr double kInverseOf[21] = {
    0,        0,        0,        1.0 / 3,  1.0 / 4,  1.0 / 5,  1.0 / 6,
    1.0 / 7,  1.0 / 8,  1.0 / 9,  1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13,
    1.0 / 14, 1.0 / 15, 1.0 / 16, 1.0 / 17, 1.0 / 18, 1.0 / 19, 1.0 / 20};

// A hard target's loss (its CE term exactly ce_weight * -log(1 - x), with the CE tail), from
//   t ce + w P(x) = ce_weight R(x) + (ce_weight + w c_1) x + (ce_weight / 2 + w c_2) x^2
//                   + w x^3 Q_rest(x),
// R(x) = -log(1 - x) - x - x^2 / 2: no two terms near x cancel, so a confident sample (x -> 0)
// keeps its relative precision where the leading coefficients cancel the CE term's first
// powers: a Poly-1 with epsilon = -1 (L = -log pt - x), or a Poly-N with epsilons -1, -1/2
// (L = R), where the plain sum would keep only x's precision. `neg_log_pt` is -log(1 - x) as
// the kernel has it. R is its series below x = 1/8 (to x^20 / 20: the first term left out is
// below 2^-53 of x^3 / 3 there), the difference above (200 ulps of R at x = 1/8, 3 / x^2 ulps as
// x grows, when x and neg_log_pt are rounded alike; 32 ulps of Poly-1's loss, as x^2 / 2 adds).
template <typename T>
inline __attribute__((always_inline)) T HardTargetLoss(bool never_negative, T x, T xg, T neg_log_pt,
                                                       T ce_weight, T poly_weight, double c1,
                                                       double c2, T q_rest) {
  // sum_{k=3..20} x^(k-3) / k by Estrin's scheme: a dependency chain of 6 multiply-adds where
  // Horner's rule has 17, which bounded the sigmoid pass (every element of such a loss takes it).
  const T x2 = x * x;
  const T x4 = x2 * x2;
  const T x8 = x4 * x4;
  auto pair = [&x](int k) { return kInverseOf[k] + kInverseOf[k + 1] * x; };
  const T low = (pair(3) + pair(5) * x2) + (pair(7) + pair(9) * x2) * x4;
  const T high = (pair(11) + pair(13) * x2) + (pair(15) + pair(17) * x2) * x4;
  const T series = ((low + high * x8) + pair(19) * (x8 * x8)) * x2 * x;
  // 0 * neg_log_pt keeps a NaN of the CE term (a kernel may have clamped x to 0 from NaN logits:
  // a diverged step must still read NaN); it is finite wherever the series is taken.
  const T r =
      Select(x < kHardTargetSeriesBelow, series + 0.0 * neg_log_pt, neg_log_pt - x - 0.5 * x * x);
  T loss = xg * (ce_weight * r + (ce_weight + poly_weight * c1) * x +
                 (0.5 * ce_weight + poly_weight * c2) * x * x + poly_weight * x * x * x * q_rest);
  if (never_negative) loss = Select(loss < T{}, T{}, loss);
  return loss;
}

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_CORE_SAMPLE_MATH_H_
