#include "client/loss_grid.h"

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
