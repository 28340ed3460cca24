// The coordinator's scheduling rules through its core (ClientApi, WorkerProtocol, Scheduler): order
// and placement, leases and requeues, stale attempts and cancels. In process and
// deterministic: a real SQLite file, workers stood in for by channels that record what the
// scheduler sends, and lease expiry driven by explicit times instead of waiting. The client API,
// the worker protocol's checks, time limits and the Prometheus series have files of their own.
#include <chrono>

#include "gtest/gtest.h"
#include "server/coordinator_core.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

TEST_F(CoordinatorTest, HigherPriorityFirstThenFifo) {
  Submit("low-1");
  Submit("high", 5);
  Submit("low-2");
  Submit("mid", 1);
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel, /*slots=*/1);
  ASSERT_EQ(channel.Assigned(), (std::vector<std::string>{"high"}));
  for (const char* next : {"mid", "low-1", "low-2"}) {
    polytrain::v1::ListJobsRequest running;
    running.add_states(polytrain::v1::JOB_STATE_RUNNING);
    Finish(session, api_->ListJobs(running, kAdmin)->jobs(0));
    EXPECT_EQ(channel.Assigned().back(), next);
  }
}

TEST_F(CoordinatorTest, CudaJobsWaitForAGpuWorkerAndSlotsAreRespected) {
  const Job gpu = Submit("gpu", 0, polytrain::v1::DEVICE_CUDA);
  Submit("cpu-1");
  Submit("cpu-2");
  Submit("cpu-3");
  RecordingChannel cpu_worker, gpu_worker;
  Connect("cpu-only", &cpu_worker, /*slots=*/2);
  EXPECT_EQ(cpu_worker.Assigned(), (std::vector<std::string>{"cpu-1", "cpu-2"}));
  EXPECT_EQ(State(gpu.id()), polytrain::v1::JOB_STATE_QUEUED);
  Connect("gpu", &gpu_worker, /*slots=*/2, /*cuda=*/true);
  EXPECT_EQ(gpu_worker.Assigned(), (std::vector<std::string>{"gpu", "cpu-3"}));
}

TEST_F(CoordinatorTest, LapsedLeasesRequeueUntilMaxAttemptsThenFail) {
  const Job job = Submit("flaky", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/2);
  RecordingChannel first;
  const int64_t session = Connect("w1", &first);
  protocol_->Disconnected(session);
  scheduler_->ExpireLeases(Scheduler::Clock::now());  // not yet
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  scheduler_->ExpireLeases(Later());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(Get(job.id()).error(), "lease expired on worker w1 (attempt 1)");

  RecordingChannel second;
  const int64_t w2 = Connect("w2", &second);
  EXPECT_EQ(Get(job.id()).attempts(), 2);
  polytrain::v1::WorkerMessage points;  // it trained to step 150 before it fell silent
  points.mutable_metrics()->set_job_id(job.id());
  points.mutable_metrics()->set_attempt(2);
  for (int64_t step : {50, 100, 150}) AddTrainPoint(points.mutable_metrics(), step);
  ASSERT_TRUE(protocol_->Handle(w2, points).ok());
  scheduler_->ExpireLeases(Later());  // w2 alive but silent about it: taken back
  EXPECT_EQ(second.Cancelled(), (std::vector<std::string>{job.id()}));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(job.id()).error(), "lease expired on worker w2 (attempt 2); no attempts left of 2");
  EXPECT_EQ(Get(job.id()).steps(), 150);  // how far it trained, by its points
}

