// Identities and edges of the fused op, against torch's own losses and closed forms (float64).
#include "loss/torch/poly_loss.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "loss/core/describe.h"
#include "loss/core/scalar_loss.h"
#include "loss/spec/loss_spec.h"
#include "loss/torch/poly_loss_test_fixture.h"

namespace polytrain::loss {
namespace {

namespace F = torch::nn::functional;

TEST_F(PolyLossTest, EpsilonZeroEqualsTorchCrossEntropy) {
  struct Variant {
    std::string spec;
    F::CrossEntropyFuncOptions torch_options;
  };
  const std::string w = " class_weights: [0.5, 1, 2, 0, 1.5, 3]";
  std::vector<Variant> variants = {
      {"", F::CrossEntropyFuncOptions()},
      {" label_smoothing: 0.2", F::CrossEntropyFuncOptions().label_smoothing(0.2)},
      {w, F::CrossEntropyFuncOptions().weight(weights_)},
      {" ignore_index: -100", F::CrossEntropyFuncOptions().ignore_index(-100)},
      {w + " label_smoothing: 0.1 ignore_index: -100",
       F::CrossEntropyFuncOptions().weight(weights_).label_smoothing(0.1).ignore_index(-100)},
      {" reduction: REDUCTION_SUM ignore_index: -100 label_smoothing: 0.3",
       F::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(-100).label_smoothing(0.3)},
      {" reduction: REDUCTION_NONE ignore_index: -100" + w,
       F::CrossEntropyFuncOptions().reduction(torch::kNone).ignore_index(-100).weight(weights_)},
  };
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.spec);
    const bool ignores = v.spec.find("ignore_index") != std::string::npos;
    const torch::Tensor targets = ignores ? targets_ : targets_.clamp_min(0);
    const LossAndGrad expected = RunWithGrad(logits_, [&](const torch::Tensor& z) {
      return F::cross_entropy(z, targets, v.torch_options);
    });
    for (const char* form :
         {"poly1 { epsilon: 0 }", "cross_entropy {}", "poly_n { epsilons: [0, 0, 0] }"}) {
      const PolyLoss op(Config(std::string(form) + v.spec));
      const LossAndGrad fused =
          RunWithGrad(logits_, [&](const torch::Tensor& z) { return op(z, targets); });
      ExpectClose(fused.loss, expected.loss);
      ExpectClose(fused.grad, expected.grad);
    }
  }
}

TEST_F(PolyLossTest, PolyFocalWithEpsilonZeroEqualsFocalClosedForm) {
  const torch::Tensor targets = targets_.clamp_min(0);
  for (double gamma : {0.5, 2.0}) {
    const auto focal = [&](const torch::Tensor& z) {
      const torch::Tensor log_pt = torch::log_softmax(z, 1).gather(1, targets.unsqueeze(1));
      return (-torch::pow(1 - log_pt.exp(), gamma) * log_pt).mean();
    };
    const LossAndGrad expected = RunWithGrad(logits_, focal);
    const PolyLoss op(Config("poly_focal { gamma: " + std::to_string(gamma) + " epsilons: [0] }"));
    const LossAndGrad fused =
        RunWithGrad(logits_, [&](const torch::Tensor& z) { return op(z, targets); });
    ExpectClose(fused.loss, expected.loss);
    ExpectClose(fused.grad, expected.grad);
  }
}

TEST_F(PolyLossTest, DropApproachesCrossEntropyAndTheGapIsTheTail) {
  const torch::Tensor targets = targets_.clamp_min(0);
  // Moderate logits keep every x <= 0.99, so the reference tail below converges.
  const torch::Tensor logits = logits_ / 3;
  const PolyLoss ce(Config("cross_entropy { } reduction: REDUCTION_NONE"));
  const torch::Tensor ce_loss = ce(logits, targets);
  const torch::Tensor x = 1 - torch::softmax(logits, 1).gather(1, targets.unsqueeze(1)).squeeze(1);
  ASSERT_LT(x.max().item<double>(), 0.99);
  double previous = 1e300;
  for (int n : {1, 10, 100, 1000}) {
    const PolyLoss drop(Config("drop { n: " + std::to_string(n) + " } reduction: REDUCTION_NONE"));
    const torch::Tensor gap = ce_loss - drop(logits, targets);
    torch::Tensor tail = torch::zeros_like(x);
    for (int j = n + 1; j <= n + 20000; ++j) tail += torch::pow(x, j) / j;
    ExpectClose(gap, tail, 1e-12);
    const double max_gap = gap.max().item<double>();
    EXPECT_LT(max_gap, previous);
    previous = max_gap;
  }
}

