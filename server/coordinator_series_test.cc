// What the coordinator exports to Prometheus as jobs and workers come and go: job counts by
// state (a restart is not a transition), the queue's depth, refused worker messages by kind.
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/coordinator_test_fixture.h"
#include "testing/log_capture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

// A training point of attempt 1 of `job_id` at step 10, at `samples_per_second`.
polytrain::v1::WorkerMessage ThroughputPoint(const std::string& job_id, double samples_per_second) {
  polytrain::v1::WorkerMessage message;
  message.mutable_metrics()->set_job_id(job_id);
  message.mutable_metrics()->set_attempt(1);
  AddTrainPoint(message.mutable_metrics(), 10);
  (*message.mutable_metrics()->mutable_points(0)->mutable_values())["samples_per_second"] =
      samples_per_second;
  return message;
}

// `job_id`'s polytrain_job_samples_per_second in `registry` (whatever its other labels), or -1.
double JobThroughput(prometheus::Registry& registry, const std::string& job_id) {
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  const size_t at = text.find("polytrain_job_samples_per_second{job_id=\"" + job_id + "\"");
  return at == std::string::npos ? -1.0 : std::stod(text.substr(text.find("} ", at) + 2));
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
  // Restored, not counted: every state's count stays at its start, 0.
  for (const char* state : {"queued", "running"}) {
    EXPECT_NE(text.find(absl::StrCat("polytrain_job_transitions_total{to=\"", state, "\"} 0\n")),
              std::string::npos)
        << text;
  }
}

TEST_F(CoordinatorTest, QueueDepthCountsAJobCancelledWhileQueuedOut) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  const Job job = Submit("queued");  // no worker: it waits
  auto exposition = [&] { return prometheus::TextSerializer().Serialize(registry.Collect()); };
  EXPECT_NE(exposition().find("polytrain_queue_depth 1\n"), std::string::npos) << exposition();
  CancelAsAdmin(job.id());
  EXPECT_NE(exposition().find("polytrain_queue_depth 0\n"), std::string::npos) << exposition();
}

// Reports about an attempt a worker does not hold are acknowledged (a stale one is no error)
// but counted: another worker's job, no such job, an attempt that is not the one running.
TEST_F(CoordinatorTest, ReportsAboutAnAttemptTheWorkerDoesNotHoldAreCounted) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  const Job job = Submit("held");
  RecordingChannel owner_channel, other_channel;
  const int64_t owner = Connect("owner", &owner_channel);
  const int64_t other = Connect("other", &other_channel);
  auto exposition = [&] { return prometheus::TextSerializer().Serialize(registry.Collect()); };
  EXPECT_NE(exposition().find("polytrain_worker_messages_dropped_total{kind=\"metrics\"} 0\n"),
            std::string::npos)
      << exposition();
  for (const auto& [session, job_id, attempt] :
       {std::tuple<int64_t, std::string, int>{other, job.id(), 1},
        {owner, "job-ffffffffffff", 1},
        {owner, job.id(), 2}}) {
    polytrain::v1::WorkerMessage points;
    points.mutable_metrics()->set_job_id(job_id);
    points.mutable_metrics()->set_attempt(attempt);
    AddTrainPoint(points.mutable_metrics(), 10);
    ASSERT_TRUE(protocol_->Handle(session, points).ok());
  }
  // Logged once per job and stream, however often it comes: a worker that names millions of
  // jobs, or the same one in a loop, does not fill the coordinator's log.
  std::string log;
  {
    testing::ScopedLogCapture capture;
    polytrain::v1::WorkerMessage finished;
    finished.mutable_finished()->set_job_id(job.id());
    finished.mutable_finished()->set_attempt(1);
    ASSERT_TRUE(protocol_->Handle(other, finished).ok());
    ASSERT_TRUE(protocol_->Handle(other, finished).ok());
    log = capture.text();
  }
  EXPECT_EQ(log.find("which it does not hold"), std::string::npos)  // logged for metrics
      << log;
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_NE(exposition().find("polytrain_worker_messages_dropped_total{kind=\"metrics\"} 3\n"),
            std::string::npos)
      << exposition();
  EXPECT_NE(exposition().find("polytrain_worker_messages_dropped_total{kind=\"finished\"} 2\n"),
            std::string::npos)
      << exposition();
}

// A worker re-sends its report of an attempt's end when it did not hear it was taken (the
// coordinator restarted meanwhile): already recorded, it is no warning.
TEST_F(CoordinatorTest, AnEndReportedAgainIsLoggedAsAlreadyRecorded) {
  const Job job = Submit("ended");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  Finish(session, job, {}, 10);
  std::string log;
  {
    testing::ScopedLogCapture capture;
    polytrain::v1::WorkerMessage finished;
    finished.mutable_finished()->set_job_id(job.id());
    finished.mutable_finished()->set_attempt(1);
    finished.mutable_finished()->set_steps(10);
    ASSERT_TRUE(protocol_->Handle(session, finished).ok());
    log = capture.text();
  }
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_NE(log.find("worker w reported finished of job " + job.id() +
                     " attempt 1, an attempt already over (the job is succeeded): dropped"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("which it does not hold"), std::string::npos) << log;
}

TEST_F(CoordinatorTest, ADeletedJobLeavesTheCountOfItsStateAndItsSeriesGo) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  const Job job = Submit("deleted"), kept = Submit("kept");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel, /*slots=*/2);
  polytrain::v1::WorkerMessage points;
  points.mutable_metrics()->set_job_id(job.id());
  points.mutable_metrics()->set_attempt(1);
  AddTrainPoint(points.mutable_metrics(), 10);
  ASSERT_TRUE(protocol_->Handle(session, points).ok());
  Finish(session, job, {}, 10);
  Finish(session, kept, {}, 10);
  auto exposition = [&] { return prometheus::TextSerializer().Serialize(registry.Collect()); };
  ASSERT_NE(exposition().find("polytrain_jobs{state=\"succeeded\"} 2"), std::string::npos)
      << exposition();
  ASSERT_NE(exposition().find("job_id=\"" + job.id() + "\""), std::string::npos) << exposition();
  polytrain::v1::DeleteJobRequest request;
  request.set_id(job.id());
  ASSERT_TRUE(api_->DeleteJob(request, kAdmin).ok());
  EXPECT_NE(exposition().find("polytrain_jobs{state=\"succeeded\"} 1"), std::string::npos)
      << exposition();
  EXPECT_EQ(exposition().find("job_id=\"" + job.id() + "\""), std::string::npos) << exposition();
}

