#include "server/successive_halving.h"

#include <cmath>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

using polytrain::v1::JOB_STATE_FAILED;
using polytrain::v1::JOB_STATE_PAUSED;
using polytrain::v1::JOB_STATE_QUEUED;
using polytrain::v1::JOB_STATE_RUNNING;
using polytrain::v1::JOB_STATE_STOPPED;
using polytrain::v1::JOB_STATE_SUCCEEDED;

TrialStanding T(polytrain::v1::JobState state, std::vector<double> values) {
  return TrialStanding{state, std::move(values)};
}

// Rungs 1, 2 with eta 2, six trials at rung 0: the best three go up. One of them fails at rung 1
// (it diverged): its place goes to the next best, so a search whose promoted trials fail still
// brings one to the full budget.
TEST(SuccessiveHalvingTest, ATrialThatFailsAfterGoingUpFreesItsPlace) {
  std::vector<TrialStanding> trials = {T(JOB_STATE_FAILED, {0.9}),  T(JOB_STATE_RUNNING, {0.8}),
                                       T(JOB_STATE_RUNNING, {0.7}), T(JOB_STATE_PAUSED, {0.6}),
                                       T(JOB_STATE_PAUSED, {0.5}),  T(JOB_STATE_PAUSED, {0.4})};
  HalvingDecision d = DecideHalving(trials, 2, 2, false);
  EXPECT_EQ(d.promote, std::vector<size_t>{3});
  // One that failed before reporting the rung never held a place there.
  trials[0] = T(JOB_STATE_FAILED, {});
  trials[3] = T(JOB_STATE_QUEUED, {0.6});
  d = DecideHalving(trials, 2, 2, false);  // 5 reported: floor(5/2) = 2 places, both taken
  EXPECT_TRUE(d.promote.empty());
}

TEST(SuccessiveHalvingTest, PromotesTheTopThirdOfWhatReachedTheRungSoFar) {
  // Rungs 1, 3, 9 with eta 3: two paused at rung 0 of 2 reported -> floor(2/3) = 0 go up.
  std::vector<TrialStanding> trials = {T(JOB_STATE_PAUSED, {0.5}), T(JOB_STATE_PAUSED, {0.7}),
                                       T(JOB_STATE_RUNNING, {}), T(JOB_STATE_QUEUED, {})};
  HalvingDecision d = DecideHalving(trials, 3, 3, false);
  EXPECT_TRUE(d.promote.empty());
  EXPECT_FALSE(d.finished);
  // A third report: the best of three goes up, the others wait.
  trials[2] = T(JOB_STATE_PAUSED, {0.6});
  d = DecideHalving(trials, 3, 3, false);
  EXPECT_EQ(d.promote, std::vector<size_t>{1});
  // Lower is better for a loss metric: the 0.5 one instead.
  d = DecideHalving(trials, 3, 3, true);
  EXPECT_EQ(d.promote, std::vector<size_t>{0});
  // Once promoted (queued at rung 1) it is not promoted again.
  trials[1] = T(JOB_STATE_QUEUED, {0.7});
  d = DecideHalving(trials, 3, 3, false);
  EXPECT_TRUE(d.promote.empty());
  EXPECT_FALSE(d.finished);
}

TEST(SuccessiveHalvingTest, ALateBetterTrialStillGoesUpAndTheTopRungNeverPromotes) {
  std::vector<TrialStanding> trials;
  for (double v : {0.1, 0.2, 0.3, 0.4, 0.5, 0.9}) trials.push_back(T(JOB_STATE_PAUSED, {v}));
  trials.push_back(T(JOB_STATE_RUNNING, {}));
  // 6 reported: floor(6/3) = 2, the 0.9 and the 0.5.
  HalvingDecision d = DecideHalving(trials, 2, 3, false);
  EXPECT_EQ(d.promote, (std::vector<size_t>{4, 5}));
  // At the top rung (2 rungs: 0 and the budget) a finished trial has succeeded; nothing goes on.
  trials = {T(JOB_STATE_SUCCEEDED, {0.9, 0.95}), T(JOB_STATE_STOPPED, {0.1})};
  d = DecideHalving(trials, 2, 3, false);
  EXPECT_TRUE(d.promote.empty());
  EXPECT_TRUE(d.finished);
  EXPECT_TRUE(d.stop.empty());
}

TEST(SuccessiveHalvingTest, WhenNothingRunsTheBestOfEachRungGoesOnSoOneReachesTheBudget) {
  // Two trials, eta 3: floor(2/3) = 0, but with nothing left to run ceil(2/3) = 1 goes up.
  std::vector<TrialStanding> trials = {T(JOB_STATE_PAUSED, {0.4}), T(JOB_STATE_PAUSED, {0.8})};
  HalvingDecision d = DecideHalving(trials, 3, 3, false);
  EXPECT_EQ(d.promote, std::vector<size_t>{1});
  EXPECT_FALSE(d.finished);
  trials[1] = T(JOB_STATE_PAUSED, {0.8, 0.85});  // it reached rung 1 and paused
  d = DecideHalving(trials, 3, 3, false);
  EXPECT_EQ(d.promote, std::vector<size_t>{1});
  trials[1] = T(JOB_STATE_SUCCEEDED, {0.8, 0.85, 0.9});
  d = DecideHalving(trials, 3, 3, false);
  EXPECT_TRUE(d.promote.empty());
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(d.stop, std::vector<size_t>{0});
}

TEST(SuccessiveHalvingTest, NaNRanksLastAndNeverGoesUp) {
  const double nan = std::nan("");
  std::vector<TrialStanding> trials = {T(JOB_STATE_PAUSED, {nan}), T(JOB_STATE_PAUSED, {nan}),
                                       T(JOB_STATE_PAUSED, {nan})};
  HalvingDecision d = DecideHalving(trials, 2, 3, false);
  EXPECT_TRUE(d.promote.empty());
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(d.stop.size(), 3u);
  trials.push_back(T(JOB_STATE_PAUSED, {0.1}));
  EXPECT_EQ(DecideHalving(trials, 2, 3, false).promote, std::vector<size_t>{3});
}

TEST(SuccessiveHalvingTest, RankingPrefersHigherRungsThenValues) {
  const std::vector<TrialStanding> trials = {
      T(JOB_STATE_STOPPED, {0.9}), T(JOB_STATE_SUCCEEDED, {0.5, 0.6}),
      T(JOB_STATE_STOPPED, {0.8, 0.7}), T(JOB_STATE_QUEUED, {})};
  EXPECT_EQ(RankTrials(trials, false), (std::vector<size_t>{2, 1, 0, 3}));
  EXPECT_EQ(RankTrials(trials, true), (std::vector<size_t>{1, 2, 0, 3}));
}

}  // namespace
}  // namespace polytrain
