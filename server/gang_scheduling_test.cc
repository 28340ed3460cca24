// Data-parallel jobs (spec.replicas > 1) through the coordinator's core: all ranks start
// together or not at all, one per worker; a waiting gang holds nothing, lets jobs behind it pass
// only while the backfill window lasts, and then holds the line; rank 0's rendezvous reaches the
// other ranks; a lost rank requeues the whole gang as one attempt.
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::JobState;

class GangSchedulingTest : public CoordinatorTest {
 protected:
  void OpenWithBackfill(double seconds) {
    core_.reset();
    Scheduler::Options options;
    options.lease_seconds = 10;
    options.lease_thread = false;
    options.gang_backfill_seconds = seconds;
    Open(options);
  }

  Job SubmitGang(const std::string& name, int replicas, int max_attempts = 0) {
    polytrain::v1::SubmitJobRequest request = Request(name);
    request.mutable_spec()->set_replicas(replicas);
    request.mutable_spec()->set_batch_size(2 * replicas);
    request.mutable_spec()->set_max_attempts(max_attempts);
    absl::StatusOr<Job> job = api_->SubmitJob(request, kAdmin);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }

  // The (rank, world size) of each assignment of `job` a channel got.
  static std::vector<std::pair<int, int>> Ranks(const RecordingChannel& channel,
                                                const std::string& job_id) {
    std::vector<std::pair<int, int>> ranks;
    for (const auto& m : channel.sent) {
      if (m.has_assignment() && m.assignment().job().id() == job_id) {
        ranks.emplace_back(m.assignment().rank(), m.assignment().world_size());
      }
    }
    return ranks;
  }

  void Fail(int64_t session, const Job& job, const std::string& error, bool gang_lost) {
    polytrain::v1::WorkerMessage message;
    message.mutable_failed()->set_job_id(job.id());
    message.mutable_failed()->set_attempt(Get(job.id()).attempts());
    message.mutable_failed()->set_error(error);
    message.mutable_failed()->set_gang_lost(gang_lost);
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }

  JobState StateOf(const Job& job) { return State(job.id()); }
};

TEST_F(GangSchedulingTest, AllRanksStartTogetherOnePerWorker) {
  const Job gang = SubmitGang("gang", 2);
  RecordingChannel w1, w2;
  Connect("w1", &w1, /*slots=*/2);  // two slots, but a job's ranks go to different workers
  EXPECT_TRUE(w1.Assigned().empty());
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_QUEUED);
  Connect("w2", &w2);
  EXPECT_EQ(Ranks(w1, gang.id()), (std::vector<std::pair<int, int>>{{0, 2}}));
  EXPECT_EQ(Ranks(w2, gang.id()), (std::vector<std::pair<int, int>>{{1, 2}}));
  const Job running = Get(gang.id());
  EXPECT_EQ(running.state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(running.worker(), "w1");
  EXPECT_EQ(std::vector<std::string>(running.rank_workers().begin(), running.rank_workers().end()),
            (std::vector<std::string>{"w1", "w2"}));
  EXPECT_EQ(running.attempts(), 1);
}

