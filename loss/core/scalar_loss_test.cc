#include "loss/core/scalar_loss.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace polytrain::loss {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

PolySeries Poly(std::vector<double> extra, double gamma = 0.0, bool tail = true) {
  PolySeries s;
  s.extra = std::move(extra);
  s.gamma = gamma;
  s.ce_tail = tail;
  return s;
}

PolySeries Drop(int n) {
  PolySeries s;
  s.ce_tail = false;
  for (int j = 1; j <= n; ++j) s.extra.push_back(1.0 / j);
  return s;
}

const std::vector<double> kPoints = {1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 1 - 1e-9};

TEST(ScalarLossTest, CrossEntropyIsMinusLogPt) {
  for (const CurvePoint& p : EvaluateCurve(PolySeries{}, kPoints)) {
    EXPECT_DOUBLE_EQ(p.loss, -std::log(p.pt)) << p.pt;
    EXPECT_DOUBLE_EQ(p.dloss_dpt, -1.0 / p.pt) << p.pt;
  }
}

TEST(ScalarLossTest, Poly1AddsEpsilonTimesOneMinusPt) {
  for (const CurvePoint& p : EvaluateCurve(Poly({2.0}), kPoints)) {
    EXPECT_NEAR(p.loss, -std::log(p.pt) + 2.0 * (1.0 - p.pt), 1e-15 * (1 - std::log(p.pt)));
    EXPECT_NEAR(p.dloss_dpt, -1.0 / p.pt - 2.0, 1e-15 / p.pt);
  }
}

TEST(ScalarLossTest, EpsilonMinusOneRemovesTheFirstTerm) {
  // -log pt - (1 - pt) = sum_{j>=2} x^j / j: quadratic near pt = 1.
  const double pt = 0.999;
  const CurvePoint p = EvaluateCurve(Poly({-1.0}), {pt})[0];
  const double x = 1.0 - pt;
  double series = 0.0;
  for (int j = 2; j <= 12; ++j) series += std::pow(x, j) / j;
  EXPECT_NEAR(p.loss, series, 1e-18);
  // Relative to itself all the way to pt = 1: as -log pt and x, it kept only x's precision
  // (1e-4 relative at 1 - pt = 1e-12).
  for (const double near : {0.1, 0.125, 0.2, 1e-3, 1e-8, 1e-12, 1e-16}) {
    const double confident = 1.0 - near;
    const double exact_x = 1.0 - confident;  // what the curve takes as x
    double tail = 0.0;
    for (int j = 200; j >= 2; --j) tail += std::pow(exact_x, j) / j;
    EXPECT_NEAR(EvaluateCurve(Poly({-1.0}), {confident})[0].loss, tail, 1e-15 * tail) << near;
  }
}

TEST(ScalarLossTest, EpsilonsMinusOneAndMinusAHalfRemoveTheFirstTwoTerms) {
  // -log pt - x - x^2 / 2 = sum_{j>=3} x^j / j, relative to itself on both sides of where
  // HardTargetLoss stops taking its series (x = 1/8): every term of the series counts there.
  for (const double near : {0.3, 0.126, 0.1249, 0.0625, 1e-3, 1e-8, 1e-12}) {
    const double confident = 1.0 - near;
    const double exact_x = 1.0 - confident;  // what the curve takes as x
    double tail = 0.0;
    for (int j = 200; j >= 3; --j) tail += std::pow(exact_x, j) / j;
    // Above x = 1/8 the difference, within 3 / x^2 ulps: 5e-14 at x = 0.126.
    const double relative = exact_x < 0.125 ? 3e-16 : 5e-14;
    EXPECT_NEAR(EvaluateCurve(Poly({-1.0, -0.5}), {confident})[0].loss, tail, relative * tail)
        << near;
  }
}

TEST(ScalarLossTest, FocalMatchesClosedForm) {
  for (double gamma : {0.5, 2.0, 3.7}) {
    for (const CurvePoint& p : EvaluateCurve(Poly({}, gamma), kPoints)) {
      const double x = 1.0 - p.pt;
      const double loss = -std::pow(x, gamma) * std::log(p.pt);
      const double grad =
          gamma * std::pow(x, gamma - 1) * std::log(p.pt) - std::pow(x, gamma) / p.pt;
      EXPECT_NEAR(p.loss, loss, 1e-13 * std::fabs(loss) + 1e-300) << gamma << " " << p.pt;
      EXPECT_NEAR(p.dloss_dpt, grad, 1e-12 * std::fabs(grad) + 1e-300) << gamma << " " << p.pt;
    }
  }
}

