// The checks of real-number options: what CLI::Range lets through (NaN) is refused, by the
// same message for every bad value.
#include "cli/command_line.h"

#include <string>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

std::string Check(const CLI::Validator& validator, std::string text) { return validator(text); }

TEST(FiniteRangeTest, OnlyAFiniteNumberWithinTheBoundsPasses) {
  const CLI::Validator days = FiniteRange(0.0, 36500.0);
  for (const char* good : {"0", "1e-9", "2.5", "36500"}) EXPECT_EQ(Check(days, good), "") << good;
  for (const char* bad : {"nan", "NaN", "inf", "-1", "36500.5", "1e400", "abc", ""}) {
    EXPECT_EQ(Check(days, bad), std::string("must be a number from 0 to 36500, got ") + bad) << bad;
  }
  EXPECT_EQ(Check(FiniteRange(0.05, 60.0), "0.01"), "must be a number from 0.05 to 60, got 0.01");
}

}  // namespace
}  // namespace polytrain