// Another process holds the database's write lock (a backup, an operator's sqlite3 shell): the
// requeue of a lapsed lease cannot be stored. The job stays RUNNING where memory and store agree,
// and the lease loop requeues it once the lock is gone, instead of losing it until a restart.
TEST_F(CoordinatorTest, ARequeueTheStoreRefusedIsRetriedByTheLeaseLoop) {
  const Job job = Submit("patient");
  RecordingChannel first;
  protocol_->Disconnected(Connect("w1", &first));
  const auto refused_at = Later();
  WhileTheStoreIsLocked([&] { scheduler_->ExpireLeases(refused_at); });
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(scheduler_->QueuedJobs(), 0u);

  RecordingChannel second;
  Connect("w2", &second);
  EXPECT_TRUE(second.Assigned().empty());  // the job is still w1's attempt 1
  // The lease loop backs off for a while after a refused write (each one held the lock for the
  // busy timeout), then tries again.
  scheduler_->ExpireLeases(refused_at + std::chrono::seconds(1));
  EXPECT_TRUE(second.Assigned().empty());
  scheduler_->ExpireLeases(refused_at + std::chrono::seconds(6));
  EXPECT_EQ(second.Assigned(), (std::vector<std::string>{"patient"}));
  EXPECT_EQ(Get(job.id()).attempts(), 2);
  EXPECT_EQ(Get(job.id()).error(), "lease expired on worker w1 (attempt 1)");
}

// A placement the store refused (its disk full, another process's lock): the job stays queued,
// says why, and the lease loop places it once the store writes again. Before, nothing placed it
// until some other event came (a submit, a worker), however long the queue waited.
TEST_F(CoordinatorTest, APlacementTheStoreRefusedIsRetriedByTheLeaseLoop) {
  const Job job = Submit("waits-for-the-store");
  RecordingChannel channel;
  WhileTheStoreIsLocked([&] { Connect("w1", &channel); });
  EXPECT_TRUE(channel.Assigned().empty());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(Get(job.id()).waiting_for().rfind("the coordinator cannot write its database (", 0), 0u)
      << Get(job.id()).waiting_for();
  // The lease loop leaves the store alone for a while after the refusal, then places it.
  scheduler_->ExpireLeases(Scheduler::Clock::now());
  EXPECT_TRUE(channel.Assigned().empty());
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(6));
  EXPECT_EQ(channel.Assigned(), (std::vector<std::string>{"waits-for-the-store"}));
  EXPECT_EQ(Get(job.id()).waiting_for(), "");
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
}

// A requeue the store refused for a cause other than a lapsed lease (here: the worker came back
// without the job) is marked and retried by the lease loop; a cancel that arrives meanwhile
// wins over it.
TEST_F(CoordinatorTest, ACancelWhileARequeueWaitsForTheStoreCancels) {
  const Job job = Submit("cancelled-meanwhile");
  RecordingChannel first, back;
  protocol_->Disconnected(Connect("w1", &first));
  WhileTheStoreIsLocked([&] { Connect("w1", &back); });  // without the job: requeue refused
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  CancelAsAdmin(job.id());
  scheduler_->ExpireLeases(Scheduler::Clock::now());  // no lease lapsed: the mark is retried
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(Get(job.id()).error(),
            "cancelled; worker w1 came back without the job (attempt 1): it restarted or never "
            "received it");
  EXPECT_TRUE(back.Assigned().empty());
}

// A worker wedged while stopping a job's old attempt keeps that job off its free slot, but not
// the jobs queued behind it.
TEST_F(CoordinatorTest, AJobWaitingForItsWorkerToStopDoesNotHoldUpTheQueue) {
  const Job stuck = Submit("stuck");
  RecordingChannel channel;
  Connect("w", &channel, /*slots=*/2);
  scheduler_->ExpireLeases(Later());  // alive but silent about it: told to stop, requeued
  EXPECT_EQ(channel.Cancelled(), (std::vector<std::string>{stuck.id()}));
  EXPECT_EQ(State(stuck.id()), polytrain::v1::JOB_STATE_QUEUED);
  Submit("behind");
  EXPECT_EQ(channel.Assigned(), (std::vector<std::string>{"stuck", "behind"}));
  EXPECT_EQ(State(stuck.id()), polytrain::v1::JOB_STATE_QUEUED);
}

