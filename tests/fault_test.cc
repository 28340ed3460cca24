// Faults injected for real into a running service: workers killed with SIGKILL or stopped with
// SIGTERM, the worker's connection cut by a TCP proxy and restored, a stored checkpoint damaged
// on disk, a lease lapsed (the coordinator killed: fault_coordinator_test.cc). Each test checks
// that nothing acknowledged is lost and nothing is counted twice: a job's stored metric history is
// compared, point by point, with that of an uninterrupted run of the same spec (training on CPU is
// deterministic for a seed and thread count).
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "testing/service_fixture.h"
#include "testing/tcp_proxy.h"
#include "tests/fault_fixture.h"

namespace polytrain::fault_test {
namespace {

namespace fs = std::filesystem;
using polytrain::testing::Spec;
using polytrain::testing::TcpProxy;
using polytrain::testing::WaitFor;
using polytrain::v1::Job;

TEST_F(FaultTest, AWorkerKeepsTrainingThroughACutStreamAndFlushesOnReconnect) {
  StartCoordinator();  // 30 s leases: longer than the cut
  TcpProxy proxy(port_);
  int worker_metrics = 0;
  StartWorker("w1", &worker_metrics, false, proxy.port());
  const v1::JobSpec spec = Spec("through-a-cut", 600);  // a few seconds
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));

  proxy.Cut();
  // It trains on, holding its points: the worker's own gauge shows them piling up.
  ASSERT_TRUE(WaitFor(
      [&] { return Scrape("polytrain_worker_buffered_metric_points", worker_metrics) >= 20; }));
  EXPECT_EQ(Get(job.id()).state(), v1::JOB_STATE_RUNNING);
  proxy.Restore();

  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  EXPECT_EQ(Get(job.id()).attempts(), 1);  // the same attempt throughout, never requeued
  EXPECT_GE(proxy.forwarded(), 2);         // it did reconnect
  ASSERT_TRUE(WaitFor(
      [&] { return Scrape("polytrain_worker_buffered_metric_points", worker_metrics) == 0; }));
  EXPECT_EQ(Scrape("polytrain_worker_dropped_metric_points_total", worker_metrics), 0);
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
}

TEST_F(FaultTest, AWorkerWhoseConnectionFallsSilentIsLetGoByKeepaliveAndComesBack) {
  // Leases far longer than the test: only the keepalive ping can end the silent connection. (3 s,
  // not 1: every connection must answer pings that fast, the test's own client on a busy CI
  // machine too.)
  StartCoordinator(/*lease_seconds=*/3600, {"--keepalive_seconds", "3"});
  TcpProxy proxy(port_);
  StartWorker("hung", nullptr, false, proxy.port());
  const v1::JobSpec spec = Spec("through-a-hang", 600);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));
  // (A worker slow to answer a ping on a busy machine may have been let go and come back.)
  ASSERT_TRUE(WaitFor([&] { return Scrape("polytrain_workers_connected") == 1; }, 30));
  proxy.Freeze();  // no byte moves, no connection ends: a hung host
  ASSERT_TRUE(WaitFor([&] { return Scrape("polytrain_workers_connected") == 0; }, 30));
  proxy.Thaw();
  // The worker finds its stream ended, dials again and re-attaches the job it kept training.
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  EXPECT_EQ(Get(job.id()).attempts(), 1);
  EXPECT_GE(proxy.forwarded(), 2);
}

