// The coordinator's rules through its core (ClientApi, WorkerProtocol, Scheduler), in process and
// deterministic: a real SQLite file, workers stood in for by channels that record what the
// scheduler sends, and lease expiry driven by explicit times instead of waiting.
#include <filesystem>

#include "absl/strings/match.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/coordinator_core.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::CoordinatorMessage;
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

// A requeue the store refused for a cause other than a lapsed lease (here: the worker came back
// without the job) is marked and retried by the lease loop; a cancel that arrives meanwhile
// wins over it.
TEST_F(CoordinatorTest, ACancelWhileARequeueWaitsForTheStoreCancels) {
  const Job job = Submit("cancelled-meanwhile");
  RecordingChannel first, back;
  protocol_->Disconnected(Connect("w1", &first));
  WhileTheStoreIsLocked([&] { Connect("w1", &back); });  // without the job: requeue refused
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
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

// spec.time_limit_seconds: past it the attempt's worker is told to stop, and the job fails
// naming the field, without another attempt.
TEST_F(CoordinatorTest, AnAttemptPastItsTimeLimitIsStoppedAndTheJobFails) {
  polytrain::v1::SubmitJobRequest request = Request("slow");
  request.mutable_spec()->set_time_limit_seconds(2);
  const Job job = *api_->SubmitJob(request, kAdmin);
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(1));
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
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
  scheduler_->ExpireLeases(Scheduler::Clock::now() + std::chrono::seconds(13));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(Get(job.id()).error(), "cancelled; let go 10 s later without word from its worker");
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
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
  EXPECT_EQ(channel.Cancelled(), (std::vector<std::string>{job.id()}));
  protocol_->Disconnected(session);  // the worker dies before confirming
  scheduler_->ExpireLeases(Later());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_CANCELLED);
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

