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

namespace polytrain::loss {
namespace {

namespace F = torch::nn::functional;

LossConfig Config(const std::string& text) {
  polytrain::v1::LossSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  absl::StatusOr<LossConfig> config = ToLossConfig(spec);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

struct LossAndGrad {
  torch::Tensor loss;
  torch::Tensor grad;
};

template <typename Fn>
LossAndGrad RunWithGrad(const torch::Tensor& logits, Fn fn) {
  torch::Tensor z = logits.detach().clone().requires_grad_(true);
  torch::Tensor loss = fn(z);
  (loss.dim() == 0 ? loss : loss.sum()).backward();
  return {loss.detach(), z.grad()};
}

void ExpectClose(const torch::Tensor& a, const torch::Tensor& b, double rel = 1e-12) {
  ASSERT_EQ(a.sizes(), b.sizes());
  const double scale = std::max(1.0, b.abs().max().item<double>());
  EXPECT_LE((a - b).abs().max().item<double>(), rel * scale) << a << "\nvs\n" << b;
}

class PolyLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(7);
    logits_ = torch::randn({16, 6}, torch::kDouble) * 3;
    targets_ = torch::randint(0, 6, {16}, torch::kLong);
    targets_[3] = -100;
    targets_[9] = -100;
    weights_ = torch::tensor({0.5, 1.0, 2.0, 0.0, 1.5, 3.0}, torch::kDouble);
  }
  torch::Tensor logits_, targets_, weights_;
};

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
