#include "worker/redial_backoff.h"

#include <algorithm>
#include <cmath>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(RedialBackoffTest, DoublesFromATenthOfASecondToFiveSeconds) {
  RedialBackoff backoff;
  const double expected[] = {0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0};
  for (double seconds : expected) EXPECT_DOUBLE_EQ(backoff.Next(5.0).count(), seconds);
  backoff.Reset();
  EXPECT_DOUBLE_EQ(backoff.Next(5.0).count(), 0.1);
}

TEST(RedialBackoffTest, NeverWaitsPastTheCoordinatorsHeartbeat) {
  // --lease_seconds 4: a heartbeat every 4/3 s. A restored job waits one lease for its worker,
  // so the worker must dial again well within it however long the coordinator was away.
  RedialBackoff backoff;
  double longest = 0;
  for (int i = 0; i < 20; ++i) longest = std::max(longest, backoff.Next(4.0 / 3).count());
  EXPECT_DOUBLE_EQ(longest, 4.0 / 3);
  // The bound follows the heartbeat of the latest Welcome, at once.
  EXPECT_DOUBLE_EQ(backoff.Next(0.5).count(), 0.5);
  EXPECT_DOUBLE_EQ(backoff.Next(30.0).count(), 5.0);
}

TEST(RedialBackoffTest, AHeartbeatThatMakesNoSenseLeavesTheFiveSecondBound) {
  RedialBackoff backoff;
  for (int i = 0; i < 10; ++i) backoff.Next(5.0);
  EXPECT_DOUBLE_EQ(backoff.Next(0.0).count(), 5.0);
  EXPECT_DOUBLE_EQ(backoff.Next(-1.0).count(), 5.0);
  EXPECT_DOUBLE_EQ(backoff.Next(std::nan("")).count(), 5.0);
  EXPECT_DOUBLE_EQ(backoff.Next(1e-9).count(), 0.1);  // never a busy loop
}

}  // namespace
}  // namespace polytrain