TEST_F(CoordinatorTest, AWorkerDownloadsOnlyWhatItsOwnJobsNeed) {
  const Job running = Submit("running");
  RecordingChannel channel, other;
  Connect("w1", &channel);
  const std::string key = channel.SessionKey();
  ASSERT_EQ(key.size(), 32u);
  const Job queued = Submit("queued");  // the one slot is taken
  EXPECT_TRUE(protocol_->CheckDownload(key, running.id() + "/ckpt-000000000100.pt").ok());
  EXPECT_EQ(protocol_->CheckDownload(key, queued.id() + "/ckpt-000000000100.pt").message(),
            "path: job " + queued.id() +
                " is not running on worker w1 (a worker reads only the checkpoints of the jobs "
                "it runs)");
  const std::string hex(64, 'a');
  const absl::Status unnamed = protocol_->CheckDownload(key, "sha256/" + hex);
  EXPECT_EQ(unnamed.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(unnamed.message(), "path: no job running on worker w1 names sha256:" + hex +
                                   " (a worker reads only what the jobs it runs need)");
  // Another worker (every worker may share one token) reads nothing of w1's jobs, and a call
  // without a live session's key reads nothing at all.
  Connect("w2", &other);
  ASSERT_NE(other.SessionKey(), key);
  EXPECT_EQ(protocol_->CheckDownload(other.SessionKey(), running.id() + "/ckpt-000000000100.pt")
                .message(),
            "path: job " + running.id() +
                " is not running on worker w2 (a worker reads only the checkpoints of the jobs "
                "it runs)");
  for (const std::string& wrong : {std::string(), std::string(32, '0')}) {
    const absl::Status refused =
        protocol_->CheckDownload(wrong, running.id() + "/ckpt-000000000100.pt");
    EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(refused.message(),
              "session_key: not the key of a connected worker's session (Welcome.session_key of "
              "the worker's Connect stream)");
  }
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

TEST_F(CoordinatorTest, ACancelSentWhileItsWorkerWasAwayIsSentAgainOnReturn) {
  const Job job = Submit("cancel-me");
  RecordingChannel before, after;
  protocol_->Disconnected(Connect("w", &before));
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
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

TEST_F(CoordinatorTest, BadHellosAreRefused) {
  RecordingChannel channel;
  polytrain::v1::Hello hello;
  EXPECT_EQ(protocol_->Connected(hello, &channel).status().message(),
            "hello.name: length must be in [1, 128] characters, got 0");
  hello.set_name("w/../x y");
  EXPECT_EQ(protocol_->Connected(hello, &channel).status().message(),
            "hello.name: use only [A-Za-z0-9._-]");
  hello.set_name("w");
  hello.set_slots(65);
  EXPECT_EQ(protocol_->Connected(hello, &channel).status().message(),
            "hello.slots: must be in [0, 64], got 65");
  hello.set_slots(1);
  ASSERT_TRUE(protocol_->Connected(hello, &channel).ok());
  EXPECT_EQ(protocol_->Connected(hello, &channel).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(CoordinatorTest, WorkerMessagesBeyondTheirLimitsAreRefusedByField) {
  const Job job = Submit("bounded");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  auto batch_of = [&](int points) {
    polytrain::v1::WorkerMessage message;
    message.mutable_metrics()->set_job_id(job.id());
    message.mutable_metrics()->set_attempt(1);
    for (int i = 0; i < points; ++i) {
      polytrain::v1::MetricPoint* point = message.mutable_metrics()->add_points();
      point->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
      point->set_step(i);
    }
    return message;
  };
  EXPECT_TRUE(protocol_->Handle(session, batch_of(10000)).ok());
  EXPECT_EQ(protocol_->Handle(session, batch_of(10001)).message(),
            "metrics.points: at most 10000 points per batch, got 10001");
  polytrain::v1::WorkerMessage bad = batch_of(2);
  bad.mutable_metrics()->mutable_points(1)->set_step(-5);
  EXPECT_EQ(protocol_->Handle(session, bad).message(),
            "metrics.points[1].step: must be in [0, 1000000000], got -5");
  bad = batch_of(1);
  auto& values = *bad.mutable_metrics()->mutable_points(0)->mutable_values();
  for (int i = 0; i < 256; ++i) values["v" + std::to_string(i)] = i;
  EXPECT_TRUE(protocol_->Handle(session, bad).ok());
  values["one-too-many"] = 1;
  EXPECT_EQ(protocol_->Handle(session, bad).message(),
            "metrics.points[0].values: at most 256 values, got 257");
  values.clear();
  values[std::string(129, 'k')] = 1;
  EXPECT_EQ(protocol_->Handle(session, bad).code(), absl::StatusCode::kInvalidArgument);
  polytrain::v1::WorkerMessage empty;
  EXPECT_EQ(protocol_->Handle(session, empty).message(), "kind: empty worker message");
  // A report without its attempt must not pass for the current one.
  polytrain::v1::WorkerMessage unnumbered;
  unnumbered.mutable_finished()->set_job_id(job.id());
  EXPECT_EQ(protocol_->Handle(session, unnumbered).message(),
            "finished.attempt: must be in [1, 2147483647], got 0");
  unnumbered.mutable_failed()->set_job_id(job.id());
  EXPECT_EQ(protocol_->Handle(session, unnumbered).message(),
            "failed.attempt: must be in [1, 2147483647], got 0");
  // Only a loss-search trial pauses at a rung: a job that is not one is not taken as ended.
  polytrain::v1::WorkerMessage paused;
  paused.mutable_finished()->set_job_id(job.id());
  paused.mutable_finished()->set_attempt(1);
  paused.mutable_finished()->set_paused(true);
  EXPECT_EQ(protocol_->Handle(session, paused).message(),
            absl::StrCat("finished.paused: job ", job.id(),
                         " is not a loss-search trial, so it has no rung to pause at; report its "
                         "end without paused"));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);

  // A failure is kept whatever its message's length: cut, not refused, and between two
  // characters (a cut inside one would store a job that no longer parses).
  polytrain::v1::WorkerMessage failed;
  failed.mutable_failed()->set_job_id(job.id());
  failed.mutable_failed()->set_attempt(1);
  std::string accents = "a";
  for (int i = 0; i < 3000; ++i) accents += "\xC3\xA9";  // é
  failed.mutable_failed()->set_error(accents);
  ASSERT_TRUE(protocol_->Handle(session, failed).ok());
  polytrain::v1::GetJobRequest get;
  get.set_id(job.id());
  const absl::StatusOr<Job> stored = api_->GetJob(get, kAdmin);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->state(), polytrain::v1::JOB_STATE_FAILED);
  // Compared as a bool: gtest would print both 4 KB strings.
  EXPECT_TRUE(absl::EndsWith(stored->error(), accents.substr(0, 4095) + "... (cut)"))
      << stored->error().size() << " bytes, beginning " << stored->error().substr(0, 40);
}

// A history too large for one answer is refused naming max_points, with a count that fits,
// rather than by gRPC's send; downsampled to that count it is answered.
TEST_F(CoordinatorTest, AHistoryOverTheMessageLimitAsksForMaxPoints) {
  const Job job = Submit("long");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  for (int batch = 0; batch < 5; ++batch) {  // 5000 points of 256 values: about 20 MiB
    polytrain::v1::WorkerMessage message;
    message.mutable_metrics()->set_job_id(job.id());
    message.mutable_metrics()->set_attempt(1);
    for (int i = 0; i < 1000; ++i) {
      polytrain::v1::MetricPoint* point = message.mutable_metrics()->add_points();
      point->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
      point->set_step(batch * 1000 + i + 1);
      for (int v = 0; v < 256; ++v) (*point->mutable_values())["value" + std::to_string(v)] = v;
    }
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }
  polytrain::v1::GetMetricsRequest request;
  request.set_job_id(job.id());
  const absl::Status all = api_->GetMetrics(request, kAdmin).status();
  EXPECT_EQ(all.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_EQ(all.message().find("max_points: 5000 points are "), 0u) << all;
  const size_t ask = all.message().find("ask for at most ");
  ASSERT_NE(ask, std::string::npos) << all;
  const int fit = std::stoi(std::string(all.message().substr(ask + 16)));
  EXPECT_GT(fit, 1000);
  EXPECT_LT(fit, 5000);
  request.set_max_points(fit);
  const absl::StatusOr<polytrain::v1::GetMetricsResponse> thinned =
      api_->GetMetrics(request, kAdmin);
  ASSERT_TRUE(thinned.ok()) << thinned.status();
  EXPECT_EQ(thinned->points_size(), fit);
  EXPECT_EQ(thinned->points(fit - 1).step(), 5000);  // the newest is always there
}

class RecordingWatcher : public JobWatcher {
 public:
  void OnEvent(const polytrain::v1::JobEvent&) override { ++events; }
  void OnEnd() override {}
  int events = 0;
};

TEST_F(CoordinatorTest, ClientsSeeAndChangeOnlyTheirOwnJobs) {
  const Caller alice = Caller::Client("alice"), bob = Caller::Client("bob");
  const Job mine = Submit("alices", 0, polytrain::v1::DEVICE_CPU, 0, alice);
  const Job theirs = Submit("bobs", 0, polytrain::v1::DEVICE_CPU, 0, bob);
  EXPECT_EQ(mine.owner(), "alice");

  polytrain::v1::GetJobRequest get;
  get.set_id(theirs.id());
  EXPECT_EQ(api_->GetJob(get, alice).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(api_->GetJob(get, alice).status().message(),
            "id: job " + theirs.id() + " belongs to another user");
  EXPECT_TRUE(api_->GetJob(get, bob).ok());
  EXPECT_TRUE(api_->GetJob(get, Caller::Admin("ops")).ok());

  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(theirs.id());
  EXPECT_EQ(api_->CancelJob(cancel, alice).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(State(theirs.id()), polytrain::v1::JOB_STATE_QUEUED);  // untouched

  polytrain::v1::GetMetricsRequest metrics;
  metrics.set_job_id(theirs.id());
  EXPECT_EQ(api_->GetMetrics(metrics, alice).status().code(), absl::StatusCode::kPermissionDenied);

  RecordingWatcher watcher;
  polytrain::v1::WatchJobRequest watch;
  watch.set_id(theirs.id());
  EXPECT_EQ(api_->Watch(watch, &watcher, alice).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(watcher.events, 0);

  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(mine.id());
  compare.add_job_ids(theirs.id());
  EXPECT_EQ(api_->CompareJobs(compare, alice).status().message(),
            "job_ids[1]: job " + theirs.id() + " belongs to another user");

  // Listing: a client sees its own jobs, may name only itself; an admin sees all or filters.
  polytrain::v1::ListJobsRequest list;
  absl::StatusOr<polytrain::v1::ListJobsResponse> listed = api_->ListJobs(list, alice);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->jobs_size(), 1);
  EXPECT_EQ(listed->jobs(0).id(), mine.id());
  EXPECT_EQ(api_->ListJobs(list, Caller::Admin(""))->jobs_size(), 2);
  list.set_owner("bob");
  EXPECT_EQ(api_->ListJobs(list, alice).status().code(), absl::StatusCode::kPermissionDenied);
  listed = api_->ListJobs(list, Caller::Admin(""));
  ASSERT_EQ(listed->jobs_size(), 1);
  EXPECT_EQ(listed->jobs(0).id(), theirs.id());
}

TEST_F(CoordinatorTest, RetriesAreIdempotentPerOwner) {
  const Job first = Submit("a", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("alice"), "r1");
  const Job retry = Submit("a", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("alice"), "r1");
  EXPECT_EQ(retry.id(), first.id());
  // The same id with another spec is not a retry.
  polytrain::v1::SubmitJobRequest other = Request("a");
  other.mutable_spec()->set_epochs(2);
  other.set_client_request_id("r1");
  const absl::StatusOr<Job> changed = api_->SubmitJob(other, Caller::Client("alice"));
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(changed.status().message(),
            "client_request_id: 'r1' already names job " + first.id() +
                ", submitted with another spec; use a new id for a new job");
  // Bob's request id is his own: a new job, not a view of Alice's.
  const Job bobs = Submit("b", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("bob"), "r1");
  EXPECT_NE(bobs.id(), first.id());
  EXPECT_EQ(bobs.owner(), "bob");
  polytrain::v1::SubmitJobRequest request = Request("c");
  request.set_client_request_id("tab\there");
  EXPECT_EQ(api_->SubmitJob(request, kAdmin).status().message(),
            "client_request_id: use only printable ASCII characters");
}

TEST_F(CoordinatorTest, ASweepsJobsRequestIdsNeverMeetSubmitJobsOnes) {
  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = Request("grid").spec();
  sweep.mutable_base()->clear_loss();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.set_client_request_id("coll");
  sweep.set_validate_only(true);
  const absl::StatusOr<polytrain::v1::SubmitSweepResponse> plan =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string derived = plan->jobs(0).client_request_id();  // "coll/<loss>/<seed>"
  ASSERT_EQ(derived.find("coll/"), 0u) << derived;
  // A job submitted under that id first blocks neither the sweep's check nor the sweep itself.
  const Job job = Submit("a", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("alice"), derived);
  EXPECT_TRUE(api_->SubmitSweep(sweep, Caller::Client("alice")).ok());
  sweep.set_validate_only(false);
  const absl::StatusOr<polytrain::v1::SubmitSweepResponse> stored =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->jobs(0).client_request_id(), derived);
  EXPECT_NE(stored->jobs(0).id(), job.id());
  // And each still answers its own retries.
  EXPECT_EQ(Submit("a", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("alice"), derived).id(),
            job.id());
  EXPECT_EQ(api_->SubmitSweep(sweep, Caller::Client("alice"))->jobs(0).id(), stored->jobs(0).id());
  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 2);
}

TEST_F(CoordinatorTest, ListRequestsAreValidatedFieldByField) {
  struct Case {
    std::string text;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"page_size: -1", "page_size: must be in [0, 1000], got -1"},
           {"page_size: 1001", "page_size: must be in [0, 1000], got 1001"},
           {"states: 9", "states[0]: unknown state 9"},
           {"states: JOB_STATE_UNSPECIFIED", "states[0]: unknown state 0"},
           {"labels { key: 'Team' value: 'x' }", "labels[\"Team\"]: keys use only [a-z0-9._-/]"},
           {"labels { key: '' value: 'x' }", "labels[\"\"]: length must be in [1, 63]"},
           {"labels { key: 'k' value: '" + std::string(257, 'v') + "' }",
            "labels[\"k\"]: length must be in [0, 256] characters, got 257"},
           {"page_token: 'abc'", "page_token: not a token from a previous ListJobs"},
           {"page_token: '" + std::string(33, '1') + "'",
            "page_token: length must be in [0, 32] characters, got 33"},
           {"owner: '" + std::string(65, 'o') + "'",
            "owner: length must be in [0, 64] characters, got 65"},
           {"owner: 'bad name!'", "owner: use only [A-Za-z0-9._-], got 'bad name!'"},
       }) {
    polytrain::v1::ListJobsRequest request;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(c.text, &request)) << c.text;
    absl::StatusOr<polytrain::v1::ListJobsResponse> response = api_->ListJobs(request, kAdmin);
    EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(response.status().message().substr(0, c.error.size()), c.error) << c.text;
  }
  std::string many;
  for (int i = 0; i < 33; ++i) many += "labels { key: 'k" + std::to_string(i) + "' value: 'v' } ";
  polytrain::v1::ListJobsRequest request;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(many, &request));
  EXPECT_EQ(api_->ListJobs(request, kAdmin).status().message(),
            "labels: at most 32 labels, got 33");
  request.mutable_labels()->erase("k32");  // 32 is the limit itself
  EXPECT_TRUE(api_->ListJobs(request, kAdmin).ok());
  request.set_owner("Al.ice_2-" + std::string(55, 'x'));  // every character a name may have
  EXPECT_TRUE(api_->ListJobs(request, kAdmin).ok());
}

