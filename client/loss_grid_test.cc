#include "client/loss_grid.h"

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(LossGridTest, OneDimension) {
  absl::StatusOr<std::vector<polytrain::v1::LossSpec>> losses =
      ExpandLossGrid("poly1.epsilon=-1, 0,2");
  ASSERT_TRUE(losses.ok()) << losses.status();
  ASSERT_EQ(losses->size(), 3u);
  EXPECT_EQ((*losses)[0].poly1().epsilon(), -1);
  EXPECT_EQ((*losses)[2].poly1().epsilon(), 2);
}

TEST(LossGridTest, DimensionsMultiply) {
  absl::StatusOr<std::vector<polytrain::v1::LossSpec>> losses =
      ExpandLossGrid("poly_focal.gamma=1,2;poly_focal.epsilons=0,1,3");
  ASSERT_TRUE(losses.ok()) << losses.status();
  ASSERT_EQ(losses->size(), 6u);
  EXPECT_EQ((*losses)[0].poly_focal().gamma(), 1);
  EXPECT_EQ((*losses)[0].poly_focal().epsilons(0), 0);
  EXPECT_EQ((*losses)[5].poly_focal().gamma(), 2);
  EXPECT_EQ((*losses)[5].poly_focal().epsilons(0), 3);
}

// A grid varies the form; the base spec's loss options (a sigmoid activation, ignore_index,
// alpha, ...) stay on every loss, and its own form goes.
TEST(LossGridTest, EachLossKeepsTheBaseLossOptions) {
  polytrain::v1::LossSpec base;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: -1 alpha: 0.25 "
      "label_smoothing: 0.1",
      &base));
  absl::StatusOr<std::vector<polytrain::v1::LossSpec>> losses =
      ExpandLossGrid("focal.gamma=0,2", base);
  ASSERT_TRUE(losses.ok()) << losses.status();
  ASSERT_EQ(losses->size(), 2u);
  for (const polytrain::v1::LossSpec& loss : *losses) {
    EXPECT_EQ(loss.activation(), polytrain::v1::ACTIVATION_SIGMOID);
    EXPECT_EQ(loss.ignore_index(), -1);
    EXPECT_EQ(loss.alpha(), 0.25);
    EXPECT_EQ(loss.label_smoothing(), 0.1);
    EXPECT_FALSE(loss.has_cross_entropy());
  }
  EXPECT_EQ((*losses)[1].focal().gamma(), 2);
  // Options that do not fit (a softmax alpha) are the grid's error.
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString("alpha: 0.25", &base));  // softmax
  EXPECT_EQ(std::string(ExpandLossGrid("focal.gamma=0,2", base).status().message()),
            "--loss-grid 'focal.gamma=0,2': 'focal { gamma: 0 }' with the base's loss options: "
            "alpha: alpha-balance applies to activation ACTIVATION_SIGMOID only (a softmax loss "
            "weighs classes with class_weights)");
}

TEST(LossGridTest, ErrorsNameTheGrid) {
  EXPECT_EQ(ExpandLossGrid("poly1=1").status().message(),
            "--loss-grid 'poly1=1': each dimension reads PRESET.FIELD=V1,V2,... (e.g. "
            "poly1.epsilon=0,1,2)");
  EXPECT_EQ(ExpandLossGrid("poly1.epsilon=-2").status().message(),
            "--loss-grid 'poly1.epsilon=-2': 'poly1 { epsilon: -2 }': poly1.epsilon: must be >= "
            "-1, got -2");
  EXPECT_EQ(
      ExpandLossGrid("focal.gamma=1;poly1.epsilon=1").status().message(),
      "--loss-grid 'focal.gamma=1;poly1.epsilon=1': all dimensions must vary the same preset");
  EXPECT_NE(ExpandLossGrid("poly1.epslon=1").status().message().find("does not parse"),
            std::string::npos);
  // What a user moving from a hyperparameter sweep tries (probe DH) is said as such.
  EXPECT_EQ(ExpandLossGrid("label_smoothing=0,0.1").status().message(),
            "--loss-grid 'label_smoothing=0,0.1': 'label_smoothing' is an option of every loss, "
            "not a form's field: give one --loss per value (e.g. --loss 'cross_entropy {} "
            "label_smoothing: ...')");
  const std::string optimizer(
      ExpandLossGrid("optimizer.learning_rate=0.01,0.1").status().message());
  EXPECT_EQ(optimizer.rfind("--loss-grid 'optimizer.learning_rate=0.01,0.1': 'optimizer' is not "
                            "a loss form (one of: cross_entropy, ",
                            0),
            0u)
      << optimizer;
  EXPECT_NE(optimizer.find("A sweep varies the loss only: for other fields, sweep once per "
                           "value (--set FIELD=V) and compare the sweeps together (polyctl "
                           "compare ID...)"),
            std::string::npos)
      << optimizer;
  std::string many = "poly1.epsilon=";
  for (int i = 0; i < 101; ++i) many += (i ? "," : "") + std::to_string(i);
  const std::string refused(ExpandLossGrid(many).status().message());
  EXPECT_NE(refused.find("at most 100 losses, got 101"), std::string::npos);
  EXPECT_LT(refused.size(), 200u);  // the grid is quoted short, not echoed whole
  EXPECT_EQ(ExpandLossGrid("poly1.epsilon=1,,2").status().message(),
            "--loss-grid 'poly1.epsilon=1,,2': an empty value between commas");
  EXPECT_EQ(ExpandLossGrid("poly1.epsilon=1,").status().message(),
            "--loss-grid 'poly1.epsilon=1,': an empty value between commas");
}

}  // namespace
}  // namespace polytrain