TEST_F(CoordinatorTest, MessagesFromAStaleAttemptAreIgnored) {
  const Job job = Submit("steady");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage stale;
  stale.mutable_finished()->set_job_id(job.id());
  stale.mutable_finished()->set_attempt(7);
  ASSERT_TRUE(protocol_->Handle(session, stale).ok());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
}

TEST_F(CoordinatorTest, CancellationWinsOverARequeue) {
  const Job job = Submit("doomed");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  CancelAsAdmin(job.id());
  EXPECT_EQ(channel.Cancelled(), (std::vector<std::string>{job.id()}));
  protocol_->Disconnected(session);  // the worker dies before confirming
  scheduler_->ExpireLeases(Later());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_CANCELLED);
}

// A job's metric points are bounded in bytes (all attempts): a batch that would pass the bound
// is refused naming it, what was stored stays, and an attempt resuming from a checkpoint (which
// deletes the points after it) has room again.
TEST_F(CoordinatorTest, AJobsMetricPointsAreBoundedInBytes) {
  Scheduler::Options options;
  options.lease_thread = false;
  polytrain::v1::MetricPoint one;  // as AddTrainPoint makes them
  one.set_step(10);
  one.set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  const int64_t point_bytes = static_cast<int64_t>(one.ByteSizeLong());
  options.max_metric_bytes_per_job = 3 * point_bytes;  // room for three such points
  Open(options);
  const Job job = Submit("chatty");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  auto metrics = [&](std::vector<int64_t> steps) {
    polytrain::v1::WorkerMessage message;
    message.mutable_metrics()->set_job_id(job.id());
    message.mutable_metrics()->set_attempt(1);
    for (int64_t step : steps) AddTrainPoint(message.mutable_metrics(), step);
    return protocol_->Handle(session, message);
  };
  auto stored = [&] {
    polytrain::v1::GetMetricsRequest request;
    request.set_job_id(job.id());
    return api_->GetMetrics(request, kAdmin)->points_size();
  };
  ASSERT_TRUE(metrics({10, 20}).ok());
  const absl::Status refused = metrics({30, 40});
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message().rfind("metrics.points: job " + job.id() + " stores ", 0), 0u)
      << refused;
  EXPECT_EQ(stored(), 2);
  ASSERT_TRUE(metrics({30}).ok());  // exactly at the bound
  EXPECT_EQ(stored(), 3);
  EXPECT_FALSE(metrics({40}).ok());
  polytrain::v1::WorkerMessage started;
  started.mutable_started()->set_job_id(job.id());
  started.mutable_started()->set_attempt(1);
  started.mutable_started()->set_resumed_from_step(10);  // the points past step 10 go
  ASSERT_TRUE(protocol_->Handle(session, started).ok());
  EXPECT_EQ(stored(), 1);
  ASSERT_TRUE(metrics({20, 30}).ok());
  EXPECT_EQ(stored(), 3);
}