TEST_F(CoordinatorTest, TimestampsHaveSubSecondResolution) {
  const Job job = Submit("quick");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  Finish(session, job);
  const Job done = Get(job.id());
  // Created, started and ended within a few milliseconds: whole-second clocks would make these
  // equal (and CompareJobs' seconds 0); nanosecond ones tell them apart.
  using google::protobuf::util::TimeUtil;
  EXPECT_LT(done.create_time(), done.start_time());
  EXPECT_LT(done.start_time(), done.end_time());
  EXPECT_LT(TimeUtil::DurationToSeconds(done.end_time() - done.create_time()), 5);
  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(job.id());
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_GT(table->jobs(0).seconds(), 0.0);
  EXPECT_LT(table->jobs(0).seconds(), 5.0);
}

TEST_F(CoordinatorTest, ComparisonCurvesKeepAtMostCurvePointsEndingAtTheLast) {
  const Job job = Submit("curves");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage message;
  message.mutable_metrics()->set_job_id(job.id());
  message.mutable_metrics()->set_attempt(1);
  for (int step = 10; step <= 50; step += 10) {
    polytrain::v1::MetricPoint* train = message.mutable_metrics()->add_points();
    train->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
    train->set_step(step);
    (*train->mutable_values())["loss"] = 1.0 / step;
    polytrain::v1::MetricPoint* eval = message.mutable_metrics()->add_points();
    eval->set_kind(polytrain::v1::MetricPoint::KIND_EVAL);
    eval->set_step(step);
    (*eval->mutable_values())["eval_accuracy"] = step / 100.0;
  }
  ASSERT_TRUE(protocol_->Handle(session, message).ok());
  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(job.id());
  for (const auto& [limit, steps] :
       std::vector<std::pair<int, std::vector<int64_t>>>{{1, {50}},
                                                         {2, {10, 50}},
                                                         {3, {10, 30, 50}},
                                                         {5, {10, 20, 30, 40, 50}},
                                                         {6, {10, 20, 30, 40, 50}}}) {
    compare.set_curve_points(limit);
    absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
    ASSERT_TRUE(table.ok()) << table.status();
    const auto& curve = table->curves(0);
    EXPECT_EQ(std::vector<int64_t>(curve.eval_steps().begin(), curve.eval_steps().end()), steps)
        << "curve_points " << limit;
    EXPECT_EQ(std::vector<int64_t>(curve.train_steps().begin(), curve.train_steps().end()), steps)
        << "curve_points " << limit;
  }
}

