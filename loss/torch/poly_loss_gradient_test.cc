// The fused backward against autograd on the naive term-by-term formula, across the family:
// every preset, N in {1, 3, 100, 1000}, gamma in {0, 0.5, 2}, smoothing, weights, ignore_index,
// soft targets, both activations and all reductions, in float64 (relative error <= 1e-10);
// plus a finite-difference check like torch's gradcheck.
#include <cmath>
#include <sstream>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "loss/spec/loss_spec.h"
#include "loss/torch/poly_loss.h"

namespace polytrain::loss {
namespace {

constexpr int64_t kBatch = 8;
constexpr int64_t kClasses = 5;

struct GradientCase {
  std::string form;
  std::string options;
  bool sigmoid = false;
  bool soft_targets = false;
  std::string reduction;

  std::string Spec() const {
    return form + options + (sigmoid ? " activation: ACTIVATION_SIGMOID" : "") +
           " reduction: " + reduction;
  }
};

std::string Epsilons(int n) {
  std::ostringstream out;
  out.precision(17);
  out << "[";
  for (int j = 1; j <= n; ++j) out << (j > 1 ? ", " : "") << std::cos(j) / j;  // >= -1/j
  out << "]";
  return out.str();
}

std::vector<std::string> Forms() {
  std::vector<std::string> forms = {"cross_entropy {}",
                                    "poly1 { epsilon: 2 }",
                                    "poly1 { epsilon: -1 }",
                                    "focal { gamma: 0.5 }",
                                    "focal { gamma: 2 }",
                                    "coefficients { alpha: [0.3, 0, 2] gamma: 0.5 }",
                                    "coefficients { alpha: [0.3, 0, 2] add_ce_tail: true }"};
  for (int n : {1, 3, 100, 1000}) {
    forms.push_back("poly_n { epsilons: " + Epsilons(n) + " }");
    forms.push_back("drop { n: " + std::to_string(n) + " }");
    for (const char* gamma : {"0", "0.5", "2"}) {
      forms.push_back("poly_focal { gamma: " + std::string(gamma) + " epsilons: " + Epsilons(n) +
                      " }");
    }
  }
  return forms;
}

std::vector<GradientCase> Cases() {
  const std::string weights = " class_weights: [0.5, 1, 2, 0, 1.5]";
  std::vector<GradientCase> cases;
  for (const std::string& form : Forms()) {
    for (const char* reduction : {"REDUCTION_MEAN", "REDUCTION_SUM", "REDUCTION_NONE"}) {
      for (bool sigmoid : {false, true}) {
        std::vector<std::string> options = {"", " label_smoothing: 0.15", weights,
                                            " ignore_index: -1",
                                            weights + " label_smoothing: 0.1 ignore_index: -1"};
        if (sigmoid) options.push_back(" alpha: 0.25" + weights);
        for (const std::string& option : options) {
          cases.push_back({form, option, sigmoid, false, reduction});
        }
        if (sigmoid) cases.push_back({form, " alpha: 0.75", true, true, reduction});
      }
    }
  }
  return cases;
}

LossConfig Config(const std::string& text) {
  polytrain::v1::LossSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  absl::StatusOr<LossConfig> config = ToLossConfig(spec);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

torch::Tensor Targets(const GradientCase& c) {
  if (!c.sigmoid) {
    torch::Tensor t = torch::randint(0, kClasses, {kBatch}, torch::kLong);
    if (c.options.find("ignore_index") != std::string::npos) t[2] = -1;
    return t;
  }
  torch::Tensor t = c.soft_targets ? torch::rand({kBatch, kClasses}, torch::kDouble)
                                   : torch::rand({kBatch, kClasses}).lt(0.3).to(torch::kDouble);
  if (c.options.find("ignore_index") != std::string::npos) t[1][3] = -1;
  return t;
}

double MaxRelativeError(const torch::Tensor& got, const torch::Tensor& want) {
  const double scale = std::max(1e-300, want.abs().max().item<double>());
  return (got - want).abs().max().item<double>() / scale;
}

class FusedVersusNaiveTest : public ::testing::TestWithParam<GradientCase> {};

TEST_P(FusedVersusNaiveTest, LossAndGradientMatch) {
  const GradientCase& c = GetParam();
  const LossConfig config = Config(c.Spec());
  torch::manual_seed(42);
  const torch::Tensor logits = torch::randn({kBatch, kClasses}, torch::kDouble) * 2;
  const torch::Tensor targets = Targets(c);

  torch::Tensor z_fused = logits.clone().requires_grad_(true);
  torch::Tensor fused = PolyLoss(config)(z_fused, targets);
  torch::Tensor z_naive = logits.clone().requires_grad_(true);
  torch::Tensor naive = NaivePolyLoss(config, z_naive, targets);
  // A non-uniform upstream gradient exercises the per-sample path of reduction none.
  const torch::Tensor upstream =
      fused.dim() == 0
          ? torch::scalar_tensor(1.7, torch::kDouble)
          : torch::linspace(0.5, 2.0, fused.numel(), torch::kDouble).view(fused.sizes());
  fused.backward(upstream);
  naive.backward(upstream);

  EXPECT_LE(MaxRelativeError(fused.detach(), naive.detach()), 1e-10) << c.Spec();
  EXPECT_LE(MaxRelativeError(z_fused.grad(), z_naive.grad()), 1e-10) << c.Spec() << "\n"
                                                                     << z_fused.grad() << "\n"
                                                                     << z_naive.grad();
  EXPECT_GT(z_fused.grad().abs().max().item<double>(), 0.0);
}

std::string CaseName(const ::testing::TestParamInfo<GradientCase>& info) {
  return "case" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Family, FusedVersusNaiveTest, ::testing::ValuesIn(Cases()), CaseName);

// Central differences on every logit, as torch.autograd.gradcheck does.
TEST(FiniteDifferenceTest, BackwardMatchesNumericalGradient) {
  for (const char* spec :
       {"poly1 { epsilon: 2 } reduction: REDUCTION_SUM",
        "poly_focal { gamma: 0.5 epsilons: [1, -0.3] } label_smoothing: 0.1 class_weights: "
        "[1, 2, 0.5, 1, 1]",
        "drop { n: 100 }",
        "focal { gamma: 2 } activation: ACTIVATION_SIGMOID alpha: 0.25 reduction: REDUCTION_SUM"}) {
    SCOPED_TRACE(spec);
    const LossConfig config = Config(spec);
    const PolyLoss op(config);
    torch::manual_seed(3);
    const torch::Tensor logits = torch::randn({4, kClasses}, torch::kDouble);
    const torch::Tensor targets = config.activation == Activation::kSigmoid
                                      ? torch::rand({4, kClasses}).lt(0.4).to(torch::kDouble)
                                      : torch::randint(0, kClasses, {4}, torch::kLong);
    torch::Tensor z = logits.clone().requires_grad_(true);
    op(z, targets).backward();
    const torch::Tensor analytic = z.grad();
    torch::Tensor numeric = torch::zeros_like(logits);
    const double h = 1e-6;
    for (int64_t i = 0; i < logits.size(0); ++i) {
      for (int64_t k = 0; k < logits.size(1); ++k) {
        torch::Tensor plus = logits.clone(), minus = logits.clone();
        plus[i][k] += h;
        minus[i][k] -= h;
        numeric[i][k] =
            (op(plus, targets).item<double>() - op(minus, targets).item<double>()) / (2 * h);
      }
    }
    EXPECT_LE(MaxRelativeError(analytic, numeric), 1e-7) << analytic << "\n" << numeric;
  }
}

}  // namespace
}  // namespace polytrain::loss