TEST_F(GangSchedulingTest, GangsThatEachHalfFitNeverDeadlock) {
  const Job a = SubmitGang("a", 2), b = SubmitGang("b", 2);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  EXPECT_TRUE(w1.Assigned().empty());  // neither gang takes the one slot and waits holding it
  const int64_t s2 = Connect("w2", &w2);
  EXPECT_EQ(w1.Assigned(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(w2.Assigned(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(StateOf(b), polytrain::v1::JOB_STATE_QUEUED);
  Finish(s2, a);  // rank 1 done: its slot frees, but b needs two
  EXPECT_EQ(StateOf(b), polytrain::v1::JOB_STATE_QUEUED);
  Finish(s1, a);
  EXPECT_EQ(StateOf(a), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(StateOf(b), polytrain::v1::JOB_STATE_RUNNING);
}

TEST_F(GangSchedulingTest, JobsBehindAGangPassItOnlyDuringTheBackfillWindow) {
  for (const double backfill : {3600.0, 0.0}) {
    SCOPED_TRACE(backfill);
    OpenWithBackfill(backfill);
    RecordingChannel w1, w2, w3;
    const int64_t s1 = Connect("w1-" + std::to_string(backfill > 0), &w1);
    Connect("w2-" + std::to_string(backfill > 0), &w2);
    Connect("w3-" + std::to_string(backfill > 0), &w3);
    const Job first = Submit("first");  // on w1
    const Job gang = SubmitGang("gang", 3);
    const Job small = Submit("small");
    if (backfill > 0) {
      EXPECT_EQ(StateOf(small), polytrain::v1::JOB_STATE_RUNNING);  // passed the waiting gang
      EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_QUEUED);
    } else {
      EXPECT_EQ(StateOf(small), polytrain::v1::JOB_STATE_QUEUED);  // the gang holds the line
      Finish(s1, first);
      EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_RUNNING);
      EXPECT_EQ(StateOf(small), polytrain::v1::JOB_STATE_QUEUED);
    }
    TearDown();
  }
}

TEST_F(GangSchedulingTest, AGpuGangHoldsBackOnlyWhatWouldTakeAGpu) {
  OpenWithBackfill(0);
  RecordingChannel gpu1, gpu2, cpu1;
  const int64_t g1 = Connect("gpu1", &gpu1, 1, /*cuda=*/true);
  Connect("gpu2", &gpu2, 1, /*cuda=*/true);
  const Job busy = Submit("busy", 0, polytrain::v1::DEVICE_CUDA);  // on gpu1
  polytrain::v1::SubmitJobRequest request = Request("gpu-gang");
  request.mutable_spec()->set_replicas(2);
  request.mutable_spec()->set_batch_size(4);
  request.mutable_spec()->set_device(polytrain::v1::DEVICE_CUDA);
  const Job gang = *api_->SubmitJob(request, kAdmin);
  Connect("cpu1", &cpu1);
  Submit("small");
  const Job second = Submit("second");
  // The gang holds the line, but the CPU-only worker is of no use to it: a CPU job runs there,
  // and no CPU job takes gpu2, which the gang waits for.
  EXPECT_EQ(cpu1.Assigned(), (std::vector<std::string>{"small"}));
  EXPECT_TRUE(gpu2.Assigned().empty());
  EXPECT_EQ(StateOf(second), polytrain::v1::JOB_STATE_QUEUED);
  Finish(g1, busy);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(StateOf(second), polytrain::v1::JOB_STATE_QUEUED);
}

TEST_F(GangSchedulingTest, AGangLargerThanTheWorkersHoldsNoOneBack) {
  OpenWithBackfill(0);
  RecordingChannel w1, w2;
  Connect("w1", &w1);
  Connect("w2", &w2);
  const Job huge = SubmitGang("huge", 4);
  const Job small = Submit("small");
  EXPECT_EQ(StateOf(small), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(StateOf(huge), polytrain::v1::JOB_STATE_QUEUED);
}

TEST_F(GangSchedulingTest, AQueuedJobSaysWhatItWaitsFor) {
  OpenWithBackfill(3600);
  const Job gang = SubmitGang("gang", 3);
  EXPECT_EQ(Get(gang.id()).waiting_for(), "no worker is connected");
  polytrain::v1::SubmitJobRequest gpu_request = Request("gpu");
  gpu_request.mutable_spec()->set_device(polytrain::v1::DEVICE_CUDA);
  const Job gpu = *api_->SubmitJob(gpu_request, kAdmin);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  EXPECT_EQ(Get(gang.id()).waiting_for(),
            "needs 3 workers at once (spec.replicas); 1 of the 1 connected worker can run it");
  EXPECT_EQ(Get(gpu.id()).waiting_for(),
            "needs a worker with a GPU (spec.device); none of the 1 connected worker has one");
  const Job small = Submit("small");  // takes w1's only slot
  ASSERT_EQ(StateOf(small), polytrain::v1::JOB_STATE_RUNNING);
  Connect("w2", &w2);
  const Job behind = Submit("behind");  // takes w2
  ASSERT_EQ(StateOf(behind), polytrain::v1::JOB_STATE_RUNNING);
  const Job third = Submit("third");
  EXPECT_EQ(Get(third.id()).waiting_for(),
            "every worker that can run it is busy (2 of the 2 connected workers)");
  RecordingChannel w3;
  Connect("w3", &w3);  // the third job takes it; the gang now has 3 workers, all busy
  EXPECT_EQ(StateOf(third), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(gang.id()).waiting_for(),
            "waiting for 3 workers free at once; 0 of the 3 that can run it are free now");
  Finish(s1, small);
  EXPECT_EQ(Get(gang.id()).waiting_for(),
            "waiting for 3 workers free at once; 1 of the 3 that can run it are free now");
  // Listing fills it too; a job that runs waits for nothing.
  polytrain::v1::ListJobsRequest list;
  absl::StatusOr<polytrain::v1::ListJobsResponse> jobs = api_->ListJobs(list, kAdmin);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  int waiting = 0;
  for (const Job& job : jobs->jobs()) {
    EXPECT_EQ(job.waiting_for().empty(), job.state() != polytrain::v1::JOB_STATE_QUEUED)
        << job.spec().name();
    waiting += !job.waiting_for().empty();
  }
  EXPECT_EQ(waiting, 2);  // the gang and the GPU job
  EXPECT_EQ(Get(third.id()).waiting_for(), "");
}

TEST_F(GangSchedulingTest, RankZerosRendezvousReachesTheOtherRanks) {
  const Job gang = SubmitGang("gang", 3);
  RecordingChannel w1, w2, w3;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  Connect("w3", &w3);
  polytrain::v1::WorkerMessage ready;
  ready.mutable_rendezvous()->set_job_id(gang.id());
  ready.mutable_rendezvous()->set_attempt(1);
  ready.mutable_rendezvous()->set_address("10.0.0.1:29500");
  ASSERT_TRUE(protocol_->Handle(s2, ready).ok());  // from rank 1: not the gang's rendezvous
  ASSERT_TRUE(protocol_->Handle(s1, ready).ok());
  for (const RecordingChannel* channel : {&w1, &w2, &w3}) {
    int told = 0;
    for (const auto& m : channel->sent) {
      if (!m.has_rendezvous()) continue;
      ++told;
      EXPECT_EQ(m.rendezvous().address(), "10.0.0.1:29500");
      EXPECT_EQ(m.rendezvous().job_id(), gang.id());
      EXPECT_EQ(m.rendezvous().attempt(), 1);
    }
    EXPECT_EQ(told, channel == &w1 ? 0 : 1);
  }
  ready.mutable_rendezvous()->set_address("no-port");
  EXPECT_EQ(protocol_->Handle(s1, ready).message(), "rendezvous.address: must be host:port");
}

TEST_F(GangSchedulingTest, OnlyRankZeroReportsForTheGang) {
  const Job gang = SubmitGang("gang", 2);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  polytrain::v1::WorkerMessage metrics;
  metrics.mutable_metrics()->set_job_id(gang.id());
  metrics.mutable_metrics()->set_attempt(1);
  auto* point = metrics.mutable_metrics()->add_points();
  point->set_step(5);
  (*point->mutable_values())["loss"] = 1.0;
  ASSERT_TRUE(protocol_->Handle(s2, metrics).ok());
  polytrain::v1::GetMetricsRequest request;
  request.set_job_id(gang.id());
  EXPECT_EQ(api_->GetMetrics(request, kAdmin)->points_size(), 0);
  ASSERT_TRUE(protocol_->Handle(s1, metrics).ok());
  EXPECT_EQ(api_->GetMetrics(request, kAdmin)->points_size(), 1);
  Finish(s1, gang, {{"eval_accuracy", 0.9}});
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Get(gang.id()).final_metrics().at("eval_accuracy"), 0.9);
}

TEST_F(GangSchedulingTest, ALostRankRequeuesTheWholeGangAsOneAttempt) {
  const Job gang = SubmitGang("gang", 2, /*max_attempts=*/2);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  Fail(s1, gang, "data-parallel gradient all-reduce failed on rank 0: closed", /*gang_lost=*/true);
  EXPECT_EQ(w2.Cancelled(), (std::vector<std::string>{gang.id()}));  // the other rank stops
  // Queued again; w2 has not said its rank stopped, so its slot is still taken.
  Job again = Get(gang.id());
  EXPECT_EQ(again.state(), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(again.error(),
            "rank 0 on worker w1 lost its gang (attempt 1): data-parallel gradient all-reduce "
            "failed on rank 0: closed");
  // Its report of the first attempt's end frees the slot (and changes nothing else): the gang
  // starts again as attempt 2.
  polytrain::v1::WorkerMessage stale;
  stale.mutable_failed()->set_job_id(gang.id());
  stale.mutable_failed()->set_attempt(1);
  stale.mutable_failed()->set_cancelled(true);
  ASSERT_TRUE(protocol_->Handle(s2, stale).ok());
  again = Get(gang.id());
  EXPECT_EQ(again.state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(again.attempts(), 2);
  // The last attempt lost too: the job fails.
  Fail(s2, gang, "rank 1 could not reach rank 0's rendezvous", /*gang_lost=*/true);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(gang.id()).error(),
            "rank 1 on worker w2 lost its gang (attempt 2): rank 1 could not reach rank 0's "
            "rendezvous; no attempts left of 2");
}

TEST_F(GangSchedulingTest, ANewAttemptAvoidsAWorkerStillStoppingTheOldOne) {
  const Job gang = SubmitGang("gang", 2);
  RecordingChannel w1, w2, spare;
  const int64_t s1 = Connect("w1", &w1);
  Connect("w2", &w2);
  Fail(s1, gang, "peer gone", /*gang_lost=*/true);  // w2's rank has not stopped yet
  Connect("spare", &spare);
  const Job again = Get(gang.id());
  EXPECT_EQ(again.state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(std::vector<std::string>(again.rank_workers().begin(), again.rank_workers().end()),
            (std::vector<std::string>{"w1", "spare"}));
  EXPECT_TRUE(Ranks(w2, gang.id()).size() == 1);  // attempt 1 only
}

TEST_F(GangSchedulingTest, AGangOnAnyDeviceTakesWorkersOfOneKind) {
  polytrain::v1::SubmitJobRequest request = Request("any");
  request.mutable_spec()->set_replicas(2);
  request.mutable_spec()->set_batch_size(4);
  request.mutable_spec()->set_device(polytrain::v1::DEVICE_ANY);
  const Job gang = *api_->SubmitJob(request, kAdmin);
  RecordingChannel cpu1, gpu1, gpu2;
  Connect("cpu1", &cpu1);
  Connect("gpu1", &gpu1, 1, /*cuda=*/true);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_QUEUED);  // one of each kind: never mixed
  Connect("gpu2", &gpu2, 1, /*cuda=*/true);
  const Job running = Get(gang.id());
  EXPECT_EQ(running.state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(std::vector<std::string>(running.rank_workers().begin(), running.rank_workers().end()),
            (std::vector<std::string>{"gpu1", "gpu2"}));
}

TEST_F(GangSchedulingTest, ARanksOwnFailureFailsTheJobAndStopsTheOthers) {
  const Job gang = SubmitGang("gang", 2);
  RecordingChannel w1, w2;
  Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  Fail(s2, gang, "spec.dataset: no such file", /*gang_lost=*/false);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(gang.id()).error(), "rank 1: spec.dataset: no such file");
  EXPECT_EQ(w1.Cancelled(), (std::vector<std::string>{gang.id()}));
  EXPECT_TRUE(w2.Cancelled().empty());
}

TEST_F(GangSchedulingTest, OneLapsedRankRequeuesTheGang) {
  const Job gang = SubmitGang("gang", 2);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  protocol_->Disconnected(s2);  // its worker was killed
  polytrain::v1::WorkerMessage beat;
  beat.mutable_heartbeat()->add_running_job_ids(gang.id());
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(protocol_->Handle(s1, beat).ok());  // rank 0 renews its own lease only
  scheduler_->ExpireLeases(Later());
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_QUEUED);  // one worker left: it waits
  EXPECT_EQ(Get(gang.id()).error(), "lease of rank 1 expired on worker w2 (attempt 1)");
  EXPECT_EQ(w1.Cancelled(), (std::vector<std::string>{gang.id()}));
  RecordingChannel w3;
  Connect("w3", &w3);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_QUEUED);  // w1 is still stopping rank 0
  polytrain::v1::WorkerMessage idle;
  idle.mutable_heartbeat();  // w1 no longer claims the job: its rank stopped
  ASSERT_TRUE(protocol_->Handle(s1, idle).ok());
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(gang.id()).attempts(), 2);
}

TEST_F(GangSchedulingTest, CancelReachesEveryRank) {
  const Job gang = SubmitGang("gang", 3);
  RecordingChannel w1, w2, w3;
  Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  Connect("w3", &w3);
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(gang.id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
  for (const RecordingChannel* channel : {&w1, &w2, &w3}) {
    EXPECT_EQ(channel->Cancelled(), (std::vector<std::string>{gang.id()}));
  }
  // A rank that then fails with its gang lost (its peers left) ends the job as cancelled.
  Fail(s2, gang, "data-parallel gradient all-reduce failed", /*gang_lost=*/true);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_CANCELLED);
}

TEST_F(GangSchedulingTest, AGangsStepsAreRankZerosWhicheverRankReportsItsEnd) {
  const Job gang = SubmitGang("gang", 2);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  polytrain::v1::WorkerMessage points;
  points.mutable_metrics()->set_job_id(gang.id());
  points.mutable_metrics()->set_attempt(1);
  points.mutable_metrics()->add_points()->set_step(800);
  ASSERT_TRUE(protocol_->Handle(s1, points).ok());
  points.mutable_metrics()->mutable_points(0)->set_step(999);  // a rank > 0's points: ignored
  ASSERT_TRUE(protocol_->Handle(s2, points).ok());
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(gang.id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
  polytrain::v1::WorkerMessage failed;  // rank 1 answers first, with its own count (none)
  failed.mutable_failed()->set_job_id(gang.id());
  failed.mutable_failed()->set_attempt(1);
  failed.mutable_failed()->set_cancelled(true);
  failed.mutable_failed()->set_steps(3);
  ASSERT_TRUE(protocol_->Handle(s2, failed).ok());
  const Job cancelled = Get(gang.id());
  EXPECT_EQ(cancelled.state(), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(cancelled.steps(), 800);
}

TEST_F(GangSchedulingTest, RanksReattachToTheirOwnWorkersAfterARestart) {
  const Job gang = SubmitGang("gang", 2);
  {
    RecordingChannel w1, w2;
    Connect("w1", &w1);
    Connect("w2", &w2);
    ASSERT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_RUNNING);
    Scheduler::Options options;
    options.lease_seconds = 10;
    options.lease_thread = false;
    core_.reset();  // the coordinator restarts
    Open(options);
  }
  RecordingChannel w1, w2, stranger;
  Connect("stranger", &stranger, 1, false, {gang.id()});  // not one of its workers
  const int64_t s1 = Connect("w1", &w1, 1, false, {gang.id()});
  Connect("w2", &w2, 1, false, {gang.id()});
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(9));
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(gang.id()).attempts(), 1);
  EXPECT_TRUE(w1.Assigned().empty());
  Finish(s1, gang);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_SUCCEEDED);
}