TEST_F(CoordinatorTest, ATrainingJobMustReduceItsLoss) {
  polytrain::v1::SubmitJobRequest request = Request("per-sample");
  request.mutable_spec()->mutable_loss()->set_reduction(polytrain::v1::REDUCTION_NONE);
  const absl::Status status = api_->SubmitJob(request, kAdmin).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "spec.loss.reduction: a training job needs REDUCTION_MEAN or REDUCTION_SUM, got "
            "REDUCTION_NONE");
}

TEST_F(CoordinatorTest, ErrorsNameTheRequestFieldThatIsWrong) {
  const Job job = Submit("known");
  RecordingChannel channel;
  Finish(Connect("w", &channel), job, {{"eval_accuracy", 0.9}});
  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(job.id());
  compare.add_job_ids("job-000000000000");
  absl::Status status = api_->CompareJobs(compare, kAdmin).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "job_ids[1]: no job job-000000000000");
  polytrain::v1::GetMetricsRequest metrics;
  metrics.set_job_id("job-000000000000");
  EXPECT_EQ(api_->GetMetrics(metrics, kAdmin).status().message(),
            "job_id: no job job-000000000000");

  // A metric no job reports is a mistake, not an empty comparison.
  compare.mutable_job_ids()->RemoveLast();
  compare.set_metric("eval_acuracy");
  status = api_->CompareJobs(compare, kAdmin).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().substr(0, 46), "metric: no job reports 'eval_acuracy' (they re");
}

