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

TEST(IntegerRangeTest, OnlyAWholeNumberWithinTheBoundsPasses) {
  const CLI::Validator priority = IntegerRange(-1000, 1000);
  for (const char* good : {"-1000", "-1", "0", "7", "1000"}) {
    EXPECT_EQ(Check(priority, good), "") << good;
  }
  for (const char* bad :
       {"-1001", "1001", "abc", "", "-", "1e3", "1.0", "+5", " 5", "5 ", "99999999999999999999"}) {
    EXPECT_EQ(Check(priority, bad),
              std::string("must be a whole number in [-1000, 1000], got ") + bad)
        << bad;
  }
}

}  // namespace
}  // namespace polytrain
