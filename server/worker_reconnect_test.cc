// A worker's session across reconnects: which claims re-attach its running jobs (only the
// process that ran them, proven by its previous session key and its worker token), what a worker
// that restarted loses at once, and a stream that died unnoticed being replaced.
#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

TEST_F(CoordinatorTest, AReconnectingWorkerReattachesItsRunningJob) {
  const Job job = Submit("survives-a-blip");
  RecordingChannel before, after;
  const int64_t first = Connect("w", &before);
  protocol_->Disconnected(first);
  const Scheduler::Clock::time_point reconnect = Scheduler::Clock::now();  // its lease: later
  const int64_t second = Connect("w", &after, 1, false, {job.id()});
  scheduler_->ExpireLeases(reconnect + std::chrono::seconds(9));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_TRUE(after.Assigned().empty());  // not assigned again
  Finish(second, job);
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Get(job.id()).attempts(), 1);
}

// A worker that says "cancelled" of a job nobody cancelled: not recorded as a user's cancel; the
// attempt is lost and the job queued again, its error saying what the worker claimed.
TEST_F(CoordinatorTest, ACancelNobodyAskedForLosesTheAttempt) {
  const Job job = Submit("never-cancelled");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage stopped;
  stopped.mutable_failed()->set_job_id(job.id());
  stopped.mutable_failed()->set_attempt(1);
  stopped.mutable_failed()->set_cancelled(true);
  stopped.mutable_failed()->set_error("stopped");
  ASSERT_TRUE(protocol_->Handle(session, stopped).ok());
  const Job again = Get(job.id());
  EXPECT_EQ(again.state(), polytrain::v1::JOB_STATE_RUNNING);  // on the free slot again
  EXPECT_EQ(again.attempts(), 2);
  EXPECT_EQ(again.error(),
            "worker w ended attempt 1 as cancelled, though no cancel was asked: stopped");
  EXPECT_FALSE(again.cancel_requested());
}