TEST_F(FaultTest, ADamagedStoredCheckpointIsPassedOverForThePreviousOne) {
  StartCoordinator(/*lease_seconds=*/6);  // renewed every 2 s: 2 s lapsed on a busy machine
  StartWorker("doomed", nullptr, /*checkpoints=*/true);
  v1::JobSpec spec = Spec("resumable-despite-damage", 150);
  spec.mutable_checkpoint()->set_every_steps(400);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return StoredCheckpoints(job.id()).size() >= 2; }));
  workers_.back()->Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 30));

  // The newest stored checkpoint rots on disk: one byte flipped in its middle.
  const std::vector<std::string> stored = StoredCheckpoints(job.id());
  const std::string newest = Get(job.id()).checkpoint();
  ASSERT_EQ(job.id() + "/" + stored.back(), newest);
  const fs::path damaged = dir_ / "artifacts" / newest;
  {
    std::fstream file(damaged, std::ios::in | std::ios::out | std::ios::binary);
    const auto middle = static_cast<std::streamoff>(fs::file_size(damaged) / 2);
    file.seekg(middle);
    const char byte = static_cast<char>(file.get());
    file.seekp(middle);
    file.put(static_cast<char>(byte ^ 0x01));
  }
  const std::string previous = stored[stored.size() - 2];

  StartWorker("rescuer", nullptr, /*checkpoints=*/true);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job resumed = Get(job.id());
  EXPECT_EQ(resumed.attempts(), 2);
  EXPECT_EQ(resumed.resumed_from_step(), std::stoll(previous.substr(5, 12)));
  // What the dead attempt stored past that checkpoint was replaced, not doubled.
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
  // The coordinator keeps the newest three checkpoints of a job, not every one uploaded.
  EXPECT_EQ(StoredCheckpoints(job.id()).size(), 3u);
}

TEST_F(FaultTest, ARequeuedJobResumesFromItsUploadedCheckpointOnAnotherWorker) {
  StartCoordinator(/*lease_seconds=*/6);
  StartWorker("doomed", nullptr, /*checkpoints=*/true);
  v1::JobSpec spec = Spec("resumable", 150);
  spec.mutable_checkpoint()->set_every_steps(400);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  // Killed once a mid-run checkpoint has reached the coordinator.
  ASSERT_TRUE(WaitFor([&] { return !Get(job.id()).checkpoint().empty(); }));
  workers_.back()->Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 30));
  const std::string checkpoint = Get(job.id()).checkpoint();
  StartWorker("rescuer", nullptr, /*checkpoints=*/true);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job resumed = Get(job.id());
  EXPECT_EQ(resumed.attempts(), 2);
  EXPECT_EQ(resumed.worker(), "rescuer");
  // It continued at the checkpoint's step, not from the start.
  const int64_t step = std::stoll(checkpoint.substr(checkpoint.find("ckpt-") + 5, 12));
  EXPECT_GT(step, 0);
  EXPECT_EQ(resumed.resumed_from_step(),
            step);  // the uploaded checkpoint, downloaded by the rescuer

  // And ended where an uninterrupted run of the same spec ends, to the last bit, with every
  // metric point once.
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
}

TEST_F(FaultTest, AWorkerRestartedUnderItsNameGetsItsJobBackWithoutWaitingForTheLease) {
  // A lease far longer than the test may take: only the worker's hello can end the attempt.
  StartCoordinator(/*lease_seconds=*/3600);
  StartWorker("phoenix", nullptr, /*checkpoints=*/true);
  v1::JobSpec spec = Spec("reborn", 150);
  spec.mutable_checkpoint()->set_every_steps(400);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Get(job.id()).checkpoint().empty(); }));
  workers_.back()->Kill(SIGKILL);
  StartWorker("phoenix", nullptr, /*checkpoints=*/true);  // as a supervisor would restart it
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120))
      << v1::JobState_Name(Get(job.id()).state()) << " " << Get(job.id()).error();
  const Job done = Get(job.id());
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_GT(done.resumed_from_step(), 0);
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
}

}  // namespace

