// A worker's steps stay within its job's spec.max_steps: points, an attempt's start and end, and
// a checkpoint's name past the budget are refused naming the field (a checkpoint named past it
// would be what every later attempt resumes from, as checkpoints are taken in name order).
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::WorkerMessage;

// The first chunk of attempt 1's upload of checkpoint `name`, by the worker whose session key
// is `key`.
polytrain::v1::ArtifactChunk CheckpointUpload(const Job& job, const std::string& key,
                                              const std::string& name) {
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id(job.id());
  chunk.set_attempt(1);
  chunk.set_session_key(key);
  chunk.set_name(name);
  return chunk;
}

class StepBudgetTest : public CoordinatorTest {
 protected:
  // A job of at most 100 steps, running on worker w1 (its session in session_).
  Job SubmitAndRun() {
    polytrain::v1::SubmitJobRequest request = Request("budget");
    request.mutable_spec()->set_max_steps(100);
    absl::StatusOr<Job> job = api_->SubmitJob(request, kAdmin);
    EXPECT_TRUE(job.ok()) << job.status();
    session_ = Connect("w1", &worker_);
    return *job;
  }
  std::string Refusal(const WorkerMessage& message) {
    return std::string(protocol_->Handle(session_, message).message());
  }
  // The steps of the job's stored points, oldest first.
  std::vector<int64_t> StoredSteps(const Job& job) {
    polytrain::v1::GetMetricsRequest request;
    request.set_job_id(job.id());
    absl::StatusOr<polytrain::v1::GetMetricsResponse> stored = api_->GetMetrics(request, kAdmin);
    EXPECT_TRUE(stored.ok()) << stored.status();
    std::vector<int64_t> steps;
    for (const auto& point : stored->points()) steps.push_back(point.step());
    return steps;
  }
  RecordingChannel worker_;
  int64_t session_ = 0;
};

TEST_F(StepBudgetTest, PointsPastTheBudgetAreRefused) {
  const Job job = SubmitAndRun();
  WorkerMessage points;
  points.mutable_metrics()->set_job_id(job.id());
  points.mutable_metrics()->set_attempt(1);
  AddTrainPoint(points.mutable_metrics(), 100);
  EXPECT_EQ(Refusal(points), "");
  points.mutable_metrics()->mutable_points(0)->set_step(90);
  AddTrainPoint(points.mutable_metrics(), 101);
  EXPECT_EQ(Refusal(points),
            "metrics.points[1].step: must be in [0, 100] (the job's spec.max_steps), got 101");
  EXPECT_EQ(StoredSteps(job), std::vector<int64_t>{100});  // none of the refused batch
}

TEST_F(StepBudgetTest, AnAttemptsStartAndEndPastTheBudgetAreRefused) {
  const Job job = SubmitAndRun();
  WorkerMessage points;
  points.mutable_metrics()->set_job_id(job.id());
  points.mutable_metrics()->set_attempt(1);
  AddTrainPoint(points.mutable_metrics(), 50);
  ASSERT_EQ(Refusal(points), "");
  WorkerMessage started;
  started.mutable_started()->set_job_id(job.id());
  started.mutable_started()->set_attempt(1);
  started.mutable_started()->set_resumed_from_step(101);
  EXPECT_EQ(Refusal(started),
            "started.resumed_from_step: must be in [0, 100] (the job's spec.max_steps), got 101");
  EXPECT_EQ(Get(job.id()).resumed_from_step(), 0);  // the refused start changed nothing
  EXPECT_EQ(StoredSteps(job), std::vector<int64_t>{50});
  WorkerMessage failed;
  failed.mutable_failed()->set_job_id(job.id());
  failed.mutable_failed()->set_attempt(1);
  failed.mutable_failed()->set_steps(101);
  EXPECT_EQ(Refusal(failed),
            "failed.steps: must be in [0, 100] (the job's spec.max_steps), got 101");
  // Refused, the failure still ends its attempt, saying so (probe CP: the job ran on, then failed
  // for a lapsed lease), at the steps its points reached.
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(job.id()).error(),
            "the worker's failure report was refused: failed.steps: must be in [0, 100] (the "
            "job's spec.max_steps), got 101");
  EXPECT_EQ(Get(job.id()).steps(), 50);
}

TEST_F(StepBudgetTest, AResultPastTheBudgetFailsItsAttemptAndOneAtItSucceeds) {
  const Job job = SubmitAndRun();
  WorkerMessage finished;
  finished.mutable_finished()->set_job_id(job.id());
  finished.mutable_finished()->set_attempt(1);
  finished.mutable_finished()->set_steps(100);
  EXPECT_EQ(Refusal(finished), "");
  EXPECT_EQ(Get(job.id()).steps(), 100);
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_SUCCEEDED);

  polytrain::v1::SubmitJobRequest request = Request("past");
  request.mutable_spec()->set_max_steps(100);
  const absl::StatusOr<Job> past = api_->SubmitJob(request, kAdmin);
  ASSERT_TRUE(past.ok()) << past.status();
  ASSERT_EQ(worker_.Assigned().size(), 2u);
  finished.mutable_finished()->set_job_id(past->id());
  finished.mutable_finished()->set_steps(999999);
  EXPECT_EQ(Refusal(finished),
            "finished.steps: must be in [0, 100] (the job's spec.max_steps), got 999999");
  EXPECT_EQ(State(past->id()), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(past->id()).error(),
            "the worker's result was refused: finished.steps: must be in [0, 100] (the job's "
            "spec.max_steps), got 999999");
}

TEST_F(StepBudgetTest, ACheckpointNamedPastTheBudgetIsRefused) {
  const Job job = SubmitAndRun();
  EXPECT_TRUE(
      protocol_->CheckUpload(CheckpointUpload(job, worker_.SessionKey(), "ckpt-000000000100.pt"))
          .ok());
  EXPECT_EQ(
      protocol_->CheckUpload(CheckpointUpload(job, worker_.SessionKey(), "ckpt-999999999999.pt"))
          .message(),
      "name: ckpt-999999999999.pt is a checkpoint of step 999999999999; a step must be in "
      "[0, 100] (the job's spec.max_steps)");
}

// Without spec.max_steps the budget is in epochs, which the worker counts: any step in the
// protocol's range is taken, a checkpoint's name included.
TEST_F(CoordinatorTest, AnEpochBudgetLeavesStepsToTheWorker) {
  const Job job = Submit("epochs");
  RecordingChannel worker;
  const int64_t session = Connect("w1", &worker);
  WorkerMessage points;
  points.mutable_metrics()->set_job_id(job.id());
  points.mutable_metrics()->set_attempt(1);
  AddTrainPoint(points.mutable_metrics(), 5000);
  EXPECT_TRUE(protocol_->Handle(session, points).ok());
  EXPECT_TRUE(
      protocol_->CheckUpload(CheckpointUpload(job, worker.SessionKey(), "ckpt-001000000000.pt"))
          .ok());
  EXPECT_EQ(
      protocol_->CheckUpload(CheckpointUpload(job, worker.SessionKey(), "ckpt-001000000001.pt"))
          .message(),
      "name: ckpt-001000000001.pt is a checkpoint of step 1000000001; a step must be in "
      "[0, 1000000000]");
}

}  // namespace
}  // namespace polytrain
