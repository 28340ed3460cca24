// An evaluation's loss is the job's own loss over the split, divided as the job's reduction
// divides a batch's: checked against the loss op run on the whole split as one batch.
#include "worker/evaluation.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "loss/spec/loss_spec.h"

namespace polytrain {
namespace {

// Logits are the samples themselves: the loss depends on nothing but the split.
class IdentityModel : public TrainableModel {
 public:
  torch::Tensor Forward(const torch::Tensor& batch) override { return batch; }
  std::vector<torch::Tensor> Parameters() override { return {}; }
  std::vector<std::pair<std::string, torch::Tensor>> State() override { return {}; }
  void SetTraining(bool) override {}
  void To(const torch::Device&) override {}
  void Save(torch::serialize::OutputArchive&) override {}
  void Load(torch::serialize::InputArchive&) override {}
  std::string Describe() const override { return "identity"; }
};

loss::LossConfig Config(const std::string& text) {
  polytrain::v1::LossSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  absl::StatusOr<loss::LossConfig> config = loss::ToLossConfig(spec);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

TEST(EvaluationTest, TheLossIsTheJobsOwnOverTheSplitAsOneBatch) {
  constexpr int64_t kClasses = 4, kRows = 50;
  torch::manual_seed(3);
  Split split{torch::randn({kRows, kClasses}, torch::kFloat) * 3,
              torch::randint(0, kClasses, {kRows}, torch::kLong)};
  IdentityModel model;
  for (const char* text :
       {"cross_entropy {}", "cross_entropy {} class_weights: [0.2, 3, 1, 0.5]",
        "poly1 { epsilon: 2 } ignore_index: 1",
        "focal { gamma: 2 } class_weights: [0.2, 3, 1, 0.5] ignore_index: 0",
        "cross_entropy {} activation: ACTIVATION_SIGMOID",
        "focal { gamma: 1 } activation: ACTIVATION_SIGMOID ignore_index: 0",
        "cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: 1",
        "cross_entropy {} reduction: REDUCTION_SUM",
        "cross_entropy {} activation: ACTIVATION_SIGMOID reduction: REDUCTION_SUM"}) {
    const loss::LossConfig job = Config(text);
    loss::LossConfig none = job;
    none.reduction = loss::Reduction::kNone;
    EvalOptions options;
    options.batch_size = 7;  // several batches, the last one short
    options.reduction = job.reduction;
    const double evaluated =
        Evaluate(model, split, kClasses, loss::PolyLoss(none), options, "eval_").at("eval_loss");
    const torch::Tensor logits = split.x.to(torch::kDouble);
    const torch::Tensor targets = job.activation == loss::Activation::kSigmoid
                                      ? torch::one_hot(split.y, kClasses).to(torch::kDouble)
                                      : split.y;
    double expected = loss::PolyLoss(job)(logits, targets).item<double>();
    if (job.reduction == loss::Reduction::kSum) expected /= kRows;  // as the training loss
    EXPECT_NEAR(evaluated, expected, 1e-5 * expected) << text;
  }
}

// Losses near float32's largest: their mean fits, so evaluation (summing in double, as training
// reduces) reports it instead of an overflowed inf that calls the model diverged.
TEST(EvaluationTest, LargeFiniteLossesAreSummedWithoutOverflow) {
  Split split{torch::tensor({{1e38F, 0.0F}, {1e38F, 0.0F}, {1e38F, 0.0F}, {1e38F, 0.0F}}),
              torch::tensor({1, 1, 1, 1}, torch::kLong)};
  IdentityModel model;
  EvalOptions options;
  options.batch_size = 4;
  const double loss = Evaluate(model, split, 2,
                               loss::PolyLoss(Config("cross_entropy {} reduction: REDUCTION_NONE")),
                               options, "eval_")
                          .at("eval_loss");
  EXPECT_NEAR(loss, 1e38, 1e38 * 1e-6);
}

TEST(EvaluationTest, ASplitWhoseRowsAreAllIgnoredHasLossZero) {
  Split split{torch::randn({6, 3}), torch::full({6}, 2, torch::kLong)};
  IdentityModel model;
  EvalOptions options;
  const std::map<std::string, double> values =
      Evaluate(model, split, 3,
               loss::PolyLoss(Config("cross_entropy {} ignore_index: 2 reduction: "
                                     "REDUCTION_NONE")),
               options, "eval_");
  EXPECT_EQ(values.at("eval_loss"), 0.0);
  EXPECT_EQ(values.count("eval_accuracy"), 0u);  // no row to score: none, not a made-up 0
  EXPECT_EQ(values.count("eval_ece"), 0u);
}

// A sigmoid model confident in two classes predicts the larger logit, as training's accuracy
// does: in float32 both probabilities are 1.0, and the lower class won a tie. Its confidence is
// the float64 probability, so a nearly certain right answer is a calibrated one.
TEST(EvaluationTest, ConfidentSigmoidClassesAreToldApartByTheirLogits) {
  Split split{torch::tensor({{-5.0F, 17.0F, -5.0F, 18.0F}, {30.0F, 20.0F, -1.0F, -1.0F}}),
              torch::tensor({3, 0}, torch::kLong)};
  IdentityModel model;
  EvalOptions options;
  const std::map<std::string, double> values =
      Evaluate(model, split, 4,
               loss::PolyLoss(Config("focal { gamma: 2 } activation: ACTIVATION_SIGMOID "
                                     "reduction: REDUCTION_NONE")),
               options, "eval_");
  EXPECT_EQ(values.at("eval_accuracy"), 1.0);
  EXPECT_EQ(values.at("eval_class_accuracy/3"), 1.0);
  EXPECT_LT(values.at("eval_ece"), 1e-7);
}

// A tie goes to the lower class, and the calibration error is the confidence's gap to the
// accuracy, bin by bin: two rows at confidence 0.5 (one right) and two at 0.25 (both wrong).
TEST(EvaluationTest, ATieGoesToTheLowerClassAndEceIsTheGapToAccuracy) {
  Split split{torch::tensor({{0.0F, 0.0F, -100.0F, -100.0F},
                             {0.0F, 0.0F, -100.0F, -100.0F},
                             {0.0F, 0.0F, 0.0F, 0.0F},
                             {0.0F, 0.0F, 0.0F, 0.0F}}),
              torch::tensor({0, 1, 3, 2}, torch::kLong)};
  IdentityModel model;
  EvalOptions options;
  options.calibration_bins = 4;
  const std::map<std::string, double> values = Evaluate(
      model, split, 4, loss::PolyLoss(Config("cross_entropy {} reduction: REDUCTION_NONE")),
      options, "eval_");
  // Confidence 0.5 (or one ulp below it): 1 right of 2, |1 - 1| = 0; confidence 0.25: none
  // right of 2, |0 - 0.5| = 0.5 (in one bin or two, the sum is 0.5). ECE = 0.5 / 4 rows.
  EXPECT_NEAR(values.at("eval_ece"), 0.125, 1e-12);
  EXPECT_EQ(values.at("eval_accuracy"), 0.25);
}

// Accuracy, per-class accuracy and calibration score only the rows a softmax loss does not
// ignore (they have no target); eval_nll still covers every row.
TEST(EvaluationTest, IgnoredRowsAreNotScored) {
  // Rows 0 and 1 right (classes 0 and 1), row 2 wrong (class 0 predicted, labelled 1), row 3
  // labelled with the ignored class 2 and predicted 0.
  Split split{torch::tensor(
                  {{9.0F, 0.0F, 0.0F}, {0.0F, 9.0F, 0.0F}, {9.0F, 0.0F, 0.0F}, {9.0F, 0.0F, 0.0F}}),
              torch::tensor({0, 1, 1, 2}, torch::kLong)};
  IdentityModel model;
  EvalOptions options;
  const std::map<std::string, double> ignoring =
      Evaluate(model, split, 3,
               loss::PolyLoss(Config("cross_entropy {} ignore_index: 2 reduction: REDUCTION_NONE")),
               options, "eval_");
  EXPECT_DOUBLE_EQ(ignoring.at("eval_accuracy"), 2.0 / 3);
  EXPECT_EQ(ignoring.count("eval_class_accuracy/2"), 0u);
  const std::map<std::string, double> scoring_all = Evaluate(
      model, split, 3, loss::PolyLoss(Config("cross_entropy {} reduction: REDUCTION_NONE")),
      options, "eval_");
  EXPECT_DOUBLE_EQ(scoring_all.at("eval_accuracy"), 0.5);
  EXPECT_EQ(scoring_all.at("eval_class_accuracy/2"), 0.0);
  EXPECT_DOUBLE_EQ(ignoring.at("eval_nll"), scoring_all.at("eval_nll"));
  // Every confidence is p = e^9 / (e^9 + 2): ECE is |accuracy - p| over the rows scored.
  const double p = std::exp(9.0) / (std::exp(9.0) + 2.0);
  EXPECT_NEAR(ignoring.at("eval_ece"), p - 2.0 / 3, 1e-6);
}

// Multi-label targets are scored decision by decision (logit > 0 against target >= 0.5), the
// elements the loss ignores (-1 here) left out of every score.
TEST(EvaluationTest, MultiLabelTargetsAreScoredLabelByLabel) {
  const torch::Tensor logits =
      torch::tensor({{2.0F, -1.0F, 0.5F}, {-3.0F, 4.0F, 1.0F}, {1.0F, -1.0F, -2.0F}});
  const torch::Tensor targets =
      torch::tensor({{1.0F, 0.0F, 0.0F}, {0.0F, 1.0F, 1.0F}, {0.0F, -1.0F, 0.0F}});
  Split split{logits, targets};
  IdentityModel model;
  EvalOptions options;
  options.calibration_bins = 1;
  options.batch_size = 2;
  const loss::LossConfig job = Config(
      "cross_entropy {} activation: ACTIVATION_SIGMOID "
      "ignore_index: -1");
  loss::LossConfig none = job;
  none.reduction = loss::Reduction::kNone;
  const std::map<std::string, double> values =
      Evaluate(model, split, 3, loss::PolyLoss(none), options, "eval_");
  // Hits: row 0 labels 0 and 1, row 1 all three, row 2 label 2 (label 1 ignored, though its
  // decision matches the -1 read as a target): 6 of 8.
  EXPECT_DOUBLE_EQ(values.at("eval_accuracy"), 6.0 / 8);
  EXPECT_DOUBLE_EQ(values.at("eval_exact_match"), 1.0 / 3);
  // TP 3 (row 0 label 0, row 1 labels 1 and 2), FP 2 (row 0 label 2, row 2 label 0), FN 0.
  EXPECT_DOUBLE_EQ(values.at("eval_f1"), 6.0 / 8);
  EXPECT_DOUBLE_EQ(values.at("eval_class_accuracy/0"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(values.at("eval_class_accuracy/1"), 1.0);
  EXPECT_DOUBLE_EQ(values.at("eval_class_accuracy/2"), 2.0 / 3);
  // The float64 reference: BCE summed over the kept elements, per row; one calibration bin.
  const double z[3][3] = {{2, -1, 0.5}, {-3, 4, 1}, {1, -1, -2}};
  const double t[3][3] = {{1, 0, 0}, {0, 1, 1}, {0, -1, 0}};
  double bce = 0, confidence = 0;
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k) {
      if (t[i][k] < 0) continue;
      bce += std::log1p(std::exp(z[i][k])) - t[i][k] * z[i][k];
      confidence += 1 / (1 + std::exp(-std::fabs(z[i][k])));
    }
  }
  EXPECT_NEAR(values.at("eval_nll"), bce / 3, 1e-12);
  EXPECT_NEAR(values.at("eval_ece"), std::fabs(6 - confidence) / 8, 1e-12);
  // The loss is the job's own mean over the kept elements, as one batch of the op computes it.
  EXPECT_NEAR(values.at("eval_loss"), loss::PolyLoss(job)(logits, targets).item<double>(), 1e-6);
  // No label present nor predicted: every decision is right, and F1 is 1, not missing.
  const Split absent{torch::full({2, 3}, -4.0F), torch::zeros({2, 3})};
  const std::map<std::string, double> none_present =
      Evaluate(model, absent, 3, loss::PolyLoss(none), options, "eval_");
  EXPECT_EQ(none_present.at("eval_f1"), 1.0);
  EXPECT_EQ(none_present.at("eval_exact_match"), 1.0);
}

}  // namespace
}  // namespace polytrain
