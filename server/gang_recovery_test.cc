// Data-parallel jobs (spec.replicas > 1) when something goes wrong: a lost rank requeues the
// whole gang as one attempt (naming the rank whose worker is gone), a rank's own failure fails
// the job, a lapsed rank or a cancel reaches every rank, and ranks reattach to their workers
// after a coordinator restart.
#include <string>

#include "api/limits.h"
#include "gtest/gtest.h"
#include "server/gang_test_fixture.h"

namespace polytrain {
namespace {

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
  EXPECT_EQ(
      again.error(),
      "rank 0 on worker w1 lost its gang (attempt 1), rank 1 on worker w2 not seen gone (yet): "
      "data-parallel gradient all-reduce failed on rank 0: closed");
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
  EXPECT_EQ(
      Get(gang.id()).error(),
      "rank 1 on worker w2 lost its gang (attempt 2), rank 0 on worker w1 not seen gone (yet): "
      "rank 1 could not reach rank 0's rendezvous; no attempts left of 2");
  // The first attempt's end, replaced in `error`, is kept with its ranks' workers.
  const Job failed = Get(gang.id());
  ASSERT_EQ(failed.ended_attempts_size(), 1);
  EXPECT_EQ(failed.ended_attempts(0).attempt(), 1);
  EXPECT_EQ(std::vector<std::string>(failed.ended_attempts(0).workers().begin(),
                                     failed.ended_attempts(0).workers().end()),
            (std::vector<std::string>{"w1", "w2"}));
  EXPECT_EQ(failed.ended_attempts(0).reason(),
            "rank 0 on worker w1 lost its gang (attempt 1), rank 1 on worker w2 not seen gone "
            "(yet): data-parallel gradient all-reduce failed on rank 0: closed");
}

// The rank whose own gang process died reports after the survivor whose report requeued the
// gang: its words, the cause, join the ended attempt's reason; on the last attempt, the job's
// error.
TEST_F(GangSchedulingTest, ARankThatReportsItsLossLateIsHeard) {
  const Job gang = SubmitGang("gang", 2, /*max_attempts=*/2);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  const std::string said = "rank 1: its gang process was ended by signal 9";
  Fail(s1, gang, "rank 0: Connection closed by peer", /*gang_lost=*/true);
  const std::string first =
      "rank 0 on worker w1 lost its gang (attempt 1), rank 1 on worker w2 not seen gone (yet): "
      "rank 0: Connection closed by peer";
  ASSERT_EQ(Get(gang.id()).error(), first);
  FailAttempt(s2, gang, 1, said, /*gang_lost=*/true);
  const std::string heard =
      first + "; then rank 1 on worker w2 said: rank 1: its gang process was ended by signal 9";
  Job again = Get(gang.id());
  ASSERT_EQ(again.ended_attempts_size(), 1);
  EXPECT_EQ(again.ended_attempts(0).reason(), heard);
  // w2's report freed its slot: the gang runs again, its error still the last attempt's end.
  EXPECT_EQ(again.state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(again.attempts(), 2);
  EXPECT_EQ(again.error(), heard);
  // Said again: a stale report now (its stop was taken), the reason is not doubled.
  FailAttempt(s2, gang, 1, said, /*gang_lost=*/true);
  EXPECT_EQ(Get(gang.id()).ended_attempts(0).reason(), heard);
  // The last attempt: no ended attempt is recorded, the job fails; the late words join its error.
  Fail(s1, gang, "rank 0: Connection closed by peer", /*gang_lost=*/true);
  ASSERT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_FAILED);
  FailAttempt(s2, gang, 2, said, /*gang_lost=*/true);
  EXPECT_EQ(Get(gang.id()).error(),
            "rank 0 on worker w1 lost its gang (attempt 2), rank 1 on worker w2 not seen gone "
            "(yet): rank 0: Connection closed by peer; no attempts left of 2; then rank 1 on "
            "worker w2 said: rank 1: its gang process was ended by signal 9");
}

// Probe DO: a killed rank's worker is seen gone just after the survivor's report ended the
// attempt ("not seen gone (yet)"): its disconnect joins that reason, or the job's error on the
// last attempt. The reporter's own disconnect adds nothing.
TEST_F(GangSchedulingTest, AKilledRanksDisconnectAfterTheReportItRacedIsSaid) {
  const Job gang = SubmitGang("gang", 2, /*max_attempts=*/2);
  RecordingChannel w1, w2, w2_again, w2_last;
  int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  Fail(s1, gang, "rank 0: Connection reset by peer", /*gang_lost=*/true);
  const std::string first =
      "rank 0 on worker w1 lost its gang (attempt 1), rank 1 on worker w2 not seen gone (yet): "
      "rank 0: Connection reset by peer";
  ASSERT_EQ(Get(gang.id()).error(), first);
  protocol_->Disconnected(s2);
  Job again = Get(gang.id());
  ASSERT_EQ(again.ended_attempts_size(), 1);
  EXPECT_EQ(again.ended_attempts(0).reason(), first + "; then rank 1 on worker w2 disconnected");
  EXPECT_EQ(again.error(), again.ended_attempts(0).reason());

  const int64_t s2_again = Connect("w2", &w2_again);  // restarted: the gang runs as attempt 2
  ASSERT_EQ(Get(gang.id()).attempts(), 2);
  Fail(s1, gang, "rank 0: Connection reset by peer", /*gang_lost=*/true);
  ASSERT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_FAILED);
  protocol_->Disconnected(s1);  // the reporter: named already
  protocol_->Disconnected(s2_again);
  EXPECT_EQ(Get(gang.id()).error(),
            "rank 0 on worker w1 lost its gang (attempt 2), rank 1 on worker w2 not seen gone "
            "(yet): rank 0: Connection reset by peer; no attempts left of 2; then rank 1 on worker "
            "w2 disconnected");
  EXPECT_EQ(Get(gang.id()).ended_attempts(0).reason(),
            first + "; then rank 1 on worker w2 disconnected");  // once
}