// A worker stopped with SIGTERM checkpoints where a logging window ends, uploads it and gives
// its job back at once; with or without --checkpoint_dir (without, the attempt writes to a
// temporary directory of its own).
void FaultTest::DrainHandsTheJobOverAtACheckpoint(bool checkpoint_dir) {
  // A lease far longer than the test may take: only the worker's release can requeue the job.
  StartCoordinator(/*lease_seconds=*/3600);
  StartWorker("drained", nullptr, checkpoint_dir);
  // No periodic checkpoints: the only one the next attempt can resume from is the one the
  // drained worker writes and uploads as it gives the job back.
  v1::JobSpec spec = Spec("handed-over", 150);
  spec.set_max_attempts(2);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));  // it has trained
  const int status = workers_.back()->Kill(SIGTERM);  // as a rolling restart stops a pod
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // Requeued by the time the worker has exited, not after its lease: not cancelled either.
  const Job released = Get(job.id());
  EXPECT_EQ(released.state(), v1::JOB_STATE_QUEUED) << released.error();
  EXPECT_EQ(released.error(), "worker drained shut down during attempt 1 and gave the job back");
  EXPECT_FALSE(released.checkpoint().empty());
  StartWorker("successor", nullptr, checkpoint_dir);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job done = Get(job.id());
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_EQ(done.worker(), "successor");
  // From the checkpoint written at the release, where a logging window (10 steps) ended.
  EXPECT_GT(done.resumed_from_step(), 0);
  EXPECT_EQ(done.resumed_from_step() % 10, 0) << done.resumed_from_step();
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
}

namespace {

TEST_F(FaultTest, AWorkerStoppedWithSigtermCheckpointsAndGivesItsJobBackAtOnce) {
  DrainHandsTheJobOverAtACheckpoint(/*checkpoint_dir=*/true);
}

TEST_F(FaultTest, AWorkerWithoutCheckpointDirCheckpointsAtSigtermToo) {
  DrainHandsTheJobOverAtACheckpoint(/*checkpoint_dir=*/false);
}

// An attempt resuming from a checkpoint that fails before its first step (here: its data is not
// under the successor's --data_root) reports the step it was to resume from, not 0 (probe DD:
// "at step 0"): the failed job's steps are where its checkpoint left it.
TEST_F(FaultTest, AResumedAttemptFailingBeforeItsFirstStepKeepsTheStepItResumedFrom) {
  StartCoordinator(/*lease_seconds=*/3600);
  StartWorker("drained");
  v1::JobSpec spec = Spec("resumed-then-failed", 150);
  spec.mutable_dataset()->mutable_fashion_mnist();
  spec.mutable_dataset()->set_train_limit(2000);
  spec.mutable_dataset()->set_test_limit(500);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));
  workers_.back()->Kill(SIGTERM);
  const std::string checkpoint = Get(job.id()).checkpoint();
  ASSERT_FALSE(checkpoint.empty()) << Get(job.id()).error();
  const int64_t step = std::stoll(checkpoint.substr(checkpoint.find("ckpt-") + 5, 12));
  ASSERT_GT(step, 0);
  const fs::path no_data = dir_ / "no-data";
  fs::create_directories(no_data);
  StartWorker("successor", nullptr, false, 0, {"--data_root", no_data.string()});
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_FAILED, 120))
      << v1::JobState_Name(Get(job.id()).state());
  const Job failed = Get(job.id());
  EXPECT_EQ(failed.worker(), "successor");
  // (Its resumed_from_step is set when an attempt starts training, which this one never did.)
  EXPECT_NE(failed.error().find("fashion-mnist"), std::string::npos) << failed.error();
  EXPECT_EQ(failed.steps(), step) << failed.error();
}

TEST_F(FaultTest, LapsedLeaseRequeuesTheJobOnAnotherWorker) {
  StartCoordinator(/*lease_seconds=*/6);
  StartWorker("doomed");
  Job job;
  v1::JobSpec spec = Spec("survivor", 200);
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_RUNNING));
  workers_.back()->Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 20));
  EXPECT_EQ(Get(job.id()).error(), "lease expired on worker doomed (attempt 1)");
  StartWorker("rescuer");
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job done = Get(job.id());
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_EQ(done.worker(), "rescuer");
}

}  // namespace
}  // namespace polytrain::fault_test