TEST(ScalarLossTest, GammaZeroIsNoFocalShift) {
  const auto a = EvaluateCurve(Poly({1.0, 0.5}, 0.0), kPoints);
  for (size_t i = 0; i < kPoints.size(); ++i) {
    const double x = 1.0 - kPoints[i];
    EXPECT_NEAR(a[i].loss, -std::log(kPoints[i]) + x + 0.5 * x * x, 1e-14);
  }
}

TEST(ScalarLossTest, DropGapIsExactlyTheCrossEntropyTail) {
  for (int n : {1, 10, 100, 1000}) {
    for (double pt : {0.3, 0.5, 0.9, 0.99}) {
      const double x = 1.0 - pt;
      double tail = 0.0;  // sum_{j>n} x^j / j, to convergence
      for (int j = n + 1; j < n + 20000; ++j) tail += std::pow(x, j) / j;
      const double drop = EvaluateCurve(Drop(n), {pt})[0].loss;
      const double ce = -std::log(pt);
      EXPECT_NEAR(ce - drop, tail, 1e-14 * ce) << n << " " << pt;
    }
  }
}

TEST(ScalarLossTest, DropConvergesToCrossEntropy) {
  double previous_gap = kInf;
  for (int n : {1, 3, 10, 30, 100, 300}) {
    const double gap = -std::log(0.05) - EvaluateCurve(Drop(n), {0.05})[0].loss;
    EXPECT_GT(gap, 0.0);
    EXPECT_LT(gap, previous_gap);
    previous_gap = gap;
  }
  // Past that the gap (0.95^1001 / 1001 ~ 5e-26) is below double rounding of the loss itself.
  for (int n : {1000, 10000}) {
    EXPECT_NEAR(EvaluateCurve(Drop(n), {0.05})[0].loss, -std::log(0.05), 4e-15);
  }
}

TEST(ScalarLossTest, EdgesAreDefined) {
  // pt = 1: zero loss; the derivative is the limit -(1 + epsilon_1) without focal shift and 0
  // with one, for any gamma (including gamma < 1, where x^(gamma-1) alone would blow up).
  EXPECT_EQ(EvaluateCurve(Poly({2.0}), {1.0})[0].loss, 0.0);
  EXPECT_EQ(EvaluateCurve(Poly({2.0}), {1.0})[0].dloss_dpt, -3.0);
  for (double gamma : {0.25, 0.5, 2.0}) {
    const CurvePoint p = EvaluateCurve(Poly({1.0}, gamma), {1.0})[0];
    EXPECT_EQ(p.loss, 0.0);
    EXPECT_EQ(p.dloss_dpt, 0.0);
    const CurvePoint near = EvaluateCurve(Poly({1.0}, gamma), {1.0 - 1e-300})[0];
    EXPECT_TRUE(std::isfinite(near.dloss_dpt));
  }
  // pt = 0: losses with the log term are infinite, truncated ones finite.
  EXPECT_EQ(EvaluateCurve(PolySeries{}, {0.0})[0].loss, kInf);
  EXPECT_EQ(EvaluateCurve(PolySeries{}, {0.0})[0].dloss_dpt, -kInf);
  const CurvePoint drop = EvaluateCurve(Drop(3), {0.0})[0];
  EXPECT_DOUBLE_EQ(drop.loss, 1.0 + 0.5 + 1.0 / 3);
  EXPECT_DOUBLE_EQ(drop.dloss_dpt, -3.0);
}

TEST(ScalarLossTest, ThousandsOfTermsWork) {
  std::vector<double> eps(10000, 0.0);
  eps[9999] = 1.0;  // x^10000 term
  const CurvePoint p = EvaluateCurve(Poly(eps), {0.0001})[0];
  const double x = 0.9999;
  EXPECT_NEAR(p.loss, -std::log(0.0001) + std::pow(x, 10000), 1e-12);
  EXPECT_NEAR(p.dloss_dpt, -1.0 / 0.0001 - 10000 * std::pow(x, 9999), 1e-9);
}

TEST(ScalarLossTest, ExplicitCoefficientsWithoutTail) {
  // 0.5 x^(1+g) + 2 x^(3+g).
  const double g = 1.5;
  const CurvePoint p = EvaluateCurve(Poly({0.5, 0.0, 2.0}, g, false), {0.3})[0];
  const double x = 0.7;
  EXPECT_NEAR(p.loss, 0.5 * std::pow(x, 1 + g) + 2 * std::pow(x, 3 + g), 1e-15);
  EXPECT_NEAR(p.dloss_dpt, -(0.5 * (1 + g) * std::pow(x, g) + 2 * (3 + g) * std::pow(x, 2 + g)),
              1e-14);
}

}  // namespace
}  // namespace polytrain::loss