TEST_F(PolyLossTest, ScalarEvaluationMatchesTheTensorOp) {
  const torch::Tensor targets = targets_.clamp_min(0);
  for (const char* spec :
       {"poly1 { epsilon: 2 }", "poly_focal { gamma: 0.5 epsilons: [1, -0.3, 0.2] }",
        "drop { n: 50 }", "coefficients { alpha: [0.1, 2, 0.5] gamma: 1.5 }"}) {
    SCOPED_TRACE(spec);
    const LossConfig config = Config(std::string(spec) + " reduction: REDUCTION_NONE");
    const torch::Tensor pt = torch::softmax(logits_, 1).gather(1, targets.unsqueeze(1)).squeeze(1);
    std::vector<double> pts(pt.data_ptr<double>(), pt.data_ptr<double>() + pt.numel());
    const std::vector<CurvePoint> curve = EvaluateCurve(config.series, pts);
    const LossAndGrad fused =
        RunWithGrad(logits_, [&](const torch::Tensor& z) { return PolyLoss(config)(z, targets); });
    for (int64_t i = 0; i < pt.numel(); ++i) {
      EXPECT_NEAR(fused.loss[i].item<double>(), curve[i].loss, 1e-12 * (1 + curve[i].loss));
      // dL/dz_target = L'(pt) pt (1 - pt): the one-scalar-per-sample structure.
      const double expected = curve[i].dloss_dpt * pts[i] * (1 - pts[i]);
      EXPECT_NEAR(fused.grad[i][targets[i].item<int64_t>()].item<double>(), expected,
                  1e-10 * (1 + std::fabs(expected)));
    }
  }
}

TEST_F(PolyLossTest, EveryTargetIgnoredGivesZeroNotNaN) {
  const PolyLoss op(Config("poly1 { epsilon: 1 } ignore_index: -100"));
  const torch::Tensor y = torch::full({16}, -100, torch::kLong);
  const LossAndGrad r = RunWithGrad(logits_, [&](const torch::Tensor& z) { return op(z, y); });
  EXPECT_EQ(r.loss.item<double>(), 0.0);
  EXPECT_EQ(r.grad.abs().max().item<double>(), 0.0);
}

// An ignored row's loss is 0 whatever its logits: a NaN there leaves the batch's loss that of the
// other rows, on either path (the device path multiplied by 0, and 0 * NaN ended the whole loss).
TEST_F(PolyLossTest, ANaNLogitInAnIgnoredRowLeavesTheLossFinite) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const torch::Tensor z = torch::tensor({{nan, 1.0, 0.5}, {0.0, 1.0, 2.0}}, torch::kDouble);
  const PolyLoss softmax(Config("poly1 { epsilon: 2 } ignore_index: 0"));
  const torch::Tensor both = softmax(z, torch::tensor({0, 2}, torch::kLong));
  const torch::Tensor alone = softmax(z.slice(0, 1), torch::tensor({2}, torch::kLong));
  EXPECT_TRUE(std::isfinite(both.item<double>()));
  EXPECT_DOUBLE_EQ(both.item<double>(), alone.item<double>());
  const PolyLoss sigmoid(
      Config("poly1 { epsilon: 2 } activation: ACTIVATION_SIGMOID ignore_index: -1"));
  const torch::Tensor y = torch::tensor({{-1.0, 1.0, 0.0}, {0.0, 1.0, 1.0}}, torch::kDouble);
  EXPECT_TRUE(std::isfinite(sigmoid(z, y).item<double>()));
}

