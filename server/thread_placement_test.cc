// A job runs only on a worker that gives it all its spec.threads (api/worker_threads.h), so that
// the same spec and seed train alike wherever they land; one that no free worker can give its
// threads holds up no job behind it, and says what it waits for. Of the workers that can run a
// job, the one that gives the fewest threads per job takes it.
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

TEST_F(CoordinatorTest, AJobRunsOnlyWhereItGetsAllItsThreads) {
  polytrain::v1::SubmitJobRequest request = Request("two-threads");
  request.mutable_spec()->set_threads(2);
  const Job wide = *api_->SubmitJob(request, kAdmin);
  const Job narrow = Submit("one-thread");

  // One thread per job: the second job passes the first, which waits and says why.
  RecordingChannel small;
  Connect("small", &small, 1, false, {}, 1);
  EXPECT_EQ(small.Assigned(), (std::vector<std::string>{"one-thread"}));
  EXPECT_EQ(State(wide.id()), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(Get(wide.id()).waiting_for(),
            "needs a worker that gives each job 2 threads (spec.threads); the 1 connected "
            "worker gives 1 (its --threads divided by its --slots)");

  // Three threads over two slots are one each: still not enough.
  RecordingChannel shared;
  Connect("shared", &shared, 2, false, {}, 3);
  EXPECT_TRUE(shared.Assigned().empty());
  EXPECT_EQ(Get(wide.id()).waiting_for(),
            "needs a worker that gives each job 2 threads (spec.threads); the 2 connected "
            "workers give at most 1 (their --threads divided by their --slots)");

  // Four over two are two each.
  RecordingChannel large;
  Connect("large", &large, 2, false, {}, 4);
  EXPECT_EQ(large.Assigned(), (std::vector<std::string>{"two-threads"}));
  EXPECT_EQ(Get(wide.id()).worker(), "large");
}

TEST_F(CoordinatorTest, AJobTakesTheNarrowestWorkerThatGivesItItsThreads) {
  // The wide worker connects first; a job of one thread still leaves it to the job that needs it.
  RecordingChannel wide, narrow;
  Connect("wide", &wide, 1, false, {}, 4);
  Connect("narrow", &narrow, 1, false, {}, 1);
  Submit("one-thread");
  polytrain::v1::SubmitJobRequest request = Request("four-threads");
  request.mutable_spec()->set_threads(4);
  ASSERT_TRUE(api_->SubmitJob(request, kAdmin).ok());
  EXPECT_EQ(narrow.Assigned(), (std::vector<std::string>{"one-thread"}));
  EXPECT_EQ(wide.Assigned(), (std::vector<std::string>{"four-threads"}));
}

TEST_F(CoordinatorTest, AGpuJobShortOfThreadsSaysWhichWorkersItCounted) {
  polytrain::v1::SubmitJobRequest request = Request("gpu-two-threads");
  request.mutable_spec()->set_threads(2);
  request.mutable_spec()->set_device(polytrain::v1::DEVICE_CUDA);
  const Job job = *api_->SubmitJob(request, kAdmin);
  RecordingChannel cpu, gpu;
  Connect("wide-cpu", &cpu, 1, false, {}, 8);
  EXPECT_EQ(Get(job.id()).waiting_for(),
            "needs a worker with a GPU (spec.device); none of the 1 connected worker has one");
  Connect("narrow-gpu", &gpu, 1, /*cuda=*/true, {}, 1);
  EXPECT_EQ(Get(job.id()).waiting_for(),
            "needs a worker that gives each job 2 threads (spec.threads); the 1 with a GPU of "
            "the 2 connected workers gives 1 (its --threads divided by its --slots)");
  EXPECT_TRUE(cpu.Assigned().empty());
  EXPECT_TRUE(gpu.Assigned().empty());
}

}  // namespace
}  // namespace polytrain