TEST_F(CoordinatorTest, ASweepIsExpandedOnceAndARetryNamesTheSameSweep) {
  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = Request("grid").spec();
  sweep.mutable_base()->clear_loss();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.add_losses()->mutable_poly1()->set_epsilon(2);
  sweep.set_seeds(2);
  sweep.set_client_request_id("grid-1");
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> first =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(first.ok()) << first.status();
  std::vector<std::string> names;
  for (const Job& job : first->jobs()) names.push_back(job.spec().name());
  EXPECT_EQ(names, (std::vector<std::string>{"grid-ce-s0", "grid-ce-s1", "grid-poly1-e-2-s0",
                                             "grid-poly1-e-2-s1"}));
  EXPECT_EQ(first->jobs(2).spec().labels().at("loss"), "poly1-e-2");
  EXPECT_EQ(first->jobs(2).loss_name(), "poly1(e=2)");
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> retry =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->sweep_id(), first->sweep_id());
  EXPECT_EQ(retry->jobs(3).id(), first->jobs(3).id());
  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 4);  // not stored twice

  // The same id with other losses is a mistake, not more jobs in the first sweep.
  sweep.add_losses()->mutable_focal()->set_gamma(2);
  absl::Status changed = api_->SubmitSweep(sweep, Caller::Client("alice")).status();
  EXPECT_EQ(changed.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(changed.message(), "client_request_id: 'grid-1' already names sweep " +
                                   first->sweep_id() +
                                   ", submitted with other parameters; use a new id for a new "
                                   "sweep");
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 4);

  // A retry that spells seeds 2 as before names the same sweep; one seed spelled 0 or 1 too.
  sweep.clear_losses();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.set_seeds(0);
  sweep.set_client_request_id("grid-2");
  const std::string zero = api_->SubmitSweep(sweep, Caller::Client("alice"))->sweep_id();
  sweep.set_seeds(1);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> one =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->sweep_id(), zero);
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 5);

  // The label that makes a job a sweep's is the coordinator's alone.
  polytrain::v1::SubmitJobRequest intruder = Request("intruder");
  (*intruder.mutable_spec()->mutable_labels())["sweep"] = first->sweep_id();
  EXPECT_EQ(api_->SubmitJob(intruder, Caller::Client("alice")).status().message(),
            "spec.labels[\"sweep\"]: reserved: the coordinator sets it on the jobs of a sweep "
            "(SubmitSweep)");
  polytrain::v1::SubmitSweepRequest labelled = sweep;
  labelled.set_client_request_id("");
  (*labelled.mutable_base()->mutable_labels())["loss"] = "mine";
  EXPECT_EQ(api_->SubmitSweep(labelled, Caller::Client("alice")).status().message(),
            "base.labels[\"loss\"]: reserved: the coordinator sets it on each of the sweep's jobs");
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 5);
  // Another user's job labelled with Alice's sweep (as a coordinator before the label was
  // reserved stored it) is not part of it.
  Job stored_intruder;
  *stored_intruder.mutable_spec() = intruder.spec();
  stored_intruder.set_owner("bob");
  stored_intruder.set_state(polytrain::v1::JOB_STATE_QUEUED);
  stored_intruder.set_loss_name("ce");
  ASSERT_TRUE(scheduler_->Submit({stored_intruder}, nullptr).ok());
  polytrain::v1::GetSweepRequest get;
  get.set_id(first->sweep_id());
  absl::StatusOr<polytrain::v1::Sweep> report = api_->GetSweep(get, Caller::Client("alice"));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->trials_size(), 4);
  // Nor may Bob read Alice's sweep, by either call.
  EXPECT_EQ(api_->GetSweep(get, Caller::Client("bob")).status().code(),
            absl::StatusCode::kPermissionDenied);
  polytrain::v1::CompareJobsRequest compare;
  compare.set_sweep_id(first->sweep_id());
  EXPECT_EQ(api_->CompareJobs(compare, Caller::Client("bob")).status().message(),
            "sweep_id: sweep " + first->sweep_id() + " belongs to another user");
  EXPECT_NE(api_->CompareJobs(compare, Caller::Client("alice")).status().code(),
            absl::StatusCode::kPermissionDenied);
  // An admin's comparison of the sweep has its four jobs, not Bob's as well.
  EXPECT_EQ(api_->GetSweep(get, kAdmin)->trials_size(), 4);
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->jobs_size(), 4);
}