// A job whose worker's stream is gone shows no throughput while its lease runs out (its last
// one stayed until the lease lapsed: a dead worker's job read as training at full speed).
TEST_F(CoordinatorTest, AJobWhoseWorkerIsGoneShowsNoThroughput) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  const Job job = Submit("orphaned");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  ASSERT_TRUE(protocol_->Handle(session, ThroughputPoint(job.id(), 966.5)).ok());
  ASSERT_EQ(JobThroughput(registry, job.id()), 966.5);
  protocol_->Disconnected(session);
  EXPECT_EQ(Get(job.id()).state(), polytrain::v1::JOB_STATE_RUNNING);  // its lease still runs
  EXPECT_EQ(JobThroughput(registry, job.id()), 0);
}

// A gang's points come from rank 0: another rank's worker gone leaves its figures, rank 0's
// worker gone zeroes them.
TEST_F(CoordinatorTest, AGangsThroughputGoesWithRankZerosWorker) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  polytrain::v1::SubmitJobRequest request = Request("gang");
  request.mutable_spec()->set_replicas(2);
  request.mutable_spec()->set_batch_size(4);
  const Job job = *api_->SubmitJob(request, kAdmin);
  RecordingChannel a, b;
  const int64_t session_a = Connect("a", &a), session_b = Connect("b", &b);
  ASSERT_EQ(Get(job.id()).rank_workers_size(), 2);
  const bool a_is_rank0 = Get(job.id()).rank_workers(0) == "a";
  const int64_t rank0 = a_is_rank0 ? session_a : session_b;
  const int64_t rank1 = a_is_rank0 ? session_b : session_a;
  ASSERT_TRUE(protocol_->Handle(rank0, ThroughputPoint(job.id(), 500)).ok());
  ASSERT_EQ(JobThroughput(registry, job.id()), 500);
  protocol_->Disconnected(rank1);
  EXPECT_EQ(JobThroughput(registry, job.id()), 500);
  protocol_->Disconnected(rank0);
  EXPECT_EQ(JobThroughput(registry, job.id()), 0);
}

TEST_F(CoordinatorTest, ADeletedSearchsSeriesGo) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> search =
      api_->SubmitSweep(SmallHalvingSearch(), kAdmin);
  ASSERT_TRUE(search.ok()) << search.status();
  auto exposition = [&] { return prometheus::TextSerializer().Serialize(registry.Collect()); };
  const std::string label = "sweep=\"" + search->sweep_id() + "\"";
  ASSERT_NE(exposition().find(label), std::string::npos) << exposition();
  polytrain::v1::CancelSweepRequest cancel;  // its trials are queued: they end at once
  cancel.set_id(search->sweep_id());
  ASSERT_TRUE(api_->CancelSweep(cancel, kAdmin).ok());
  polytrain::v1::DeleteSweepRequest remove;
  remove.set_id(search->sweep_id());
  ASSERT_TRUE(api_->DeleteSweep(remove, kAdmin).ok());
  EXPECT_EQ(exposition().find(label), std::string::npos) << exposition();
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
  // An accepted heartbeat is not counted (its kind stays at the 0 it starts from).
  EXPECT_NE(text.find("polytrain_worker_messages_refused_total{kind=\"heartbeat\"} 0"),
            std::string::npos)
      << text;
  // The accepted hello neither.
  EXPECT_NE(text.find("polytrain_worker_messages_refused_total{kind=\"hello\"} 0"),
            std::string::npos)
      << text;
}

// A refused hello ends its stream, and is counted (probe CB: it was in no metric): a field past
// its limit, a name another connected worker has.
TEST_F(CoordinatorTest, RefusedHellosAreCounted) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  ReopenWithMetrics(&metrics);
  RecordingChannel channel;
  Connect("w", &channel);
  polytrain::v1::Hello too_long;
  too_long.set_name(std::string(kMaxWorkerNameLength + 1, 'w'));
  too_long.set_slots(1);
  RecordingChannel refused;
  EXPECT_EQ(protocol_->Connected(too_long, &refused).status().code(),
            absl::StatusCode::kInvalidArgument);
  polytrain::v1::Hello same_name;
  same_name.set_name("w");
  same_name.set_slots(1);
  EXPECT_EQ(protocol_->Connected(same_name, &refused).status().code(),
            absl::StatusCode::kAlreadyExists);
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("polytrain_worker_messages_refused_total{kind=\"hello\"} 2"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace polytrain