// A rank's own words, resent after its worker's stream broke, still join the reason after its
// disconnect; a disconnect after its words adds nothing.
TEST_F(GangSchedulingTest, ARanksWordsFollowItsDisconnectButNoDisconnectFollowsItsWords) {
  const Job gang = SubmitGang("gang", 2, /*max_attempts=*/3);
  RecordingChannel w1, w2, w2_again, w2_third;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  Fail(s1, gang, "rank 0: closed", /*gang_lost=*/true);
  protocol_->Disconnected(s2);
  const int64_t s2_again = Connect("w2", &w2_again, /*slots=*/1, /*cuda=*/false, {gang.id()});
  FailAttempt(s2_again, gang, 1, "rank 1: its gang process was ended by signal 9",
              /*gang_lost=*/true);
  const std::string first =
      "rank 0 on worker w1 lost its gang (attempt 1), rank 1 on worker w2 not seen gone (yet): "
      "rank 0: closed";
  EXPECT_EQ(Get(gang.id()).ended_attempts(0).reason(),
            first +
                "; then rank 1 on worker w2 disconnected; then rank 1 on worker w2 said: "
                "rank 1: its gang process was ended by signal 9");

  ASSERT_EQ(Get(gang.id()).attempts(), 2);
  Fail(s1, gang, "rank 0: closed again", /*gang_lost=*/true);
  FailAttempt(s2_again, gang, 2, "rank 1: killed again", /*gang_lost=*/true);
  protocol_->Disconnected(s2_again);
  EXPECT_EQ(Get(gang.id()).ended_attempts(1).reason(),
            "rank 0 on worker w1 lost its gang (attempt 2), rank 1 on worker w2 not seen gone "
            "(yet): rank 0: closed again; then rank 1 on worker w2 said: rank 1: killed again");
}

// A rank's late words fill only the room an error has left: the first report's words stay.
TEST_F(GangSchedulingTest, ALateRanksWordsAreCutToTheRoomLeft) {
  const Job gang = SubmitGang("gang", 2, /*max_attempts=*/2);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  Fail(s1, gang, std::string(3000, 'a'), /*gang_lost=*/true);
  const std::string first = Get(gang.id()).error();
  FailAttempt(s2, gang, 1, std::string(5000, 'b'), /*gang_lost=*/true);
  const std::string reason = Get(gang.id()).ended_attempts(0).reason();
  EXPECT_EQ(reason.substr(0, first.size()), first);
  EXPECT_EQ(reason.size(), kMaxErrorLength) << reason.substr(first.size());
  EXPECT_EQ(reason.substr(reason.size() - 12), "bbb... (cut)");
}

TEST_F(GangSchedulingTest, ALostGangNamesTheRankWhoseWorkerIsGoneBeforeTheOneThatReported) {
  const Job gang = SubmitGang("gang", 2, /*max_attempts=*/2);
  RecordingChannel w1, w2;
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  protocol_->Disconnected(s2);  // rank 1's worker was killed; rank 0 notices in its all-reduce
  Fail(s1, gang, "data-parallel gradient all-reduce failed on rank 0: closed", /*gang_lost=*/true);
  EXPECT_EQ(Get(gang.id()).error(),
            "rank 1 on worker w2 disconnected; rank 0 on worker w1 lost its gang (attempt 1): "
            "data-parallel gradient all-reduce failed on rank 0: closed");
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
  const int64_t s1 = Connect("w1", &w1);
  const int64_t s2 = Connect("w2", &w2);
  Fail(s2, gang, "spec.dataset: no such file", /*gang_lost=*/false);
  EXPECT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(gang.id()).error(), "rank 1: spec.dataset: no such file");
  EXPECT_EQ(w1.Cancelled(), (std::vector<std::string>{gang.id()}));
  EXPECT_TRUE(w2.Cancelled().empty());
  // Rank 0, told to stop, reports its peer gone: the job's error stays the cause.
  FailAttempt(s1, gang, 1, "rank 0: Connection closed by peer", /*gang_lost=*/true);
  EXPECT_EQ(Get(gang.id()).error(), "rank 1: spec.dataset: no such file");
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
  CancelAsAdmin(gang.id());
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
  AddTrainPoint(points.mutable_metrics(), 800);
  ASSERT_TRUE(protocol_->Handle(s1, points).ok());
  points.mutable_metrics()->mutable_points(0)->set_step(999);  // a rank > 0's: refused
  EXPECT_EQ(protocol_->Handle(s2, points).code(), absl::StatusCode::kInvalidArgument);
  CancelAsAdmin(gang.id());
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
  Scheduler::Clock::time_point before;  // the restored leases start later
  {
    RecordingChannel w1, w2;
    Connect("w1", &w1);
    Connect("w2", &w2);
    ASSERT_EQ(StateOf(gang), polytrain::v1::JOB_STATE_RUNNING);
    Scheduler::Options options;
    options.lease_seconds = 10;
    options.lease_thread = false;
    before = Scheduler::Clock::now();
    core_.reset();  // the coordinator restarts
    Open(options);
  }
  RecordingChannel w1, w2, stranger;
  Connect("stranger", &stranger, 1, false, {gang.id()});  // not one of its workers
  const int64_t s1 = Connect("w1", &w1, 1, false, {gang.id()});
  Connect("w2", &w2, 1, false, {gang.id()});
  scheduler_->ExpireLeases(before + std::chrono::seconds(9));
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
