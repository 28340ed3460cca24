#include "loss/spec/loss_spec.h"

#include <cmath>
#include <limits>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain::loss {
namespace {

using polytrain::v1::LossSpec;

LossSpec Parse(const std::string& text) {
  LossSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

void ExpectInvalid(const LossSpec& spec, const std::string& message, const std::string& path = "") {
  const absl::Status status = ValidateLossSpec(spec, path);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << spec.ShortDebugString();
  EXPECT_EQ(status.message(), message) << spec.ShortDebugString();
  EXPECT_FALSE(ToLossConfig(spec, path).ok());
}

PolySeries SeriesOf(const std::string& text) {
  absl::StatusOr<LossConfig> config = ToLossConfig(Parse(text));
  EXPECT_TRUE(config.ok()) << text << ": " << config.status();
  return config.ok() ? config->series : PolySeries{};
}

TEST(LossSpecTest, PresetsCanonicalizeToOneForm) {
  // epsilon = 0 is cross-entropy; an empty poly_focal is focal.
  EXPECT_EQ(SeriesOf("poly1 { epsilon: 0 }"), SeriesOf("cross_entropy {}"));
  EXPECT_EQ(SeriesOf("poly_n { epsilons: [0, 0, 0] }"), SeriesOf("cross_entropy {}"));
  EXPECT_EQ(SeriesOf("focal { gamma: 0 }"), SeriesOf("cross_entropy {}"));
  EXPECT_EQ(SeriesOf("poly_focal { gamma: 2 }"), SeriesOf("focal { gamma: 2 }"));
  EXPECT_EQ(SeriesOf("poly_focal { gamma: 2 epsilons: [0] }"), SeriesOf("focal { gamma: 2 }"));
  EXPECT_EQ(SeriesOf("poly_n { epsilons: [2] }"), SeriesOf("poly1 { epsilon: 2 }"));
  // The general form spells every preset.
  EXPECT_EQ(SeriesOf("coefficients { alpha: [1, 0.5, 0.3333333333333333] }"),
            SeriesOf("drop { n: 3 }"));
  EXPECT_EQ(SeriesOf("coefficients { alpha: [3] add_ce_tail: true }"),
            SeriesOf("poly1 { epsilon: 2 }"));
  EXPECT_EQ(SeriesOf("coefficients { alpha: [1] gamma: 2 add_ce_tail: true }"),
            SeriesOf("focal { gamma: 2 }"));

  const PolySeries poly_focal = SeriesOf("poly_focal { gamma: 2 epsilons: [1, 0.5] }");
  EXPECT_EQ(poly_focal.gamma, 2.0);
  EXPECT_TRUE(poly_focal.ce_tail);
  EXPECT_DOUBLE_EQ(poly_focal.Alpha(1), 2.0);
  EXPECT_DOUBLE_EQ(poly_focal.Alpha(2), 1.0);
  EXPECT_DOUBLE_EQ(poly_focal.Alpha(3), 1.0 / 3);
  const PolySeries drop = SeriesOf("drop { n: 4 }");
  EXPECT_FALSE(drop.ce_tail);
  EXPECT_EQ(drop.NumExtraTerms(), 4);
  EXPECT_EQ(drop.Alpha(5), 0.0);
}

TEST(LossSpecTest, OptionsCarryOver) {
  absl::StatusOr<LossConfig> config = ToLossConfig(Parse(R"(
    focal { gamma: 2 } activation: ACTIVATION_SIGMOID label_smoothing: 0.1
    class_weights: [1, 2] alpha: 0.25 ignore_index: -1 reduction: REDUCTION_SUM)"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->activation, Activation::kSigmoid);
  EXPECT_EQ(config->label_smoothing, 0.1);
  EXPECT_EQ(config->class_weights, (std::vector<double>{1, 2}));
  EXPECT_EQ(config->alpha, 0.25);
  EXPECT_EQ(config->ignore_index, -1);
  EXPECT_EQ(config->reduction, Reduction::kSum);

  absl::StatusOr<LossConfig> defaults = ToLossConfig(Parse("cross_entropy {}"));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->activation, Activation::kSoftmax);
  EXPECT_EQ(defaults->reduction, Reduction::kMean);
  EXPECT_FALSE(defaults->ignore_index.has_value());
  EXPECT_FALSE(defaults->alpha.has_value());
}

TEST(LossSpecTest, EveryFieldErrorNamesItsPath) {
  ExpectInvalid(LossSpec(),
                "form: no loss set: choose one of cross_entropy, focal, poly1, poly_n, "
                "poly_focal, drop, coefficients");
  ExpectInvalid(Parse("poly_n { epsilons: [1, 0, 0, -0.5] }"),
                "loss.poly_n.epsilons[3]: must be >= -1/4, got -0.5", "loss");
  ExpectInvalid(Parse("poly_n { epsilons: [-1.5] }"),
                "poly_n.epsilons[0]: must be >= -1, got -1.5");
  ExpectInvalid(Parse("poly_n {}"), "poly_n.epsilons: needs at least 1 entry, got 0");
  ExpectInvalid(Parse("poly_n { epsilons: [1001] }"),
                "poly_n.epsilons[0]: must be <= 1000, got 1001");
  ExpectInvalid(Parse("poly1 { epsilon: -1.01 }"), "poly1.epsilon: must be >= -1, got -1.01");
  // Just past a bound is printed in the digits that show it.
  ExpectInvalid(Parse("poly1 { epsilon: -1.0000000001 }"),
                "poly1.epsilon: must be >= -1, got -1.0000000001");
  ExpectInvalid(Parse("focal { gamma: 50.0000001 }"), "focal.gamma: must be <= 50, got 50.0000001");
  ExpectInvalid(Parse("focal { gamma: -0.5 }"), "focal.gamma: must be >= 0, got -0.5");
  ExpectInvalid(Parse("focal { gamma: 50.5 }"), "focal.gamma: must be <= 50, got 50.5");
  ExpectInvalid(Parse("poly_focal { gamma: 1 epsilons: [0, -0.6] }"),
                "poly_focal.epsilons[1]: must be >= -1/2, got -0.6");
  ExpectInvalid(Parse("poly_focal { gamma: -1 }"), "poly_focal.gamma: must be >= 0, got -1");
  ExpectInvalid(Parse("drop { n: 0 }"), "drop.n: must be in [1, 10000], got 0");
  ExpectInvalid(Parse("drop { n: 10001 }"), "drop.n: must be in [1, 10000], got 10001");
  ExpectInvalid(Parse("coefficients {}"), "coefficients.alpha: needs at least 1 entry, got 0");
  ExpectInvalid(Parse("coefficients { alpha: [1, -0.1] }"),
                "coefficients.alpha[1]: must be >= 0, got -0.1");
  ExpectInvalid(Parse("coefficients { alpha: [0, -0.0] }"),
                "coefficients.alpha: every alpha is 0 and add_ce_tail is off: the loss would be 0 "
                "for every input, and nothing would train");
  EXPECT_TRUE(ValidateLossSpec(Parse("coefficients { alpha: [0] add_ce_tail: true }")).ok());
  // Training's float32 has no such coefficient: 1e-50 would train as 0. Its smallest normal
  // number is the edge.
  ExpectInvalid(Parse("coefficients { alpha: [1, 1e-50] }"),
                "coefficients.alpha[1]: 1e-50 is below 1.1754943508222875e-38, float32's smallest "
                "normal number (training runs in float32, where it would be 0 or lose its digits); "
                "use 0 or a larger value");
  EXPECT_TRUE(ValidateLossSpec(Parse("coefficients { alpha: [1.1754943508222875e-38] }")).ok());
  EXPECT_FALSE(ValidateLossSpec(Parse("coefficients { alpha: [1.1754943508222874e-38] }")).ok());
  ExpectInvalid(Parse("coefficients { alpha: [1] gamma: 51 }"),
                "coefficients.gamma: must be <= 50, got 51");
  ExpectInvalid(Parse("cross_entropy {} label_smoothing: 1"),
                "label_smoothing: must be in [0, 1), got 1");
  ExpectInvalid(Parse("cross_entropy {} label_smoothing: -0.1"),
                "label_smoothing: must be in [0, 1), got -0.1");
  // A value next to a limit is printed with the digits that tell it from the limit.
  ExpectInvalid(Parse("cross_entropy {} label_smoothing: 1.0000000001"),
                "label_smoothing: must be in [0, 1), got 1.0000000001");
  ExpectInvalid(Parse("cross_entropy {} class_weights: [9.9999999e-13]"),
                "class_weights[0]: must be 0 or at least 1e-12, got 9.9999999e-13");
  ExpectInvalid(Parse("cross_entropy {} class_weights: [1, -2]"),
                "class_weights[1]: must be >= 0, got -2");
  ExpectInvalid(Parse("cross_entropy {} class_weights: [0, 0]"),
                "class_weights: at least one weight must be > 0");
  ExpectInvalid(Parse("cross_entropy {} class_weights: [1, 2e6]"),
                "class_weights[1]: must be <= 1e+06, got 2e+06");
  // Above 0 but so small that a batch's weights would underflow float32: refused.
  ExpectInvalid(Parse("cross_entropy {} class_weights: [1, 9.99e-13]"),
                "class_weights[1]: must be 0 or at least 1e-12, got 9.99e-13");
  ExpectInvalid(Parse("poly1 { epsilon: 2 } class_weights: [5e-324, 0, 1]"),
                "class_weights[0]: must be 0 or at least 1e-12, got 4.94066e-324");
  EXPECT_TRUE(ToLossConfig(Parse("cross_entropy {} class_weights: [1e-12, 0, 1e6]")).ok());
  ExpectInvalid(
      Parse("cross_entropy {} alpha: 0.25"),
      "alpha: alpha-balance applies to activation ACTIVATION_SIGMOID only (a softmax loss "
      "weighs classes with class_weights)");
  ExpectInvalid(Parse("cross_entropy {} activation: ACTIVATION_SIGMOID alpha: 1.5"),
                "alpha: must be <= 1, got 1.5");
  ExpectInvalid(Parse("focal { gamma: 2 } activation: ACTIVATION_SIGMOID "
                      "alpha_balance: ALPHA_BALANCE_CE_TERM_ONLY"),
                "alpha_balance: set alpha too: there is no balance");
  ExpectInvalid(
      Parse("cross_entropy {} alpha_balance: ALPHA_BALANCE_WHOLE_LOSS"),
      "alpha_balance: alpha-balance applies to activation ACTIVATION_SIGMOID only (a softmax loss "
      "weighs classes with class_weights)");
  LossSpec balance = Parse("focal { gamma: 2 } activation: ACTIVATION_SIGMOID alpha: 0.25");
  balance.set_alpha_balance(static_cast<polytrain::v1::AlphaBalance>(3));
  ExpectInvalid(balance, "alpha_balance: unknown value 3");
  balance.set_alpha_balance(polytrain::v1::ALPHA_BALANCE_WHOLE_LOSS);
  EXPECT_FALSE(ToLossConfig(balance)->alpha_on_ce_only);
  balance.set_alpha_balance(polytrain::v1::ALPHA_BALANCE_CE_TERM_ONLY);
  EXPECT_TRUE(ToLossConfig(balance)->alpha_on_ce_only);
  LossSpec bad_enum = Parse("cross_entropy {}");
  bad_enum.set_activation(static_cast<polytrain::v1::Activation>(7));
  ExpectInvalid(bad_enum, "activation: unknown value 7");
  bad_enum = Parse("cross_entropy {}");
  bad_enum.set_reduction(static_cast<polytrain::v1::Reduction>(-3));
  ExpectInvalid(bad_enum, "reduction: unknown value -3");
}

TEST(LossSpecTest, NonFiniteNumbersAreRefused) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  LossSpec spec;
  spec.mutable_poly1()->set_epsilon(nan);
  ExpectInvalid(spec, "poly1.epsilon: must be a finite number, got nan");
  spec.mutable_focal()->set_gamma(inf);
  ExpectInvalid(spec, "focal.gamma: must be a finite number, got inf");
  spec.mutable_poly_n()->add_epsilons(-inf);
  ExpectInvalid(spec, "poly_n.epsilons[0]: must be a finite number, got -inf");
  spec = Parse("cross_entropy {}");
  spec.set_label_smoothing(nan);
  ExpectInvalid(spec, "label_smoothing: must be a finite number, got nan");
  spec = Parse("cross_entropy {}");
  spec.add_class_weights(inf);
  ExpectInvalid(spec, "class_weights[0]: must be a finite number, got inf");
}

TEST(LossSpecTest, LimitsHoldExactlyAtTheirEdges) {
  // Smallest allowed epsilons make alpha_j exactly 0.
  LossSpec spec;
  for (int j = 1; j <= 4; ++j) spec.mutable_poly_n()->add_epsilons(-1.0 / j);
  EXPECT_TRUE(ValidateLossSpec(spec).ok());
  absl::StatusOr<LossConfig> config = ToLossConfig(spec);
  ASSERT_TRUE(config.ok());
  for (int j = 1; j <= 4; ++j) EXPECT_EQ(config->series.Alpha(j), 0.0);

  LossSpec many;
  for (int j = 0; j < kMaxPolyTerms; ++j) many.mutable_poly_n()->add_epsilons(0.5);
  EXPECT_TRUE(ValidateLossSpec(many).ok());
  many.mutable_poly_n()->add_epsilons(0.5);
  ExpectInvalid(many, "poly_n.epsilons: at most 10000 terms, got 10001");

  EXPECT_TRUE(ValidateLossSpec(Parse("drop { n: 10000 }")).ok());
  EXPECT_TRUE(ValidateLossSpec(Parse("focal { gamma: 50 }")).ok());
  EXPECT_TRUE(ValidateLossSpec(Parse("poly1 { epsilon: 1000 }")).ok());
  EXPECT_TRUE(ValidateLossSpec(Parse("cross_entropy {} label_smoothing: 0.999")).ok());
  EXPECT_TRUE(ValidateLossSpec(Parse("cross_entropy {} class_weights: [0, 1e6]")).ok());

  LossSpec weights = Parse("cross_entropy {}");
  for (int i = 0; i < kMaxClassWeights; ++i) weights.add_class_weights(1.0);
  EXPECT_TRUE(ValidateLossSpec(weights).ok());
  weights.add_class_weights(1.0);
  ExpectInvalid(weights, "class_weights: at most 100000 entries, got 100001");

  // A sigmoid loss's ignore_index is one its float32 targets hold exactly; a softmax loss's
  // targets are int64.
  for (const char* edge : {"16777216", "-16777216"}) {
    EXPECT_TRUE(
        ValidateLossSpec(
            Parse(std::string("cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: ") +
                  edge))
            .ok())
        << edge;
  }
  ExpectInvalid(Parse("cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: 16777217"),
                "ignore_index: a sigmoid loss compares it with float targets: use one in "
                "[-16777216, 16777216] (e.g. -1), got 16777217");
  ExpectInvalid(Parse("focal { gamma: 2 } activation: ACTIVATION_SIGMOID ignore_index: -16777217"),
                "ignore_index: a sigmoid loss compares it with float targets: use one in "
                "[-16777216, 16777216] (e.g. -1), got -16777217");
  EXPECT_TRUE(ValidateLossSpec(Parse("cross_entropy {} ignore_index: 9223372036854775807")).ok());
}

}  // namespace
}  // namespace polytrain::loss
