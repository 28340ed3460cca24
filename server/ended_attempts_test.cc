// Job.ended_attempts: each attempt that ended without ending its job (lost, given back) keeps why
// it ended, where it ran and how far it got, after the job's own end has replaced `error`; the
// newest kMaxEndedAttempts are kept; a new attempt does not show the previous one's resume step.
#include <string>

#include "api/limits.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::WorkerMessage;

WorkerMessage Started(const Job& job, int32_t attempt, int64_t resumed_from_step) {
  WorkerMessage message;
  message.mutable_started()->set_job_id(job.id());
  message.mutable_started()->set_attempt(attempt);
  message.mutable_started()->set_resumed_from_step(resumed_from_step);
  return message;
}

WorkerMessage Points(const Job& job, int32_t attempt, int64_t step) {
  WorkerMessage message;
  message.mutable_metrics()->set_job_id(job.id());
  message.mutable_metrics()->set_attempt(attempt);
  AddTrainPoint(message.mutable_metrics(), step);
  return message;
}

WorkerMessage GivenBackByAStoppingWorker(const Job& job, int32_t attempt) {
  WorkerMessage message;
  message.mutable_failed()->set_job_id(job.id());
  message.mutable_failed()->set_attempt(attempt);
  message.mutable_failed()->set_released(true);
  message.mutable_failed()->set_worker_exits(true);
  return message;
}