TEST_F(CoordinatorTest, AWorkerThatComesBackWithoutItsJobLosesTheAttemptAtOnce) {
  const Job job = Submit("lost-in-a-restart");
  RecordingChannel before, after;
  const int64_t first = Connect("w", &before);
  protocol_->Disconnected(first);
  scheduler_->ExpireLeases(Scheduler::Clock::now());  // its lease still runs
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  // A new process under the same name claims nothing: no lease to wait for.
  Connect("w", &after);
  const Job again = Get(job.id());
  EXPECT_EQ(again.attempts(), 2);
  EXPECT_EQ(again.state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(after.Assigned(), (std::vector<std::string>{"lost-in-a-restart"}));
  EXPECT_EQ(again.error(),
            "worker w came back without the job (attempt 1): it restarted or never received it");

  // Cancelled while its worker was away: it ends cancelled instead.
  const Job other = Submit("cancelled-while-away");
  RecordingChannel third, fourth;
  protocol_->Disconnected(Connect("x", &third));
  CancelAsAdmin(other.id());
  Connect("x", &fourth);
  EXPECT_EQ(State(other.id()), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(Get(other.id()).error(), "cancelled; its worker restarted");
}

TEST_F(CoordinatorTest, OnlyTheProcessThatRanAJobTakesItBack) {
  const Job job = Submit("not-yours");
  RecordingChannel owner, squatter, back;
  protocol_->Disconnected(Connect("w", &owner));
  // Another holder of a worker token, under the away worker's name, claims its job without the
  // key of the session that ran it: the job is not its, and it is told to stop it.
  polytrain::v1::Hello hello;
  hello.set_name("w");
  hello.add_running_job_ids(job.id());
  hello.set_previous_session_key("0123456789abcdef0123456789abcdef");
  const absl::StatusOr<int64_t> intruder = protocol_->Connected(hello, &squatter);
  ASSERT_TRUE(intruder.ok()) << intruder.status();
  EXPECT_EQ(squatter.Cancelled(), (std::vector<std::string>{job.id()}));
  polytrain::v1::WorkerMessage finished;
  finished.mutable_finished()->set_job_id(job.id());
  finished.mutable_finished()->set_attempt(1);
  // Its report of the job's end is dropped, as that of an attempt told to stop.
  EXPECT_TRUE(protocol_->Handle(*intruder, finished).ok());
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id(job.id());
  chunk.set_attempt(1);
  chunk.set_name("ckpt-000000000100.pt");
  chunk.set_session_key(squatter.SessionKey());
  EXPECT_EQ(protocol_->CheckUpload(chunk).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  protocol_->Disconnected(*intruder);
  // The process that ran it comes back with its key and finishes attempt 1.
  const int64_t returned = Connect("w", &back, 1, false, {job.id()});
  EXPECT_TRUE(back.Cancelled().empty());
  Finish(returned, job);
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Get(job.id()).attempts(), 1);
}

TEST_F(CoordinatorTest, AnAwayWorkersNameIsBoundToTheTokenItsJobsRanUnder) {
  const Job job = Submit("pool-a-job");
  RecordingChannel owner, other_pool, back;
  polytrain::v1::Hello hello;
  hello.set_name("w");
  const absl::StatusOr<int64_t> first =
      protocol_->Connected(hello, &owner, WorkerToken{"pool-a", "fingerprint-a"});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(owner.Assigned(), (std::vector<std::string>{"pool-a-job"}));
  // Its session's key is not enough to replace its stream under another token.
  polytrain::v1::Hello replacing = hello;
  replacing.set_previous_session_key(owner.SessionKey());
  RecordingChannel stolen_key;
  EXPECT_EQ(protocol_->Connected(replacing, &stolen_key, WorkerToken{"pool-b", "fingerprint-b"})
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(owner.closed.ok());  // the owner's stream stays open
  protocol_->Disconnected(*first);
  // A holder of another worker token can neither take the name while the job waits for its
  // worker, nor end the job by claiming nothing under it.
  const absl::Status refused =
      protocol_->Connected(hello, &other_pool, WorkerToken{"pool-b", "fingerprint-b"}).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  // Which jobs is not said to a holder of another pool's token.
  EXPECT_EQ(refused.message(),
            "hello.name: worker w has jobs running under another worker token; until they end, "
            "only a worker with that token may use the name");
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(job.id()).attempts(), 1);
  // The worker of pool-a comes back with its key and finishes attempt 1.
  hello.add_running_job_ids(job.id());
  hello.set_previous_session_key(owner.SessionKey());
  const absl::StatusOr<int64_t> returned =
      protocol_->Connected(hello, &back, WorkerToken{"pool-a", "fingerprint-a"});
  ASSERT_TRUE(returned.ok()) << returned.status();
  EXPECT_TRUE(back.Cancelled().empty());
  Finish(*returned, job);
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Get(job.id()).attempts(), 1);
  // Once its jobs ended, the name is anyone's again.
  RecordingChannel later;
  protocol_->Disconnected(*returned);
  polytrain::v1::Hello fresh;
  fresh.set_name("w");
  EXPECT_TRUE(protocol_->Connected(fresh, &later, WorkerToken{"pool-b", "fingerprint-b"}).ok());
}

TEST_F(CoordinatorTest, ARankRestoredAfterARestartIsBoundToTheTokenThatReattachesIt) {
  const Job job = Submit("restored");
  RecordingChannel before;
  polytrain::v1::Hello hello;
  hello.set_name("w");
  ASSERT_TRUE(protocol_->Connected(hello, &before, WorkerToken{"pool-a", "fingerprint-a"}).ok());
  ReopenWithMetrics(nullptr);  // the coordinator restarts: keys and bindings are gone
  // The name alone re-attaches the restored rank; the token it comes with binds it from then on.
  RecordingChannel back, other_pool;
  hello.add_running_job_ids(job.id());
  const absl::StatusOr<int64_t> returned =
      protocol_->Connected(hello, &back, WorkerToken{"pool-a", "fingerprint-a"});
  ASSERT_TRUE(returned.ok()) << returned.status();
  EXPECT_TRUE(back.Cancelled().empty());
  protocol_->Disconnected(*returned);
  polytrain::v1::Hello squatter;
  squatter.set_name("w");
  EXPECT_EQ(protocol_->Connected(squatter, &other_pool, WorkerToken{"pool-b", "fingerprint-b"})
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(job.id()).attempts(), 1);
}

TEST_F(CoordinatorTest, AWorkerBackBeforeItsOldStreamClosedReplacesItByItsKey) {
  const Job job = Submit("blip");
  RecordingChannel old_stream, impostor, new_stream;
  const int64_t first = Connect("w", &old_stream);
  // Without the old stream's key, the name stays taken.
  polytrain::v1::Hello hello;
  hello.set_name("w");
  hello.add_running_job_ids(job.id());
  const absl::Status refused = protocol_->Connected(hello, &impostor).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(refused.message(),
            "hello.name: a worker named w is already connected (a worker back before its old "
            "stream was seen to close names that stream's key in hello.previous_session_key)");
  // With it, the new stream replaces the old one (closed) and keeps the job.
  const int64_t second = Connect("w", &new_stream, 1, false, {job.id()});
  EXPECT_EQ(old_stream.closed.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(new_stream.Cancelled().empty());
  EXPECT_TRUE(new_stream.Assigned().empty());
  polytrain::v1::WorkerMessage beat;
  beat.mutable_heartbeat();
  EXPECT_FALSE(protocol_->Handle(first, beat).ok());  // the old session is gone
  protocol_->Disconnected(first);                     // and its late close changes nothing
  Finish(second, job);
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Get(job.id()).attempts(), 1);
}

TEST_F(CoordinatorTest, APreviousSessionKeyHasALengthLimit) {
  RecordingChannel channel;
  polytrain::v1::Hello hello;
  hello.set_name("w");
  hello.set_previous_session_key(std::string(64, 'a'));
  EXPECT_TRUE(protocol_->Connected(hello, &channel).ok());
  hello.set_name("x");
  hello.set_previous_session_key(std::string(65, 'a'));
  EXPECT_EQ(protocol_->Connected(hello, &channel).status().message(),
            "hello.previous_session_key: length must be in [0, 64] characters, got 65");
}

// A coordinator whose start-up outlasts a lease (a large store) must not requeue the jobs it
// restored before their workers could reach it: their lease starts when it serves.
TEST_F(CoordinatorTest, ARestoredJobsLeaseStartsWhenTheCoordinatorServes) {
  const Job job = Submit("restored");
  RecordingChannel channel;
  Connect("w", &channel);
  Scheduler::Options options;
  options.lease_seconds = 10;
  options.lease_thread = false;
  options.restored_leases_wait_for_serving = true;
  core_.reset();
  Open(options);
  scheduler_->ExpireLeases(Later());  // still starting: not yet serving
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  const Scheduler::Clock::time_point before = Scheduler::Clock::now();  // its lease starts later
  scheduler_->Serving();
  scheduler_->ExpireLeases(before + std::chrono::seconds(9));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  scheduler_->ExpireLeases(Later());  // its worker never came back
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_QUEUED);
}

}  // namespace
}  // namespace polytrain
