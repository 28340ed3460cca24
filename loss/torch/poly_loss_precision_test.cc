// Precision at the edges of float32 and float64: extreme and confident logits, the limits at
// p_t = 1, half precision computed in float32, sums past float32's range, each against closed
// forms or a float64 reference.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "loss/spec/loss_spec.h"
#include "loss/torch/poly_loss.h"
#include "loss/torch/poly_loss_test_fixture.h"

namespace polytrain::loss {
namespace {

TEST_F(PolyLossTest, ExtremeLogitsStayFinite) {
  for (const char* spec :
       {"cross_entropy {}", "poly1 { epsilon: 2 }", "poly1 { epsilon: -1 }", "focal { gamma: 0.5 }",
        "poly_focal { gamma: 0.25 epsilons: [1] }", "poly_n { epsilons: [1, 2, 3] }",
        "drop { n: 1000 }", "coefficients { alpha: [0, 1] gamma: 0.5 add_ce_tail: true }",
        "poly1 { epsilon: 1 } label_smoothing: 0.1",
        "focal { gamma: 0.5 } activation: ACTIVATION_SIGMOID alpha: 0.25",
        "poly_focal { gamma: 2 epsilons: [1] } activation: ACTIVATION_SIGMOID"}) {
    SCOPED_TRACE(spec);
    const PolyLoss op(Config(spec));
    const bool sigmoid = std::string(spec).find("SIGMOID") != std::string::npos;
    for (auto dtype : {torch::kFloat, torch::kDouble}) {
      // Rows: target logit far above (pt -> 1), far below (pt -> 0), and a tie.
      torch::Tensor z = torch::tensor({{1e4, -1e4, 0.0}, {-1e4, 1e4, 1e4}, {0.0, 0.0, 0.0}},
                                      torch::TensorOptions().dtype(dtype));
      torch::Tensor y = sigmoid ? torch::tensor({{1.0, 0.0, 0.0}, {1.0, 0.0, 1.0}, {0.0, 1.0, 0.0}})
                                : torch::tensor({0, 0, 2}, torch::kLong);
      const LossAndGrad r = RunWithGrad(z, [&](const torch::Tensor& v) { return op(v, y); });
      EXPECT_TRUE(std::isfinite(r.loss.item<double>())) << r.loss;
      EXPECT_TRUE(torch::isfinite(r.grad).all().item<bool>()) << r.grad;
    }
  }
}

TEST_F(PolyLossTest, LogitsNearTheDoubleLimitGiveNoNaNGradient) {
  // log p_t overflows to -inf (the loss is +inf, as float64 has it), but p_t is 0 and the
  // gradient keeps its finite limit on both paths.
  const torch::Tensor z = torch::tensor({{1.7e308, -1.7e308, 0.0}}, torch::kDouble);
  const torch::Tensor y = torch::tensor({1}, torch::kLong);
  for (const char* spec :
       {"focal { gamma: 0.5 }", "poly_focal { gamma: 2 epsilons: [1] }", "cross_entropy {}"}) {
    SCOPED_TRACE(spec);
    for (KernelPath path : {KernelPath::kHost, KernelPath::kDevice}) {
      const PolyLoss op(Config(spec), path);
      const LossAndGrad r = RunWithGrad(z, [&](const torch::Tensor& v) { return op(v, y); });
      EXPECT_TRUE(torch::isfinite(r.grad).all().item<bool>()) << r.grad;
    }
  }
}

TEST_F(PolyLossTest, SigmoidGradientsKeepTheirPrecisionFarFromTheDecisionBoundary) {
  // dCE/dz = sigma(z) - y: for y = 1 and z = 30 it is -sigma(-30), not the rounding of
  // sigma(30) - 1.
  const torch::Tensor z = torch::tensor({{30.0, -30.0, 40.0}}, torch::kDouble);
  const torch::Tensor y = torch::tensor({{1.0, 0.0, 1.0}}, torch::kDouble);
  const torch::Tensor expected =
      torch::tensor({{-1.0 / (1.0 + std::exp(30.0)), 1.0 / (1.0 + std::exp(30.0)),
                      -1.0 / (1.0 + std::exp(40.0))}},
                    torch::kDouble);
  for (KernelPath path : {KernelPath::kHost, KernelPath::kDevice}) {
    const PolyLoss op(
        Config("cross_entropy {} activation: ACTIVATION_SIGMOID reduction: REDUCTION_SUM"), path);
    const LossAndGrad r = RunWithGrad(z, [&](const torch::Tensor& v) { return op(v, y); });
    EXPECT_LE(((r.grad - expected) / expected).abs().max().item<double>(), 1e-14) << r.grad;
  }
}

TEST_F(PolyLossTest, LossesWhoseLowTermsVanishAreNeverNegative) {
  // alpha_j = 0 (eps_j = -1/j) cancels near pt = 1; the loss stays >= 0 all the same.
  torch::manual_seed(3);
  // Random rows, and two where softmax's rounding went below 0 without the clamp.
  const torch::Tensor z = torch::cat({torch::rand({300, 3}, torch::kDouble) * 40,
                                      torch::tensor({{19.844192208329027, 1.623856654024448, 0.0},
                                                     {23.74666520252371, 3.9681839182812535, 0.0}},
                                                    torch::kDouble)});
  const torch::Tensor classes = torch::zeros({302}, torch::kLong);
  const torch::Tensor labels = torch::rand({302, 3}).lt(0.5).to(torch::kDouble);
  for (const char* spec :
       {"poly_n { epsilons: [-1, -0.5] }", "coefficients { alpha: [0, 0] add_ce_tail: true }",
        "poly_focal { gamma: 0.3 epsilons: [-1, -0.5] }"}) {
    for (const char* activation : {"", " activation: ACTIVATION_SIGMOID"}) {
      const std::string text = std::string(spec) + activation + " reduction: REDUCTION_NONE";
      SCOPED_TRACE(text);
      const bool sigmoid = *activation != '\0';
      for (KernelPath path : {KernelPath::kHost, KernelPath::kDevice}) {
        const PolyLoss op(Config(text), path);
        const torch::Tensor loss = op(z, sigmoid ? labels : classes);
        EXPECT_GE(loss.min().item<double>(), 0.0);
      }
    }
  }
}

TEST_F(PolyLossTest, AtPtOneTheLossAndGradientAreTheirLimits) {
  // pt = 1 exactly in float64: zero loss and, for gamma > 0, a zero gradient (gamma < 1 too).
  const torch::Tensor z = torch::tensor({{1e4, 0.0}}, torch::kDouble);
  const torch::Tensor y = torch::tensor({0}, torch::kLong);
  for (const char* spec : {"focal { gamma: 0.5 }", "poly_focal { gamma: 0.25 epsilons: [3] }"}) {
    const PolyLoss op(Config(spec));
    const LossAndGrad r = RunWithGrad(z, [&](const torch::Tensor& v) { return op(v, y); });
    EXPECT_EQ(r.loss.item<double>(), 0.0);
    EXPECT_EQ(r.grad.abs().max().item<double>(), 0.0);
  }
}

TEST_F(PolyLossTest, Float32AgreesWithFloat64) {
  const torch::Tensor targets = targets_.clamp_min(0);
  const PolyLoss op(Config("poly_focal { gamma: 2 epsilons: [1, 0.5] } label_smoothing: 0.1"));
  const LossAndGrad f64 =
      RunWithGrad(logits_, [&](const torch::Tensor& z) { return op(z, targets); });
  const LossAndGrad f32 = RunWithGrad(logits_.to(torch::kFloat),
                                      [&](const torch::Tensor& z) { return op(z, targets); });
  EXPECT_EQ(f32.loss.scalar_type(), torch::kFloat);
  EXPECT_EQ(f32.grad.scalar_type(), torch::kFloat);
  ExpectClose(f32.loss.to(torch::kDouble), f64.loss, 1e-5);
  ExpectClose(f32.grad.to(torch::kDouble), f64.grad, 1e-5);
}

TEST_F(PolyLossTest, HalfPrecisionIsComputedInFloat32) {
  const torch::Tensor targets = targets_.clamp_min(0);
  for (const char* spec : {"poly_focal { gamma: 2 epsilons: [1, 0.5] }",
                           "poly1 { epsilon: 1 } activation: ACTIVATION_SIGMOID"}) {
    SCOPED_TRACE(spec);
    const PolyLoss op(Config(spec));
    const bool sigmoid = std::string(spec).find("SIGMOID") != std::string::npos;
    const torch::Tensor y = sigmoid ? torch::rand({16, 6}).lt(0.3).to(torch::kDouble) : targets;
    for (auto dtype : {torch::kHalf, torch::kBFloat16}) {
      // The same logits rounded to the half type, then computed in float32 and rounded back.
      const torch::Tensor rounded = logits_.to(dtype);
      const LossAndGrad half = RunWithGrad(
          rounded, [&](const torch::Tensor& z) { return op(z, sigmoid ? y.to(dtype) : y); });
      const LossAndGrad exact = RunWithGrad(
          rounded.to(torch::kDouble),
          [&](const torch::Tensor& z) { return op(z, sigmoid ? y.to(torch::kDouble) : y); });
      EXPECT_EQ(half.loss.scalar_type(), dtype);
      EXPECT_EQ(half.grad.scalar_type(), dtype);
      const double tolerance = dtype == torch::kHalf ? 2e-3 : 1.6e-2;  // the result's rounding
      ExpectClose(half.loss.to(torch::kDouble), exact.loss, tolerance);
      ExpectClose(half.grad.to(torch::kDouble), exact.grad, tolerance);
    }
  }
}

// A confident sample (p_t within float32's rounding of 1) keeps its loss: the host path takes
// 1 - p_t from the other classes, where log_softmax's log p_t is 0 and a large epsilon would
// multiply the loss of precision. Its gradient stays log-softmax's (close in absolute terms, as
// torch's cross_entropy has it). Against autograd through float64 log_softmax.
TEST_F(PolyLossTest, ConfidentSamplesKeepTheirLossOnTheHostPath) {
  // Margins to 20 (1 - p_t ~ 4e-9), where float64's own 1 - p_t is still good to 3e-8.
  const torch::Tensor margins = torch::tensor({15.0, 17.0, 18.0, 20.0, 20.0}, torch::kDouble);
  torch::Tensor z = torch::zeros({5, 3}, torch::kDouble);
  const torch::Tensor targets = torch::tensor({0, 1, 2, 0, 1}, torch::kLong);
  z.scatter_(1, targets.unsqueeze(1), margins.unsqueeze(1));
  z[4][2] = 17.0;  // a second class closer behind
  for (const char* spec :
       {"poly1 { epsilon: 1000 } reduction: REDUCTION_NONE",
        "focal { gamma: 0.5 } reduction: REDUCTION_NONE",
        "poly1 { epsilon: 1000 } label_smoothing: 0.1 class_weights: [0.5, 2, 1] reduction: "
        "REDUCTION_NONE",
        "poly_n { epsilons: [100, 50] } reduction: REDUCTION_SUM"}) {
    SCOPED_TRACE(spec);
    const LossConfig config = Config(spec);
    const LossAndGrad reference =
        RunWithGrad(z, [&](const torch::Tensor& v) { return NaivePolyLoss(config, v, targets); });
    const PolyLoss host(config, KernelPath::kHost);
    for (auto dtype : {torch::kFloat, torch::kDouble}) {
      const LossAndGrad r =
          RunWithGrad(z.to(dtype), [&](const torch::Tensor& v) { return host(v, targets); });
      const torch::Tensor loss = r.loss.to(torch::kDouble);
      const double tolerance = dtype == torch::kFloat ? 1e-5 : 1e-6;  // the reference's own
      // Relative to each value, not to the largest: the small ones are the point.
      EXPECT_LE(((loss - reference.loss).abs() / reference.loss.abs()).max().item<double>(),
                tolerance)
          << loss << "\nvs\n"
          << reference.loss;
      ExpectClose(r.grad.to(torch::kDouble), reference.grad, dtype == torch::kFloat ? 1e-5 : 1e-12);
    }
  }
  // float64 loses 1 - p_t the same way at a margin of 38: log1p(2 e^-38) and its 1000 x.
  const PolyLoss poly1(Config("poly1 { epsilon: 1000 }"), KernelPath::kHost);
  const torch::Tensor far = torch::tensor({{38.0, 0.0, 0.0}}, torch::kDouble);
  const double r = 2 * std::exp(-38.0);
  const double expected = std::log1p(r) + 1000 * (r / (1 + r));
  EXPECT_NEAR(poly1(far, torch::tensor({0}, torch::kLong)).item<double>(), expected,
              1e-12 * expected);
}

// sum_{k >= 3} x^k / k: what is left of -log(1 - x) when its first two terms are cancelled.
double LogTailPastSecond(double x) {
  double sum = 0.0;
  for (int k = 200; k >= 3; --k) sum += std::pow(x, k) / k;
  return sum;
}

// A loss whose first coefficients cancel the CE term's first powers of x (Poly-1 with epsilon =
// -1 is -log p_t - x ~ x^2 / 2; epsilons [-1, -1/2] leave -log p_t - x - x^2 / 2 ~ x^3 / 3)
// keeps its relative precision for a confident sample, on the host path, softmax and sigmoid:
// summed as -log p_t and x, it kept only x's (3e-4 relative at a margin of 30, and 0 at 40; with
// the second term cancelled too, 2e-8 at 20 and 8e-4 at 30). Against the series, term by term.
TEST_F(PolyLossTest, ALossWhoseFirstTermsCancelKeepsItsPrecision) {
  const std::vector<double> margins = {1.0, 2.0, 3.0, 12.0, 17.0, 25.0, 30.0, 40.0};
  for (const bool sigmoid : {false, true}) {
    // Each loss, and its coefficient of x^2 (1/2 + epsilon_2).
    for (const auto& [spec, x2] :
         std::vector<std::pair<std::string, double>>{{"poly1 { epsilon: -1 }", 0.5},
                                                     {"poly_n { epsilons: [-1, 0.5] }", 1.0},
                                                     {"poly_n { epsilons: [-1, -0.5] }", 0.0},
                                                     {"poly_n { epsilons: [-1, -0.5, 2] }", 0.0}}) {
      SCOPED_TRACE(spec + (sigmoid ? " sigmoid" : " softmax"));
      const double x3 = spec == "poly_n { epsilons: [-1, -0.5, 2] }" ? 2.0 : 0.0;
      const PolyLoss host(Config(spec + " reduction: REDUCTION_NONE" +
                                 (sigmoid ? " activation: ACTIVATION_SIGMOID" : "")),
                          KernelPath::kHost);
      const int64_t n = static_cast<int64_t>(margins.size());
      torch::Tensor z = torch::zeros({n, 3}, torch::kDouble);
      std::vector<double> expected;
      for (int64_t i = 0; i < n; ++i) {
        z[i][0] = margins[static_cast<size_t>(i)];
        // Softmax: 1 - p_t = r / (1 + r), r = 2 e^-M. Sigmoid (class 0's element alone, its
        // target 1; the others' targets 0 at z = 0): 1 - p_t = 1 / (1 + e^M).
        const double r = 2 * std::exp(-margins[static_cast<size_t>(i)]);
        const double x =
            sigmoid ? 1.0 / (1.0 + std::exp(margins[static_cast<size_t>(i)])) : r / (1 + r);
        expected.push_back(LogTailPastSecond(x) + x2 * x * x + x3 * x * x * x);
      }
      const torch::Tensor targets =
          sigmoid ? torch::zeros({n, 3}, torch::kDouble).index_fill_(1, torch::tensor({0}), 1.0)
                  : torch::zeros({n}, torch::kLong);
      for (auto dtype : {torch::kDouble, torch::kFloat}) {
        const torch::Tensor loss =
            host(z.to(dtype), sigmoid ? targets.to(dtype) : targets).to(torch::kDouble);
        for (int64_t i = 0; i < n; ++i) {
          SCOPED_TRACE(margins[static_cast<size_t>(i)]);
          const double got = sigmoid ? loss[i][0].item<double>() : loss[i].item<double>();
          const double want = expected[static_cast<size_t>(i)];
          // float32 logits: the rounding of their log-softmax (a few float32 ulps of log p_t,
          // tripled where the answer is x^3 / 3) bounds it, and float32's smallest step where
          // the answer is below its normal range (x^3 / 3 at a margin of 30).
          const double float32_relative = x2 == 0.0 ? 4e-6 : 1e-6;
          EXPECT_NEAR(
              got, want,
              dtype == torch::kDouble ? 1e-13 * want : std::max(float32_relative * want, 2e-45));
        }
      }
    }
  }
}

// Past the plain loop's 32,768 values, confident rows are summed by tensor ops: with most rows
// confident (one pass over all of them) and with a few (those rows copied out), each value
// against the float64 reference.
TEST_F(PolyLossTest, ConfidentRowsOfALargeBatchKeepTheirLoss) {
  torch::manual_seed(11);
  const int64_t rows = 128, classes = 1000;
  const torch::Tensor targets = torch::randint(0, classes, {rows}, torch::kLong);
  const LossConfig config = Config("poly1 { epsilon: 1000 } reduction: REDUCTION_NONE");
  const PolyLoss host(config, KernelPath::kHost);
  for (const int64_t confident : {100, 40}) {  // most rows; 40 rows = 40,000 values, a few
    SCOPED_TRACE(confident);
    torch::Tensor z = torch::randn({rows, classes}, torch::kDouble);
    torch::Tensor lift = torch::zeros({rows, 1}, torch::kDouble);
    lift.narrow(0, 0, confident).fill_(20.0);
    z.scatter_add_(1, targets.unsqueeze(1), lift);
    const torch::Tensor reference = NaivePolyLoss(config, z, targets);
    const torch::Tensor got = host(z.to(torch::kFloat), targets).to(torch::kDouble);
    EXPECT_LE(((got - reference).abs() / reference.abs()).max().item<double>(), 1e-5)
        << got.narrow(0, 0, 4) << "\nvs\n"
        << reference.narrow(0, 0, 4);
  }
}

TEST_F(PolyLossTest, ASumPastFloat32sRangeIsInfinityNotAnError) {
  // Five samples of about 1e38 each: the sum (in double) does not fit a float32.
  const torch::Tensor z =
      torch::tensor({{1e38f, 0.0f}, {1e38f, 0.0f}, {1e38f, 0.0f}, {1e38f, 0.0f}, {1e38f, 0.0f}});
  const torch::Tensor targets = torch::tensor({1, 1, 1, 1, 1}, torch::kLong);
  for (const char* spec : {"cross_entropy {} reduction: REDUCTION_SUM",
                           "cross_entropy {} activation: ACTIVATION_SIGMOID reduction: "
                           "REDUCTION_SUM"}) {
    SCOPED_TRACE(spec);
    const LossConfig config = Config(spec);
    const torch::Tensor y = config.activation == Activation::kSigmoid
                                ? torch::zeros({5, 2}) + torch::tensor({0.0f, 1.0f})
                                : targets;
    torch::Tensor loss;
    EXPECT_NO_THROW(loss = PolyLoss(config, KernelPath::kHost)(z, y));
    EXPECT_TRUE(std::isinf(loss.item<float>())) << loss;
  }
}

}  // namespace
}  // namespace polytrain::loss