TEST_F(CoordinatorTest, ValidateOnlyChecksEverythingAndStoresNothing) {
  polytrain::v1::SubmitJobRequest job = Request("dry");
  job.set_validate_only(true);
  absl::StatusOr<Job> checked = api_->SubmitJob(job, Caller::Client("alice"));
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->id(), "");
  EXPECT_EQ(checked->state(), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(checked->owner(), "alice");
  EXPECT_EQ(checked->loss_name(), "ce");
  job.mutable_spec()->set_batch_size(0);
  EXPECT_EQ(api_->SubmitJob(job, Caller::Client("alice")).status().message(),
            "spec.batch_size: must be in [1, 65536], got 0");

  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = Request("dry-grid").spec();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.add_losses()->mutable_poly1()->set_epsilon(2);
  sweep.set_seeds(2);
  sweep.set_validate_only(true);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> planned =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->sweep_id(), "");
  std::vector<std::string> names;
  for (const Job& planned_job : planned->jobs()) {
    names.push_back(planned_job.spec().name());
    EXPECT_EQ(planned_job.id(), "");
    EXPECT_FALSE(planned_job.spec().labels().contains("sweep"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"dry-grid-ce-s0", "dry-grid-ce-s1",
                                             "dry-grid-poly1-e-2-s0", "dry-grid-poly1-e-2-s1"}));
  sweep.set_seeds(101);
  EXPECT_EQ(api_->SubmitSweep(sweep, Caller::Client("alice")).status().message(),
            "seeds: must be in [0, 100], got 101");

  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 0);
  // The real submit afterwards is unaffected by the checks before it.
  sweep.set_seeds(1);
  sweep.set_validate_only(false);
  sweep.set_client_request_id("dry-sweep");
  const absl::StatusOr<polytrain::v1::SubmitSweepResponse> stored =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 2);

  // A request id is checked as a submit checks it: a retry is answered with what is stored,
  // another request under the same id is refused, before anything is uploaded for it.
  sweep.set_validate_only(true);
  EXPECT_EQ(api_->SubmitSweep(sweep, Caller::Client("alice"))->sweep_id(), stored->sweep_id());
  sweep.add_losses()->mutable_focal()->set_gamma(2);
  EXPECT_EQ(api_->SubmitSweep(sweep, Caller::Client("alice")).status().code(),
            absl::StatusCode::kAlreadyExists);
  job.mutable_spec()->set_batch_size(2);
  job.set_client_request_id("dry-job");
  job.set_validate_only(false);
  const std::string job_id = api_->SubmitJob(job, Caller::Client("alice"))->id();
  job.set_validate_only(true);
  EXPECT_EQ(api_->SubmitJob(job, Caller::Client("alice"))->id(), job_id);
  job.mutable_spec()->set_batch_size(4);
  EXPECT_EQ(api_->SubmitJob(job, Caller::Client("alice")).status().message(),
            "client_request_id: 'dry-job' already names job " + job_id +
                ", submitted with another spec; use a new id for a new job");
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 3);
}

