// Data-parallel jobs (spec.replicas > 1) through the coordinator's core: all ranks start
// together or not at all, one per worker; a waiting gang holds nothing, lets jobs behind it pass
// only while the backfill window lasts, and then holds the line; a queued job says what it waits
// for; rank 0's rendezvous reaches the other ranks. Losses and restarts: gang_recovery_test.cc.
#include "gtest/gtest.h"
#include "server/gang_test_fixture.h"

namespace polytrain {
namespace {

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
      EXPECT_EQ(Get(small.id()).waiting_for(),
                "held behind " + gang.id() +
                    " (3 replicas, queued before it), which waits for its workers at once: after "
                    "its first 0 s (coordinator flag --gang_backfill_seconds) nothing queued "
                    "behind a gang starts before it");
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
  EXPECT_EQ(Get(second.id()).waiting_for(),
            "held behind " + gang.id() +
                " (2 replicas, queued before it), which waits for its workers at once: meanwhile "
                "a job that needs no GPU starts only on a worker without one, and none of those "
                "is free");
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
            "waiting for 3 workers free at once; 1 of the 3 that can run it is free now");
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
  // From rank 1: not the gang's rendezvous, and refused (a real worker never sends it).
  EXPECT_EQ(protocol_->Handle(s2, ready).message(),
            "rendezvous: only rank 0 of a data-parallel attempt says where it listens; this worker "
            "holds rank 1 of job " +
                gang.id() + " attempt 1");
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
  // A job of one replica has no rendezvous to say.
  const Job single = Submit("single");
  RecordingChannel w4;
  const int64_t s4 = Connect("w4", &w4);
  ASSERT_EQ(w4.Assigned(), (std::vector<std::string>{"single"}));
  ready.mutable_rendezvous()->set_job_id(single.id());
  ready.mutable_rendezvous()->set_address("10.0.0.4:29500");
  EXPECT_EQ(protocol_->Handle(s4, ready).message(),
            "rendezvous: job " + single.id() +
                " is not data-parallel (spec.replicas 1): it has no rendezvous to say");
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
  point->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  point->set_step(5);
  (*point->mutable_values())["loss"] = 1.0;
  // Points from rank 1 (a real worker's never sends any) are refused, naming the rank; its
  // checkpoints too: the gang resumes from rank 0's.
  EXPECT_EQ(protocol_->Handle(s2, metrics).message(),
            "metrics: only rank 0 of a data-parallel attempt reports its points; this worker holds "
            "rank 1 of job " +
                gang.id() + " attempt 1");
  polytrain::v1::GetMetricsRequest request;
  request.set_job_id(gang.id());
  EXPECT_EQ(api_->GetMetrics(request, kAdmin)->points_size(), 0);
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id(gang.id());
  chunk.set_attempt(1);
  chunk.set_name("ckpt-000000000005.pt");
  chunk.set_session_key(w2.SessionKey());
  EXPECT_EQ(protocol_->CheckUpload(chunk).message(),
            "job_id: worker w2 holds rank 1 of attempt 1 of job " + gang.id() +
                "; only rank 0 of a data-parallel attempt stores its checkpoints");
  chunk.set_session_key(w1.SessionKey());
  EXPECT_TRUE(protocol_->CheckUpload(chunk).ok());
  ASSERT_TRUE(protocol_->Handle(s1, metrics).ok());
  EXPECT_EQ(api_->GetMetrics(request, kAdmin)->points_size(), 1);
  Finish(s1, gang, {{"eval_accuracy", 0.9}}, /*steps=*/5);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Get(gang.id()).final_metrics().at("eval_accuracy"), 0.9);
}

}  // namespace
}  // namespace polytrain
