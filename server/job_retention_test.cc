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

TEST_F(CoordinatorTest, RetentionDeletesAnEndedSweepsRecordOnceItsJobsAreGone) {
  polytrain::v1::SubmitSweepRequest request;
  *request.mutable_base() = Request("grid").spec();
  request.mutable_base()->clear_loss();
  request.add_losses()->mutable_cross_entropy();
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> ended = api_->SubmitSweep(request, kAdmin);
  ASSERT_TRUE(ended.ok()) << ended.status();
  request.add_losses()->mutable_poly1()->set_epsilon(1);  // another sweep, left running
  request.set_client_request_id("running");
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> running = api_->SubmitSweep(request, kAdmin);
  ASSERT_TRUE(running.ok()) << running.status();
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(ended->jobs(0).id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());  // its only job ends: the sweep is done
  ASSERT_EQ(core_->store().GetSweep(ended->sweep_id())->state(),
            polytrain::v1::Sweep::SWEEP_STATE_DONE);

  JobRetention retention(scheduler_, &core_->store(), nullptr, std::chrono::hours(24));
  const auto now = JobRetention::Clock::now();
  ASSERT_TRUE(retention.RunOnce(now).ok());  // a moment ago: kept, with its job
  EXPECT_TRUE(core_->store().GetSweep(ended->sweep_id()).ok());
  absl::StatusOr<int64_t> deleted = retention.RunOnce(now + std::chrono::hours(25));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(core_->store().GetSweep(ended->sweep_id()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(core_->store().GetSweep(running->sweep_id()).ok());  // running: kept
}

}  // namespace
}  // namespace polytrain
