#include "server/run_statistics.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(RunStatisticsTest, SummaryOfASample) {
  const SampleSummary s = Summarize({1.0, 2.0, 3.0, 4.0});
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(5.0 / 3.0));
  // t(0.975, 3) = 3.182446305284263 (tables).
  const double half = 3.182446305284263 * std::sqrt(5.0 / 3.0) / 2.0;
  EXPECT_NEAR(s.ci95_low, 2.5 - half, 1e-12);
  EXPECT_NEAR(s.ci95_high, 2.5 + half, 1e-12);
  const SampleSummary one = Summarize({0.9});
  EXPECT_TRUE(std::isnan(one.std));  // no spread to estimate from one run
  EXPECT_TRUE(std::isnan(one.ci95_low));
  // No runs: nothing to show (a table's "-", JSON's null), not a spread of 0.
  const SampleSummary none = Summarize({});
  EXPECT_TRUE(std::isnan(none.mean));
  EXPECT_TRUE(std::isnan(none.std));
}

TEST(RunStatisticsTest, WelchMatchesTheTextbookExample) {
  // Wikipedia's Welch's t-test example 1: t = -2.46, df = 24.9885, p = 0.021.
  const std::vector<double> a = {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1,
                                 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4};
  const std::vector<double> b = {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0,
                                 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4};
  EXPECT_NEAR(WelchTTestPValue(a, b), 0.021, 0.0005);
  EXPECT_NEAR(WelchTTestPValue(b, a), WelchTTestPValue(a, b), 1e-15);
  EXPECT_NEAR(WelchTTestPValue(a, a), 1.0, 1e-12);
}

TEST(RunStatisticsTest, DegenerateSamples) {
  EXPECT_TRUE(std::isnan(WelchTTestPValue({1.0}, {1.0, 2.0})));
  EXPECT_EQ(WelchTTestPValue({1.0, 1.0}, {1.0, 1.0}), 1.0);
  EXPECT_EQ(WelchTTestPValue({1.0, 1.0}, {2.0, 2.0}), 0.0);
  // An infinite value gives no test (Boost would throw on its NaN degrees of freedom).
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(std::isnan(WelchTTestPValue({1.0, inf}, {1.0, 2.0})));
  EXPECT_TRUE(std::isnan(Summarize({1.0, inf}).ci95_low));
}

}  // namespace
}  // namespace polytrain
