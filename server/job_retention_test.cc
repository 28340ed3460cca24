// Ended jobs past the retention period are deleted, and nothing else: not a recent one, not one
// that has not ended.
#include "server/job_retention.h"

#include <chrono>

#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

TEST_F(CoordinatorTest, RetentionDeletesOnlyJobsThatEndedLongEnoughAgo) {
  const Job ended = Submit("ended");
  const Job queued = Submit("queued");
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(ended.id());
  ASSERT_TRUE(api_->CancelJob(cancel, Caller::Admin("")).ok());  // ends now

  JobRetention retention(scheduler_, &core_->store(), nullptr, std::chrono::hours(24));
  const auto now = JobRetention::Clock::now();
  absl::StatusOr<int64_t> deleted = retention.RunOnce(now);  // ended a moment ago: kept
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0);
  EXPECT_EQ(State(ended.id()), polytrain::v1::JOB_STATE_CANCELLED);

  deleted = retention.RunOnce(now + std::chrono::hours(25));  // a day and an hour later
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 1);
  polytrain::v1::GetJobRequest get;
  get.set_id(ended.id());
  EXPECT_EQ(api_->GetJob(get, Caller::Admin("")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(State(queued.id()), polytrain::v1::JOB_STATE_QUEUED);  // never ended: kept
}

}  // namespace
}  // namespace polytrain
