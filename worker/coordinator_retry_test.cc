#include "worker/coordinator_retry.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

// A backoff no test outlasts: a retry that goes on before it ends was woken, not timed out.
constexpr std::chrono::milliseconds kHour = std::chrono::hours(1);

CoordinatorRetry::Options Waits(std::chrono::milliseconds backoff) {
  CoordinatorRetry::Options options;
  options.first_backoff = backoff;
  options.max_backoff = backoff;
  options.give_up_after = std::chrono::hours(2);
  return options;
}

TEST(CoordinatorRetryTest, AReconnectEndsTheBackoffAtOnce) {
  CoordinatorRetry retry(Waits(kHour));
  absl::Notification first_try_failed;
  std::thread coordinator_back([&] {
    first_try_failed.WaitForNotification();
    retry.CoordinatorBack();
  });
  int tries = 0;
  const absl::Status s = retry.Run(
      "job-1",
      [&] {
        if (++tries == 1) {
          first_try_failed.Notify();
          return absl::UnavailableError("connection refused");
        }
        return absl::OkStatus();
      },
      [] { return false; });
  coordinator_back.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(tries, 2);
}

TEST(CoordinatorRetryTest, AReconnectDuringATrySendsTheNextOneWithoutWaiting) {
  // A restarted coordinator refuses the old session key; the stream was welcomed again while
  // that try was in flight, so the new key is there for the next one.
  CoordinatorRetry retry(Waits(kHour));
  int tries = 0;
  const absl::Status s = retry.Run(
      "job-1",
      [&] {
        if (++tries == 1) {
          retry.CoordinatorBack();
          return absl::DeadlineExceededError("slow");
        }
        return absl::OkStatus();
      },
      [] { return false; });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(tries, 2);
}

TEST(CoordinatorRetryTest, AStopEndsTheWaitWithTheLastStatus) {
  CoordinatorRetry retry(Waits(kHour));
  std::atomic<bool> cancelled{false};
  absl::Notification first_try_failed;
  std::thread cancel([&] {
    first_try_failed.WaitForNotification();
    cancelled = true;
    retry.Wake();
  });
  int tries = 0;
  const absl::Status s = retry.Run(
      "job-1",
      [&] {
        ++tries;
        first_try_failed.Notify();
        return absl::UnavailableError("connection refused");
      },
      [&] { return cancelled.load(); });
  cancel.join();
  EXPECT_EQ(s, absl::UnavailableError("connection refused"));
  EXPECT_EQ(tries, 1);
}

TEST(CoordinatorRetryTest, ARefusalOrAStopIsNotTriedAgain) {
  CoordinatorRetry retry(Waits(kHour));
  int tries = 0;
  EXPECT_EQ(retry.Run(
                "job-1",
                [&] {
                  ++tries;
                  return absl::InvalidArgumentError("name: too long");
                },
                [] { return false; }),
            absl::InvalidArgumentError("name: too long"));
  EXPECT_EQ(tries, 1);
  // Stopping: a CANCELLED status is this side's own cancel, and nothing is tried again.
  EXPECT_EQ(retry.Run(
                "job-1",
                [&] {
                  ++tries;
                  return absl::CancelledError("cancelled");
                },
                [] { return true; }),
            absl::CancelledError("cancelled"));
  EXPECT_EQ(tries, 2);
}

TEST(CoordinatorRetryTest, TriesUntilTheCoordinatorAnswersThenGivesUpAfterTheLimit) {
  CoordinatorRetry::Options options = Waits(std::chrono::milliseconds(1));
  CoordinatorRetry retry(options);
  int tries = 0;
  EXPECT_TRUE(
      retry
          .Run(
              "job-1",
              [&] { return ++tries < 4 ? absl::UnavailableError("down") : absl::OkStatus(); },
              [] { return false; })
          .ok());
  EXPECT_EQ(tries, 4);

  options.give_up_after = std::chrono::steady_clock::duration::zero();
  CoordinatorRetry impatient(options);
  tries = 0;
  EXPECT_EQ(impatient.Run(
                "job-1",
                [&] {
                  ++tries;
                  return absl::UnavailableError("down");
                },
                [] { return false; }),
            absl::UnavailableError("down"));
  EXPECT_EQ(tries, 1);
}

}  // namespace
}  // namespace polytrain