// A NaN logit in a row that counts makes the loss NaN, so that the trainer sees its diverged step:
// also for a loss whose first coefficient is negative, whose hard-target sum (HardTargetLoss)
// works from x, which the softmax kernel clamps to 0 from NaN.
TEST_F(PolyLossTest, ANaNLogitInACountedRowMakesTheLossNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const torch::Tensor z = torch::tensor({{nan, 1.0, 0.5}, {0.0, 1.0, 2.0}}, torch::kDouble);
  const torch::Tensor y = torch::tensor({{1.0, 0.0, 0.0}, {0.0, 1.0, 1.0}}, torch::kDouble);
  for (const char* loss : {"poly1 { epsilon: 2 }", "poly1 { epsilon: -1 }",
                           "poly1 { epsilon: -0.5 } class_weights: [1, 2, 3]"}) {
    SCOPED_TRACE(loss);
    for (KernelPath path : {KernelPath::kHost, KernelPath::kDevice}) {
      const PolyLoss softmax(Config(loss), path);
      EXPECT_TRUE(std::isnan(softmax(z, torch::tensor({0, 2}, torch::kLong)).item<double>()));
      const PolyLoss sigmoid(Config(std::string(loss) + " activation: ACTIVATION_SIGMOID"), path);
      EXPECT_TRUE(std::isnan(sigmoid(z, y).item<double>()));
    }
  }
}

TEST_F(PolyLossTest, ResultsDoNotDependOnThreadCount) {
  // The host kernel's promise (its chunk sums are added in order); ATen's own reductions, which
  // the device path uses, make none.
  const PolyLoss op(Config("poly_focal { gamma: 2 epsilons: [1] } activation: ACTIVATION_SIGMOID"),
                    KernelPath::kHost);
  const torch::Tensor z = torch::randn({300, 97}, torch::kFloat);
  const torch::Tensor y = torch::rand({300, 97}).lt(0.1).to(torch::kFloat);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const LossAndGrad one = RunWithGrad(z, [&](const torch::Tensor& v) { return op(v, y); });
  torch::set_num_threads(2);
  const LossAndGrad two = RunWithGrad(z, [&](const torch::Tensor& v) { return op(v, y); });
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.loss, two.loss));
  EXPECT_TRUE(torch::equal(one.grad, two.grad));
}

