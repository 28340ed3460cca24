#include "cli/exit_codes.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(ExitCodesTest, OneMeaningPerCodeForEveryTool) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("spec.x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("down")), 3);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("slow")), 3);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("id")), 4);
  EXPECT_EQ(ExitCodeFor(absl::OutOfRangeError("field")), 1);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("ended")), 5);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("request id taken")), 5);
  EXPECT_EQ(ExitCodeFor(absl::ResourceExhaustedError("4 uploads in flight")), 5);
  EXPECT_EQ(ExitCodeFor(absl::AbortedError("diverged")), 6);
  EXPECT_EQ(ExitCodeFor(absl::CancelledError("cancelled")), 6);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("bug")), 7);
  EXPECT_EQ(ExitCodeFor(absl::DataLossError("disk")), 7);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("token")), 8);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("not yours")), 8);
  for (const char* code :
       {"Exit codes: 0 success", "2 bad command line", "6 the job did not succeed"}) {
    EXPECT_NE(ExitCodesHelp().find(code), std::string::npos) << code;
  }
}

}  // namespace
}  // namespace polytrain
