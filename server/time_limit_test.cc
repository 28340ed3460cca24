// spec.time_limit_seconds and a cancel's let-go: an attempt past its limit is told to stop and
// its job fails naming the field, without another attempt; a worker that never stops it (or
// never confirms a cancel) is let go of a lease later.
#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

// spec.time_limit_seconds: past it the attempt's worker is told to stop, and the job fails
// naming the field, without another attempt.
TEST_F(CoordinatorTest, AnAttemptPastItsTimeLimitIsStoppedAndTheJobFails) {
  polytrain::v1::SubmitJobRequest request = Request("slow");
  request.mutable_spec()->set_time_limit_seconds(2);
  const Job job = *api_->SubmitJob(request, kAdmin);
  RecordingChannel channel;
  const Scheduler::Clock::time_point before = Scheduler::Clock::now();  // its clock starts later
  const int64_t session = Connect("w", &channel);
  scheduler_->ExpireLeases(before + std::chrono::seconds(1));
  EXPECT_TRUE(channel.Cancelled().empty());  // still within its time
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(3));
  EXPECT_EQ(channel.Cancelled(), (std::vector<std::string>{job.id()}));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);  // until the worker says so
  polytrain::v1::WorkerMessage stopped;
  stopped.mutable_failed()->set_job_id(job.id());
  stopped.mutable_failed()->set_attempt(1);
  stopped.mutable_failed()->set_cancelled(true);
  ASSERT_TRUE(protocol_->Handle(session, stopped).ok());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(job.id()).error(), "ran past spec.time_limit_seconds (2 s) on attempt 1");
  EXPECT_EQ(Get(job.id()).attempts(), 1);
}

// A worker that does not stop it (a forward that never returns) is let go a lease later: the
// job fails all the same, and that worker's slot stays taken.
TEST_F(CoordinatorTest, AnAttemptItsWorkerDoesNotStopFailsALeaseAfterItsTimeLimit) {
  polytrain::v1::SubmitJobRequest request = Request("stuck");
  request.mutable_spec()->set_time_limit_seconds(2);
  request.mutable_spec()->set_max_attempts(5);
  const Job job = *api_->SubmitJob(request, kAdmin);
  RecordingChannel channel;
  Connect("w", &channel);
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(3));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(13));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(job.id()).error(),
            "ran past spec.time_limit_seconds (2 s) on attempt 1; let go 10 s later without word "
            "from its worker");
  EXPECT_EQ(Get(job.id()).attempts(), 1);  // never requeued
  Submit("next");
  EXPECT_EQ(channel.Assigned(), (std::vector<std::string>{"stuck"}));
}

// A worker away when the limit passed hears of it when it comes back; a cancel asked for
// meanwhile wins over the limit.
TEST_F(CoordinatorTest, ATimedOutAttemptIsStoppedOnReconnectAndACancelWinsOverTheLimit) {
  polytrain::v1::SubmitJobRequest request = Request("away");
  request.mutable_spec()->set_time_limit_seconds(2);
  const Job job = *api_->SubmitJob(request, kAdmin);
  RecordingChannel before, after;
  protocol_->Disconnected(Connect("w", &before));
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(3));
  EXPECT_TRUE(before.Cancelled().empty());  // nobody to tell
  Connect("w", &after, 1, false, {job.id()});
  EXPECT_EQ(after.Cancelled(), (std::vector<std::string>{job.id()}));
  CancelAsAdmin(job.id());
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(13));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(Get(job.id()).error(), "cancelled; let go 10 s later without word from its worker");
}

// A worker that keeps its lease alive but never confirms a cancel (hung, or hostile) does not
// keep the job running: it is let go a lease after the cancel, and its slot stays taken.
TEST_F(CoordinatorTest, ACancelItsWorkerNeverConfirmsEndsALeaseLater) {
  const Job job = Submit("unstoppable");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  CancelAsAdmin(job.id());
  EXPECT_EQ(channel.Cancelled(), (std::vector<std::string>{job.id()}));
  polytrain::v1::WorkerMessage beat;
  beat.mutable_heartbeat()->add_running_job_ids(job.id());
  ASSERT_TRUE(protocol_->Handle(session, beat).ok());
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);  // within its lease
  // Renewed (its lease runs past the moment looked at), still no word of the stop.
  const Scheduler::Clock::time_point before_beat = Scheduler::Clock::now();
  ASSERT_TRUE(protocol_->Handle(session, beat).ok());
  scheduler_->ExpireLeases(before_beat + std::chrono::seconds(10));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(Get(job.id()).error(),
            "cancelled; let go 10 s later without its worker confirming the stop");
  Submit("next");
  EXPECT_EQ(channel.Assigned(), (std::vector<std::string>{"unstoppable"}));  // slot still taken
}

}  // namespace
}  // namespace polytrain
