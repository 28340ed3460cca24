#include "worker/lr_schedule.h"

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

polytrain::v1::ScheduleSpec Schedule(const std::string& text) {
  polytrain::v1::ScheduleSpec s;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &s));
  return s;
}

TEST(LrScheduleTest, ConstantWithWarmup) {
  const auto s = Schedule("warmup_steps: 4");
  EXPECT_DOUBLE_EQ(LearningRateAt(s, 1.0, 0, 100), 0.25);
  EXPECT_DOUBLE_EQ(LearningRateAt(s, 1.0, 3, 100), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateAt(s, 1.0, 99, 100), 1.0);
}

TEST(LrScheduleTest, StepDecay) {
  const auto s = Schedule("step { step_size: 10 gamma: 0.1 }");
  EXPECT_DOUBLE_EQ(LearningRateAt(s, 1.0, 9, 100), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateAt(s, 1.0, 10, 100), 0.1);
  EXPECT_NEAR(LearningRateAt(s, 1.0, 25, 100), 0.01, 1e-15);
}

TEST(LrScheduleTest, CosineFromPeakToFloor) {
  const auto s = Schedule("cosine { min_factor: 0.1 } warmup_steps: 10");
  EXPECT_DOUBLE_EQ(LearningRateAt(s, 2.0, 10, 111), 2.0);
  EXPECT_NEAR(LearningRateAt(s, 2.0, 60, 111), 1.1, 1e-12);  // halfway: mean of 2 and 0.2
  EXPECT_NEAR(LearningRateAt(s, 2.0, 110, 111), 0.2, 1e-12);
  // A decay of one step runs at the peak (its first step is its last), as job.proto says.
  EXPECT_DOUBLE_EQ(LearningRateAt(s, 2.0, 10, 11), 2.0);
  EXPECT_NEAR(LearningRateAt(s, 2.0, 11, 12), 0.2, 1e-12);  // of two: the second at the floor
}

}  // namespace
}  // namespace polytrain
