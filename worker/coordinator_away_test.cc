#include "worker/coordinator_away.h"

#include "absl/strings/str_cat.h"
#include "api/worker_messages.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(CoordinatorAwayTest, OutagesAndAnUnknownSessionKeyAreTriedAgain) {
  EXPECT_TRUE(IsCoordinatorAway(absl::UnavailableError("connection refused"), false));
  EXPECT_TRUE(IsCoordinatorAway(absl::DeadlineExceededError("slow"), false));
  EXPECT_TRUE(IsCoordinatorAway(absl::CancelledError("cut by the coordinator"), false));
  EXPECT_FALSE(IsCoordinatorAway(absl::CancelledError("this job's cancel"), true));
  // A coordinator that restarted refuses the old session's key until the worker's stream is
  // back (probe BL: the final checkpoint's upload gave up here, and the job succeeded without
  // it).
  EXPECT_TRUE(IsCoordinatorAway(
      absl::PermissionDeniedError(absl::StrCat(kUnknownSessionKeyRefusal, " (...)")), false));
}

TEST(CoordinatorAwayTest, ARefusalOfTheRequestIsFinal) {
  EXPECT_FALSE(IsCoordinatorAway(absl::OkStatus(), false));
  EXPECT_FALSE(IsCoordinatorAway(
      absl::PermissionDeniedError("path: job job-1 is not running on worker w1"), false));
  EXPECT_FALSE(IsCoordinatorAway(absl::InvalidArgumentError("name: too long"), false));
  EXPECT_FALSE(IsCoordinatorAway(absl::FailedPreconditionError("attempt 2 is not running"), false));
  EXPECT_FALSE(IsCoordinatorAway(absl::DataLossError("crc32 mismatch"), false));
}

}  // namespace
}  // namespace polytrain