TEST_F(GangSchedulingTest, ARankThatFinishedBeforeACoordinatorRestartIsNotWaitedFor) {
  const Job gang = SubmitGang("gang", 2);
  {
    RecordingChannel w1, w2;
    Connect("w1", &w1);
    const int64_t s2 = Connect("w2", &w2);
    ASSERT_EQ(Ranks(w2, gang.id()), (std::vector<std::pair<int, int>>{{1, 2}}));
    Finish(s2, gang);  // rank 1's part is done; rank 0 still evaluates
    EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_RUNNING);
    Scheduler::Options options;
    options.lease_seconds = 10;
    options.lease_thread = false;
    core_.reset();  // the coordinator restarts, and with it the ranks' done flags
    Open(options);
  }
  RecordingChannel w1, w2;
  Connect("w1", &w1, 1, false, {gang.id()});
  Connect("w2", &w2);  // claims nothing: its rank finished
  // Rank 1 counts as done, so its lease can no longer lapse: past every lease, only rank 0
  // (silent here, as no heartbeat is sent) is blamed. Waiting for rank 1 would blame it first,
  // as the rank whose worker left it.
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(11));
  EXPECT_EQ(Get(gang.id()).error(), "lease of rank 0 expired on worker w1 (attempt 1)");
}

TEST_F(GangSchedulingTest, ARestoredRankThatWasReattachedIsLostWhenItsWorkerRestarts) {
  const Job gang = SubmitGang("gang", 2);
  {
    RecordingChannel w1, w2;
    Connect("w1", &w1);
    Connect("w2", &w2);
    Scheduler::Options options;
    options.lease_seconds = 10;
    options.lease_thread = false;
    core_.reset();
    Open(options);
  }
  RecordingChannel w1, w2, w2_again;
  Connect("w1", &w1, 1, false, {gang.id()});
  // Rank 1 re-attached after the restart: it is running, not finished, so when its worker
  // restarts without it the gang is lost at once.
  protocol_->Disconnected(Connect("w2", &w2, 1, false, {gang.id()}));
  Connect("w2", &w2_again);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_NE(Get(gang.id()).error().find("worker w2 came back without rank 1"), std::string::npos)
      << Get(gang.id()).error();
}

TEST_F(GangSchedulingTest, ARankWhoseWorkerRestartedRequeuesTheGangAtOnce) {
  const Job gang = SubmitGang("gang", 2);
  RecordingChannel w1, w2, w2_again;
  Connect("w1", &w1, /*slots=*/1);
  const int64_t s2 = Connect("w2", &w2);
  protocol_->Disconnected(s2);
  Connect("w2", &w2_again);  // a new process: rank 1 is gone with the old one
  const Job requeued = Get(gang.id());
  // The whole gang is queued again at once (it waits for rank 0's worker to let go).
  EXPECT_EQ(requeued.state(), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_NE(requeued.error().find("worker w2 came back without rank 1 of the job (attempt 1)"),
            std::string::npos)
      << requeued.error();
  EXPECT_EQ(w1.Cancelled(), (std::vector<std::string>{gang.id()}));  // rank 0 is told to stop
}

}  // namespace
}  // namespace polytrain