TEST_F(PolyLossTest, SigmoidLanesChunksAndTailsAgreeWithTheDevicePath) {
  // The host kernel works in chunks of 2048 elements, four lanes at a time: 3 x 2731 = 8193
  // elements are four whole chunks and a one-element tail. Every element is checked against the
  // device path (plain tensor ops), ignored targets and the class weights' wrap included.
  const torch::Tensor z = torch::randn({3, 2731}, torch::kDouble) * 4;
  torch::Tensor y = torch::rand({3, 2731}, torch::kDouble).lt(0.2).to(torch::kDouble);
  y[0][5] = -1;
  y[2][2730] = -1;
  y[1][17] = 0.25;
  std::vector<double> weights(2731);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 0.5 + (i % 7) * 0.25;
  for (const std::string reduction : {"REDUCTION_MEAN", "REDUCTION_NONE"}) {
    SCOPED_TRACE(reduction);
    LossConfig config = Config(
        "poly_focal { gamma: 2 epsilons: [1, 0.5] } activation: "
        "ACTIVATION_SIGMOID alpha: 0.25 ignore_index: -1 label_smoothing: "
        "0.05 reduction: " +
        reduction);
    config.class_weights = weights;
    const PolyLoss host(config, KernelPath::kHost), device(config, KernelPath::kDevice);
    const LossAndGrad h = RunWithGrad(z, [&](const torch::Tensor& v) { return host(v, y); });
    const LossAndGrad d = RunWithGrad(z, [&](const torch::Tensor& v) { return device(v, y); });
    ExpectClose(h.loss, d.loss);
    ExpectClose(h.grad, d.grad);
    EXPECT_EQ(h.grad[2][2730].item<double>(), 0.0);  // the tail element is ignored
    EXPECT_NE(h.grad[2][2729].item<double>(), 0.0);
  }
  // A bad target in the tail is found and named.
  y = y.clamp_min(0);
  y[2][2730] = 2;
  const PolyLoss op(Config("poly1 { epsilon: 1 } activation: ACTIVATION_SIGMOID"),
                    KernelPath::kHost);
  try {
    op(z, y);
    ADD_FAILURE() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("sigmoid target 2 at element 8192 is outside [0, 1]"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(PolyLossTest, BadInputsAreClearErrors) {
  const PolyLoss op(Config("poly1 { epsilon: 1 }"));
  auto message = [](const std::function<void()>& fn) -> std::string {
    try {
      fn();
    } catch (const c10::Error& e) {
      return e.what_without_backtrace();
    }
    return "no error";
  };
  EXPECT_NE(message([&] {
              op(logits_, torch::tensor({0, 7}, torch::kLong));
            }).find("softmax targets must be [batch] class indices"),
            std::string::npos);
  // Targets out of range: the host path names the row; the device path checks on the device
  // without reading a value back, as torch's losses do on CUDA, and names nothing.
  const bool host = !op.RunsOnDevice(logits_);
  const std::string out_of_range = host ? "target 6 at row 0 is outside [0, 6)" : "";
  EXPECT_NE(message([&] { op(logits_, torch::full({16}, 6, torch::kLong)); }), "no error");
  EXPECT_NE(message([&] { op(logits_, torch::full({16}, 6, torch::kLong)); }).find(out_of_range),
            std::string::npos);
  // -100 is a class index unless ignore_index says otherwise.
  EXPECT_NE(message([&] { op(logits_, targets_); }), "no error");
  if (host) {
    EXPECT_NE(message([&] { op(logits_, targets_); }).find("target -100 at row 3"),
              std::string::npos);
  }
  EXPECT_NE(message([&] { op(logits_, targets_.to(torch::kDouble)); }).find("must be int64"),
            std::string::npos);
  EXPECT_NE(message([&] {
              op(logits_.to(torch::kLong), targets_);
            }).find("logits must be float32 or float64"),
            std::string::npos);
  EXPECT_NE(
      message([&] { op(logits_.view({-1}), targets_); }).find("logits must be [batch, classes]"),
      std::string::npos);
  const PolyLoss weighted(Config("cross_entropy {} class_weights: [1, 2]"));
  EXPECT_NE(message([&] {
              weighted(logits_, targets_.clamp_min(0));
            }).find("class_weights has 2 entries but logits have 6 classes"),
            std::string::npos);
  const PolyLoss sigmoid(Config("focal { gamma: 2 } activation: ACTIVATION_SIGMOID"));
  EXPECT_NE(message([&] { sigmoid(logits_, torch::full({16, 6}, 1.5)); }), "no error");
  if (host) {
    EXPECT_NE(message([&] {
                sigmoid(logits_, torch::full({16, 6}, 1.5));
              }).find("sigmoid target 1.5 at element 0 is outside [0, 1]"),
              std::string::npos);
  }
  EXPECT_NE(message([&] {
              sigmoid(logits_, torch::zeros({16, 5}));
            }).find("sigmoid targets must have the logits' shape"),
            std::string::npos);
}

// The PolyLoss paper's own code (its poly1_focal_loss) weighs the focal term by alpha_t and adds
// the Poly-1 term unweighted:
//   pt = y p + (1 - y)(1 - p),  FL = alpha_t * ce * (1 - pt)^gamma,  L = FL + eps (1 -
//   pt)^(gamma+1)
// ALPHA_BALANCE_CE_TERM_ONLY is that formula on every path; the default weighs the whole loss.
TEST_F(PolyLossTest, ThePapersAlphaConventionIsItsFormula) {
  const torch::Tensor z = torch::randn({8, 5}, torch::kDouble) * 3;
  const torch::Tensor y = torch::rand({8, 5}, torch::kDouble).lt(0.3).to(torch::kDouble);
  // The paper's detection runs take epsilon = -1 too, where its formula goes below 0 for
  // confident elements (alpha_t + epsilon < 0): that is the loss, not rounding to clamp away.
  for (const double epsilon : {1.5, -1.0}) {
    SCOPED_TRACE(epsilon);
    const double gamma = 2, alpha = 0.25;
    auto paper = [&](const torch::Tensor& logits, bool balance_all) {
      const torch::Tensor p = torch::sigmoid(logits);
      const torch::Tensor ce =
          torch::binary_cross_entropy_with_logits(logits, y, {}, {}, at::Reduction::None);
      const torch::Tensor pt = y * p + (1 - y) * (1 - p);
      const torch::Tensor alpha_t = alpha * y + (1 - alpha) * (1 - y);
      const torch::Tensor focal = alpha_t * ce * torch::pow(1 - pt, gamma);
      const torch::Tensor poly1 = epsilon * torch::pow(1 - pt, gamma + 1);
      return focal + (balance_all ? alpha_t * poly1 : poly1);
    };
    const std::string spec = "poly_focal { gamma: 2 epsilons: [" + std::to_string(epsilon) +
                             "] } activation: ACTIVATION_SIGMOID alpha: 0.25 "
                             "reduction: REDUCTION_NONE";
    const LossConfig papers = Config(spec + " alpha_balance: ALPHA_BALANCE_CE_TERM_ONLY");
    const LossConfig ours = Config(spec);
    EXPECT_TRUE(papers.alpha_on_ce_only);
    if (epsilon > 0) {
      EXPECT_EQ(ShortName(papers), "sigmoid_poly1_focal(g=2,e=1.5),a=0.25@ce,none");
      EXPECT_EQ(ShortName(ours), "sigmoid_poly1_focal(g=2,e=1.5),a=0.25,none");
    } else {
      EXPECT_LT(paper(z * 10, false).min().item<double>(), -1e-6);  // below 0 by far
    }
    for (const bool balance_all : {false, true}) {
      SCOPED_TRACE(balance_all ? "whole loss" : "paper's convention");
      const LossConfig& config = balance_all ? ours : papers;
      const LossAndGrad expected =
          RunWithGrad(z, [&](const torch::Tensor& v) { return paper(v, balance_all); });
      for (const KernelPath path : {KernelPath::kHost, KernelPath::kDevice}) {
        const PolyLoss op(config, path);
        const LossAndGrad got = RunWithGrad(z, [&](const torch::Tensor& v) { return op(v, y); });
        ExpectClose(got.loss, expected.loss);
        ExpectClose(got.grad, expected.grad);
      }
      ExpectClose(NaivePolyLoss(config, z, y), expected.loss);
      // Confident logits: where the paper's formula is negative, so is the loss.
      const torch::Tensor sure = z * 10;
      const LossAndGrad formula =
          RunWithGrad(sure, [&](const torch::Tensor& v) { return paper(v, balance_all); });
      for (const KernelPath path : {KernelPath::kHost, KernelPath::kDevice}) {
        const PolyLoss op(config, path);
        const LossAndGrad got = RunWithGrad(sure, [&](const torch::Tensor& v) { return op(v, y); });
        ExpectClose(got.loss, formula.loss);
        ExpectClose(got.grad, formula.grad);
      }
    }
    // The two conventions differ wherever epsilon's term counts.
    EXPECT_GT((paper(z, true) - paper(z, false)).abs().max().item<double>(), 1e-3);
  }
}

TEST_F(PolyLossTest, SmoothingWithUnequalClassWeightsIsItsFormulaBelowZeroToo) {
  // The smoothed, weighted cross-entropy lacks the floor s (C - 1) / C that x has: with
  // epsilon = -1 the formula goes below 0, and the loss and its gradient are the formula's.
  const torch::Tensor z =
      torch::tensor({5.0, 0.0, 0.0, 1.0, 0.0, 0.0, -2.0, 3.0, 0.5}, torch::kDouble).view({3, 3});
  const torch::Tensor t = torch::tensor({0, 0, 1}, torch::kLong);
  const torch::Tensor w = torch::tensor({1.0, 0.0, 0.0}, torch::kDouble);
  const double s = 0.3, c = 3, epsilon = -1;
  auto formula = [&](const torch::Tensor& logits) {
    const torch::Tensor lp = torch::log_softmax(logits, 1);
    const torch::Tensor lp_t = lp.gather(1, t.view({-1, 1})).squeeze(1);
    const torch::Tensor w_t = w.index_select(0, t);
    const torch::Tensor ce = -(1 - s) * w_t * lp_t - s / c * lp.matmul(w);
    const torch::Tensor x = (1 - s) * (1 - lp_t.exp()) + s * (c - 1) / c;
    return ce + w_t * epsilon * x;
  };
  const LossAndGrad expected = RunWithGrad(z, formula);
  ASSERT_LT(expected.loss[0].item<double>(), -0.1);  // -0.1986: the case the clamp hid
  const LossConfig config = Config(
      "poly1 { epsilon: -1 } label_smoothing: 0.3 class_weights: [1, 0, 0] "
      "reduction: REDUCTION_NONE");
  for (const KernelPath path : {KernelPath::kHost, KernelPath::kDevice}) {
    const PolyLoss op(config, path);
    const LossAndGrad got = RunWithGrad(z, [&](const torch::Tensor& v) { return op(v, t); });
    ExpectClose(got.loss, expected.loss);
    ExpectClose(got.grad, expected.grad);
  }
}

TEST_F(PolyLossTest, TheDevicePathAgreesWithTheHostPath) {
  // Both paths on the same CPU tensors, whatever POLYTRAIN_LOSS_PATH says: float64 to rounding,
  // float32 to float32's.
  const torch::Tensor targets = targets_.clamp_min(0);
  const torch::Tensor multi = torch::rand({16, 6}).lt(0.3).to(torch::kDouble);
  for (const char* spec :
       {"cross_entropy {}", "poly1 { epsilon: 2 } label_smoothing: 0.1",
        "poly_focal { gamma: 0.5 epsilons: [1, -0.25] } class_weights: [0.5, 1, 2, 0, 1.5, 3]",
        "drop { n: 1000 }",
        "poly_n { epsilons: [1, 0.5, 0.25, 0.1, 0.05] } reduction: REDUCTION_SUM",
        "focal { gamma: 2 } ignore_index: -100 reduction: REDUCTION_NONE",
        "poly_focal { gamma: 2 epsilons: [1] } activation: ACTIVATION_SIGMOID alpha: 0.25",
        "poly1 { epsilon: 1 } activation: ACTIVATION_SIGMOID label_smoothing: 0.1 "
        "class_weights: [0.5, 1, 2, 0, 1.5, 3]"}) {
    SCOPED_TRACE(spec);
    const LossConfig config = Config(spec);
    const bool sigmoid = config.activation == Activation::kSigmoid;
    const torch::Tensor y = sigmoid ? multi : (config.ignore_index ? targets_ : targets);
    const PolyLoss host(config, KernelPath::kHost), device(config, KernelPath::kDevice);
    EXPECT_TRUE(device.RunsOnDevice(logits_));
    EXPECT_FALSE(host.RunsOnDevice(logits_));
    for (auto dtype : {torch::kDouble, torch::kFloat}) {
      const torch::Tensor z = logits_.to(dtype);
      const torch::Tensor targets_as = sigmoid ? y.to(dtype) : y;
      const LossAndGrad h =
          RunWithGrad(z, [&](const torch::Tensor& v) { return host(v, targets_as); });
      const LossAndGrad d =
          RunWithGrad(z, [&](const torch::Tensor& v) { return device(v, targets_as); });
      const double tolerance = dtype == torch::kDouble ? 1e-12 : 1e-5;
      ExpectClose(d.loss.to(torch::kDouble), h.loss.to(torch::kDouble), tolerance);
      ExpectClose(d.grad.to(torch::kDouble), h.grad.to(torch::kDouble), tolerance);
    }
  }
}

}  // namespace
}  // namespace polytrain::loss