TEST_F(CoordinatorTest, ARestartRestoresJobsByStateWithoutCountingTransitions) {
  Submit("a");
  Submit("b");
  RecordingChannel channel;
  Connect("w", &channel);  // "a" runs, "b" waits
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);  // the coordinator stops; its SQLite file keeps both jobs
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("polytrain_jobs{state=\"queued\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("polytrain_jobs{state=\"running\"} 1"), std::string::npos) << text;
  EXPECT_EQ(text.find("polytrain_job_transitions_total{"), std::string::npos) << text;
}

TEST_F(CoordinatorTest, QueueDepthCountsAJobCancelledWhileQueuedOut) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  const Job job = Submit("queued");  // no worker: it waits
  auto exposition = [&] { return prometheus::TextSerializer().Serialize(registry.Collect()); };
  EXPECT_NE(exposition().find("polytrain_queue_depth 1\n"), std::string::npos) << exposition();
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
  EXPECT_NE(exposition().find("polytrain_queue_depth 0\n"), std::string::npos) << exposition();
}

TEST_F(CoordinatorTest, RefusedWorkerMessagesAreCountedByKind) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage bad;
  bad.mutable_metrics()->set_job_id("job-1");  // attempt 0
  EXPECT_EQ(protocol_->Handle(session, bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(protocol_->Handle(session, polytrain::v1::WorkerMessage()).code(),
            absl::StatusCode::kInvalidArgument);
  polytrain::v1::WorkerMessage beat;
  beat.mutable_heartbeat();
  EXPECT_TRUE(protocol_->Handle(session, beat).ok());
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("polytrain_worker_messages_refused_total{kind=\"metrics\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("polytrain_worker_messages_refused_total{kind=\"none\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("kind=\"heartbeat\""), std::string::npos) << text;
}

}  // namespace
}  // namespace polytrain