TEST_F(CoordinatorTest, ANewAttemptReplacesWhatTheDeadOneStoredPastItsCheckpoint) {
  const Job job = Submit("resumable");
  auto metrics = [&](int64_t session, int attempt, std::vector<int64_t> steps) {
    polytrain::v1::WorkerMessage message;
    message.mutable_metrics()->set_job_id(job.id());
    message.mutable_metrics()->set_attempt(attempt);
    for (int64_t step : steps) AddTrainPoint(message.mutable_metrics(), step);
    return protocol_->Handle(session, message);
  };
  auto started = [&](int64_t session, int attempt, int64_t step) {
    polytrain::v1::WorkerMessage message;
    message.mutable_started()->set_job_id(job.id());
    message.mutable_started()->set_attempt(attempt);
    message.mutable_started()->set_resumed_from_step(step);
    return protocol_->Handle(session, message);
  };
  auto stored_steps = [&] {
    polytrain::v1::GetMetricsRequest request;
    request.set_job_id(job.id());
    absl::StatusOr<polytrain::v1::GetMetricsResponse> response = api_->GetMetrics(request, kAdmin);
    std::vector<int64_t> steps;
    if (!response.ok()) return steps;
    for (const auto& point : response->points()) steps.push_back(point.step());
    return steps;
  };
  RecordingChannel first, second;
  const int64_t dead = Connect("w1", &first);
  ASSERT_TRUE(started(dead, 1, 0).ok());
  ASSERT_TRUE(metrics(dead, 1, {10, 20, 30, 40}).ok());
  protocol_->Disconnected(dead);
  scheduler_->ExpireLeases(Later());
  const int64_t rescuer = Connect("w2", &second);
  ASSERT_EQ(Get(job.id()).attempts(), 2);

  EXPECT_EQ(started(rescuer, 2, -1).message(),
            "started.resumed_from_step: must be in [0, 1000000000], got -1");
  ASSERT_TRUE(started(rescuer, 1, 0).ok());  // the dead attempt's: ignored
  EXPECT_EQ(stored_steps(), (std::vector<int64_t>{10, 20, 30, 40}));
  ASSERT_TRUE(started(rescuer, 2, 20).ok());  // resumes from the checkpoint at step 20
  EXPECT_EQ(stored_steps(), (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(Get(job.id()).resumed_from_step(), 20);
  ASSERT_TRUE(metrics(rescuer, 2, {30}).ok());
  ASSERT_TRUE(metrics(rescuer, 2, {30}).ok());  // sent again after a reconnect: not doubled
  EXPECT_EQ(stored_steps(), (std::vector<int64_t>{10, 20, 30}));
}

TEST_F(CoordinatorTest, AnAttemptGivenUpOnIsToldToStopWhenItsWorkerReturns) {
  const Job job = Submit("outlived");
  RecordingChannel first, rescuer, back;
  const int64_t away = Connect("w1", &first);
  protocol_->Disconnected(away);  // gone longer than its lease
  scheduler_->ExpireLeases(Later());
  Connect("w2", &rescuer);
  EXPECT_EQ(Get(job.id()).attempts(), 2);
  // A checkpoint attempt 1 uploads meanwhile is refused: it must not become the job's.
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id(job.id());
  chunk.set_name("ckpt-000000000100.pt");
  chunk.set_attempt(1);
  chunk.set_session_key(rescuer.SessionKey());
  EXPECT_EQ(protocol_->CheckUpload(chunk).message(),
            "attempt: attempt 1 of job " + job.id() + " is not running (attempt 2 is)");
  chunk.set_attempt(2);
  EXPECT_TRUE(protocol_->CheckUpload(chunk).ok());
  // Only from the worker that runs it: not with another session's key, nor with none; and a
  // worker stores only checkpoints.
  RecordingChannel bystander;
  const int64_t bystander_session = Connect("w3", &bystander);
  chunk.set_session_key(bystander.SessionKey());
  EXPECT_EQ(protocol_->CheckUpload(chunk).message(),
            "job_id: attempt 2 of job " + job.id() +
                " does not run on worker w3 (a worker stores only its own jobs' checkpoints)");
  chunk.set_session_key("");
  EXPECT_EQ(protocol_->CheckUpload(chunk).code(), absl::StatusCode::kPermissionDenied);
  chunk.set_session_key(rescuer.SessionKey());
  chunk.set_name("notes.txt");
  EXPECT_EQ(protocol_->CheckUpload(chunk).message(),
            "name: a worker stores only checkpoints (ckpt-<12 digits>.pt), got 'notes.txt'");
  chunk.set_name("ckpt-000000000100.pt");
  protocol_->Disconnected(bystander_session);  // it would take the next job
  // w1 comes back still training attempt 1: it must stop, and its slot is busy until it has.
  const int64_t returned = Connect("w1", &back, 1, false, {job.id()});
  EXPECT_EQ(back.Cancelled(), (std::vector<std::string>{job.id()}));
  Submit("next");
  EXPECT_TRUE(back.Assigned().empty());
  polytrain::v1::WorkerMessage beat;
  beat.mutable_heartbeat();  // it no longer claims the job: the slot is free again
  ASSERT_TRUE(protocol_->Handle(returned, beat).ok());
  EXPECT_EQ(back.Assigned(), (std::vector<std::string>{"next"}));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);  // attempt 2 goes on
}

TEST_F(CoordinatorTest, AJobGivenBackByAStoppingWorkerIsRequeuedAndGoesElsewhere) {
  // One attempt allowed: a planned shutdown does not use it up.
  const Job job = Submit("handed-over", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/1);
  RecordingChannel stopping, other;
  const int64_t session = Connect("w1", &stopping, /*slots=*/2);
  ASSERT_EQ(stopping.Assigned(), (std::vector<std::string>{"handed-over"}));
  polytrain::v1::WorkerMessage back;
  back.mutable_failed()->set_job_id(job.id());
  back.mutable_failed()->set_attempt(1);
  back.mutable_failed()->set_error("cancelled at step 7");
  back.mutable_failed()->set_released(true);
  back.mutable_failed()->set_worker_exits(true);
  ASSERT_TRUE(protocol_->Handle(session, back).ok());
  const Job requeued = Get(job.id());
  EXPECT_EQ(requeued.state(), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(requeued.error(), "worker w1 shut down during attempt 1 and gave the job back");
  // The stopping worker has a free slot, but gets nothing more: not this job, nor a new one.
  Submit("later");
  EXPECT_EQ(stopping.Assigned().size(), 1u);
  Connect("w2", &other, /*slots=*/2);
  EXPECT_EQ(other.Assigned(), (std::vector<std::string>{"handed-over", "later"}));
  EXPECT_EQ(Get(job.id()).attempts(), 2);
  EXPECT_EQ(Get(job.id()).attempts_given_back(), 1);
  EXPECT_EQ(Get(job.id()).state(), polytrain::v1::JOB_STATE_RUNNING);
}

// A worker that let an attempt go (its lease lapsed while it was refused) sends that report
// again on its next session: the job is elsewhere, and the worker, which stays, still gets work.
// Only worker_exits keeps jobs off a worker.
TEST_F(CoordinatorTest, AWorkerThatLetAnAttemptGoStillGetsWork) {
  const Job job = Submit("let-go");
  RecordingChannel first, second;
  protocol_->Disconnected(Connect("w1", &first));
  scheduler_->ExpireLeases(Later());  // requeued while its worker is away
  polytrain::v1::WorkerMessage let_go;
  let_go.mutable_failed()->set_job_id(job.id());
  let_go.mutable_failed()->set_attempt(1);
  let_go.mutable_failed()->set_error("let go: its lease lapsed");
  let_go.mutable_failed()->set_released(true);
  const int64_t session = Connect("w1", &second, /*slots=*/2, false, {job.id()});
  ASSERT_TRUE(protocol_->Handle(session, let_go).ok());
  polytrain::v1::WorkerMessage beat;
  beat.mutable_heartbeat();  // it no longer claims the job
  ASSERT_TRUE(protocol_->Handle(session, beat).ok());
  Submit("next");
  EXPECT_EQ(Get(job.id()).state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(second.Assigned().size(), 2u);  // attempt 2 of the job, and the next one
  // The same report saying the worker exits: nothing more for it.
  let_go.mutable_failed()->set_worker_exits(true);
  ASSERT_TRUE(protocol_->Handle(session, let_go).ok());
  Submit("after");
  EXPECT_EQ(second.Assigned().size(), 2u);
}

// A worker that gives a job back and stays gets it again (the only slot there is), but each
// such attempt counts: the job fails once max_attempts are used, rather than bouncing for ever.
TEST_F(CoordinatorTest, GiveBacksOfAWorkerThatStaysCountAgainstMaxAttempts) {
  const Job job = Submit("bounced", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/2);
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_EQ(channel.Assigned().size(), static_cast<size_t>(attempt));
    polytrain::v1::WorkerMessage back;
    back.mutable_failed()->set_job_id(job.id());
    back.mutable_failed()->set_attempt(attempt);
    back.mutable_failed()->set_error("let go");
    back.mutable_failed()->set_released(true);
    ASSERT_TRUE(protocol_->Handle(session, back).ok());
    polytrain::v1::WorkerMessage beat;
    beat.mutable_heartbeat();  // it no longer claims the job: its slot is free
    ASSERT_TRUE(protocol_->Handle(session, beat).ok());
  }
  const Job failed = Get(job.id());
  EXPECT_EQ(failed.state(), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(failed.attempts(), 2);
  EXPECT_EQ(failed.attempts_given_back(), 0);
  EXPECT_EQ(failed.error(), "worker w1 gave attempt 2 back: let go; no attempts left of 2");
  EXPECT_EQ(channel.Assigned().size(), 2u);
  // A failure reported without a word still ends the job with a reason.
  const Job silent = Submit("silent");
  ASSERT_EQ(channel.Assigned().size(), 3u);
  polytrain::v1::WorkerMessage failure;
  failure.mutable_failed()->set_job_id(silent.id());
  failure.mutable_failed()->set_attempt(1);
  ASSERT_TRUE(protocol_->Handle(session, failure).ok());
  EXPECT_EQ(Get(silent.id()).state(), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(silent.id()).error(), "worker w1 reported the attempt failed without saying why");
}

// A job a worker gave back while staying (no room for its files) goes to another worker that can
// run it, once that one has a free slot, not straight back (probe CP: three attempts in 15 ms).
TEST_F(CoordinatorTest, AJobGivenBackGoesToAnotherWorkerThatCanRunIt) {
  RecordingChannel full, roomy;
  const int64_t full_session = Connect("full", &full);
  const int64_t roomy_session = Connect("roomy", &roomy);
  const Job busy = Submit("busy");
  const Job job = Submit("needs-room");
  ASSERT_EQ(full.Assigned().size() + roomy.Assigned().size(), 2u);
  const int64_t holder = full.Assigned().back() == "needs-room" ? full_session : roomy_session;
  RecordingChannel& other = holder == full_session ? roomy : full;
  const int64_t other_session = holder == full_session ? roomy_session : full_session;
  polytrain::v1::WorkerMessage back;
  back.mutable_failed()->set_job_id(job.id());
  back.mutable_failed()->set_attempt(1);
  back.mutable_failed()->set_error("no room");
  back.mutable_failed()->set_released(true);
  ASSERT_TRUE(protocol_->Handle(holder, back).ok());
  polytrain::v1::WorkerMessage beat;
  beat.mutable_heartbeat();  // its slot is free again, but the job waits for the other worker
  ASSERT_TRUE(protocol_->Handle(holder, beat).ok());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_QUEUED);
  Finish(other_session, busy, {{"eval_accuracy", 0.5}}, /*steps=*/10);
  EXPECT_EQ(other.Assigned().back(), "needs-room");
  EXPECT_EQ(Get(job.id()).attempts(), 2);
}

TEST_F(CoordinatorTest, ACancelSentWhileItsWorkerWasAwayIsSentAgainOnReturn) {
  const Job job = Submit("cancel-me");
  RecordingChannel before, after;
  protocol_->Disconnected(Connect("w", &before));
  CancelAsAdmin(job.id());
  EXPECT_TRUE(before.Cancelled().empty());  // nobody to tell
  EXPECT_TRUE(Get(job.id()).cancel_requested());
  // The request is stored: a restarted coordinator still sends it when the worker is back.
  Scheduler::Options options;
  options.lease_thread = false;
  core_.reset();
  Open(options);
  Connect("w", &after, 1, false, {job.id(), job.id()});  // a claim repeated counts once
  EXPECT_EQ(after.Cancelled(), (std::vector<std::string>{job.id()}));
}

}  // namespace
}  // namespace polytrain