TEST_F(CoordinatorTest, ACancelledJobStillTellsWhyItsEarlierAttemptEnded) {
  const Job job = Submit("lost-once");
  RecordingChannel first, second;
  const int64_t w1 = Connect("w1", &first);
  ASSERT_TRUE(protocol_->Handle(w1, Started(job, 1, 0)).ok());
  ASSERT_TRUE(protocol_->Handle(w1, Points(job, 1, 40)).ok());
  protocol_->Disconnected(w1);
  scheduler_->ExpireLeases(Later());
  const std::string lost = Get(job.id()).error();
  ASSERT_EQ(Get(job.id()).state(), polytrain::v1::JOB_STATE_QUEUED);
  const int64_t w2 = Connect("w2", &second);
  ASSERT_TRUE(protocol_->Handle(w2, Started(job, 2, 20)).ok());
  CancelAsAdmin(job.id());
  WorkerMessage stopped;
  stopped.mutable_failed()->set_job_id(job.id());
  stopped.mutable_failed()->set_attempt(2);
  stopped.mutable_failed()->set_cancelled(true);
  ASSERT_TRUE(protocol_->Handle(w2, stopped).ok());

  // The job's error is its own end now; the first attempt's end is kept beside it, and a
  // restarted coordinator reads it back.
  Scheduler::Options options;
  options.lease_thread = false;
  Open(options);
  const Job ended = Get(job.id());
  EXPECT_EQ(ended.state(), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(ended.error(), "cancelled while running");
  ASSERT_EQ(ended.ended_attempts_size(), 1);
  const polytrain::v1::EndedAttempt& first_attempt = ended.ended_attempts(0);
  EXPECT_EQ(first_attempt.attempt(), 1);
  EXPECT_EQ(
      std::vector<std::string>(first_attempt.workers().begin(), first_attempt.workers().end()),
      (std::vector<std::string>{"w1"}));
  EXPECT_EQ(first_attempt.reason(), lost);
  EXPECT_NE(lost.find("w1"), std::string::npos) << lost;
  EXPECT_EQ(first_attempt.steps(), 40);
  EXPECT_EQ(first_attempt.resumed_from_step(), 0);
  EXPECT_FALSE(first_attempt.given_back());
  EXPECT_TRUE(first_attempt.has_start_time());
  EXPECT_LE(google::protobuf::util::TimeUtil::TimestampToNanoseconds(first_attempt.start_time()),
            google::protobuf::util::TimeUtil::TimestampToNanoseconds(first_attempt.end_time()));
  EXPECT_EQ(ended.resumed_from_step(), 20);  // the second attempt's own
}

// After a coordinator restart, how far the lost attempt got comes from its stored points.
TEST_F(CoordinatorTest, AnAttemptLostAcrossARestartKeepsHowFarItGot) {
  const Job job = Submit("restarted");
  RecordingChannel first, second;
  const int64_t w1 = Connect("w1", &first);
  ASSERT_TRUE(protocol_->Handle(w1, Points(job, 1, 40)).ok());
  Scheduler::Options options;
  options.lease_thread = false;
  Open(options);
  Connect("w1", &second);  // back without the job: the attempt is lost
  const Job again = Get(job.id());
  ASSERT_EQ(again.ended_attempts_size(), 1);
  EXPECT_EQ(again.ended_attempts(0).steps(), 40);
}

TEST_F(CoordinatorTest, ANewAttemptDoesNotShowThePreviousAttemptsResumeStep) {
  const Job job = Submit("resumed");
  RecordingChannel first, second;
  const int64_t w1 = Connect("w1", &first);
  ASSERT_TRUE(protocol_->Handle(w1, Started(job, 1, 30)).ok());
  protocol_->Disconnected(w1);
  scheduler_->ExpireLeases(Later());
  // Queued again: the resume step is the ended attempt's, kept in its record, and how far it got
  // is at least its checkpoint (it sent no point).
  const Job queued = Get(job.id());
  ASSERT_EQ(queued.state(), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(queued.resumed_from_step(), 0);
  ASSERT_EQ(queued.ended_attempts_size(), 1);
  EXPECT_EQ(queued.ended_attempts(0).steps(), 30);
  Connect("w2", &second);
  const Job running = Get(job.id());
  ASSERT_EQ(running.attempts(), 2);
  EXPECT_EQ(running.resumed_from_step(), 0);  // attempt 2 has not said where it starts
  ASSERT_EQ(running.ended_attempts_size(), 1);
  EXPECT_EQ(running.ended_attempts(0).resumed_from_step(), 30);
}

// Attempts given back do not count against spec.max_attempts, so a job can end many: the record
// keeps the newest kMaxEndedAttempts, numbered.
TEST_F(CoordinatorTest, TheNewestEndedAttemptsAreKept) {
  const Job job = Submit("handed-over", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/1);
  std::vector<RecordingChannel> workers(kMaxEndedAttempts + 2);
  for (int i = 0; i <= kMaxEndedAttempts; ++i) {
    const int64_t session = Connect("w" + std::to_string(i), &workers[i]);
    ASSERT_EQ(workers[i].Assigned().size(), 1u) << i;
    ASSERT_TRUE(protocol_->Handle(session, GivenBackByAStoppingWorker(job, i + 1)).ok());
    const Job requeued = Get(job.id());
    ASSERT_EQ(requeued.state(), polytrain::v1::JOB_STATE_QUEUED) << i;
    ASSERT_EQ(requeued.ended_attempts_size(), std::min(i + 1, kMaxEndedAttempts)) << i;
  }
  const Job requeued = Get(job.id());
  EXPECT_EQ(requeued.ended_attempts(0).attempt(), 2);  // attempt 1 was left out
  const polytrain::v1::EndedAttempt& newest = requeued.ended_attempts(kMaxEndedAttempts - 1);
  EXPECT_EQ(newest.attempt(), kMaxEndedAttempts + 1);
  EXPECT_TRUE(newest.given_back());
  EXPECT_EQ(newest.reason(), "worker w" + std::to_string(kMaxEndedAttempts) +
                                 " shut down during attempt " +
                                 std::to_string(kMaxEndedAttempts + 1) + " and gave the job back");
}

// Stopping workers' give-backs are free up to kMaxFreeGiveBacks: a worker that says it stops
// and comes back again and again (a crash loop, a hostile one) then uses up spec.max_attempts.
TEST_F(CoordinatorTest, GiveBacksPastTheFreeOnesCount) {
  const Job job = Submit("bounced", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/1);
  for (int i = 0; i <= kMaxFreeGiveBacks; ++i) {
    RecordingChannel channel;
    const int64_t session = Connect("w", &channel);
    ASSERT_EQ(channel.Assigned().size(), 1u) << i;
    ASSERT_TRUE(protocol_->Handle(session, GivenBackByAStoppingWorker(job, i + 1)).ok());
    protocol_->Disconnected(session);  // and back under the same name
    ASSERT_EQ(Get(job.id()).state(), i < kMaxFreeGiveBacks ? polytrain::v1::JOB_STATE_QUEUED
                                                           : polytrain::v1::JOB_STATE_FAILED)
        << i;
  }
  const Job failed = Get(job.id());
  EXPECT_EQ(failed.attempts_given_back(), kMaxFreeGiveBacks);
  EXPECT_EQ(failed.error(), "worker w shut down during attempt " +
                                std::to_string(kMaxFreeGiveBacks + 1) +
                                " and gave the job back; no attempts left of 1");
}

}  // namespace
}  // namespace polytrain
