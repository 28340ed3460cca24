// What the coordinator takes from workers, through its core: hellos, reports and downloads
// checked field by field, a worker reading only what its own jobs need.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

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

// A newer worker's metric kind: its points are dropped and the rest of the batch stored (the
// whole batch was refused, its train points lost with it); an unset kind still refuses it.
TEST_F(CoordinatorTest, APointOfAKindTheCoordinatorDoesNotKnowIsDroppedAlone) {
  const Job job = Submit("newer-worker");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage message;
  message.mutable_metrics()->set_job_id(job.id());
  message.mutable_metrics()->set_attempt(1);
  for (const int kind : {1, 3, 2, -1}) {
    polytrain::v1::MetricPoint* point = message.mutable_metrics()->add_points();
    point->set_kind(static_cast<polytrain::v1::MetricPoint::Kind>(kind));
    point->set_step(10 * message.metrics().points_size());
  }
  ASSERT_TRUE(protocol_->Handle(session, message).ok());
  polytrain::v1::GetMetricsRequest request;
  request.set_job_id(job.id());
  const absl::StatusOr<polytrain::v1::GetMetricsResponse> stored =
      api_->GetMetrics(request, kAdmin);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->points_size(), 2);
  EXPECT_EQ(stored->points(0).kind(), polytrain::v1::MetricPoint::KIND_TRAIN);
  EXPECT_EQ(stored->points(0).step(), 10);
  EXPECT_EQ(stored->points(1).kind(), polytrain::v1::MetricPoint::KIND_EVAL);
  EXPECT_EQ(stored->points(1).step(), 30);
  message.mutable_metrics()->mutable_points(0)->set_kind(
      polytrain::v1::MetricPoint::KIND_UNSPECIFIED);
  EXPECT_EQ(protocol_->Handle(session, message).message(),
            "metrics.points[0].kind: must be KIND_TRAIN or KIND_EVAL, got 0");
  // A refusal names the point as the worker sent it, the unknown kinds still in the batch.
  message.mutable_metrics()->mutable_points(0)->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  message.mutable_metrics()->mutable_points(2)->set_step(-1);
  EXPECT_EQ(protocol_->Handle(session, message).message(),
            "metrics.points[2].step: must be in [0, 1000000000], got -1");
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
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  // A report naming no well-formed job is refused by its field, not dropped as a stale one.
  polytrain::v1::WorkerMessage malformed = batch_of(1);
  malformed.mutable_metrics()->set_job_id("a b");
  EXPECT_NE(protocol_->Handle(session, malformed).message().find("metrics.job_id: "),
            std::string::npos);

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

// A result refused for what it holds ends its attempt with the refusal as the job's error, rather
// than leave the job to fail later for a lapsed lease, its reason in the logs only.
TEST_F(CoordinatorTest, ARefusedResultFailsItsAttemptSayingWhy) {
  const Job job = Submit("lied", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/1);
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage finished;
  finished.mutable_finished()->set_job_id(job.id());
  finished.mutable_finished()->set_attempt(1);
  (*finished.mutable_finished()->mutable_final_metrics())["eval_accuracy"] = 1e300;
  EXPECT_EQ(protocol_->Handle(session, finished).message(),
            "finished.final_metrics[eval_accuracy]: must be a fraction in [0, 1], got 1e+300");
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(job.id()).error(),
            "the worker's result was refused: finished.final_metrics[eval_accuracy]: must be a "
            "fraction in [0, 1], got 1e+300");
  // Refused by what only the job knows too: only a loss-search trial pauses at a rung, and no
  // job trains past its spec.max_steps (a failure's report included; probe CP).
  const Job paused_job = Submit("paused", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/1);
  ASSERT_EQ(channel.Assigned().size(), 2u);
  polytrain::v1::WorkerMessage paused;
  paused.mutable_finished()->set_job_id(paused_job.id());
  paused.mutable_finished()->set_attempt(1);
  paused.mutable_finished()->set_paused(true);
  const std::string not_a_trial =
      absl::StrCat("finished.paused: job ", paused_job.id(),
                   " is not a loss-search trial, so it has no rung to pause at; report its end "
                   "without paused");
  EXPECT_EQ(protocol_->Handle(session, paused).message(), not_a_trial);
  EXPECT_EQ(Get(paused_job.id()).error(), "the worker's result was refused: " + not_a_trial);
  polytrain::v1::SubmitJobRequest bounded = Request("bounded");
  bounded.mutable_spec()->set_max_steps(200);
  bounded.mutable_spec()->set_max_attempts(1);
  const absl::StatusOr<Job> failing = api_->SubmitJob(bounded, kAdmin);
  ASSERT_TRUE(failing.ok()) << failing.status();
  ASSERT_EQ(channel.Assigned().size(), 3u);
  polytrain::v1::WorkerMessage failed;
  failed.mutable_failed()->set_job_id(failing->id());
  failed.mutable_failed()->set_attempt(1);
  failed.mutable_failed()->set_steps(201);
  failed.mutable_failed()->set_error("out of memory");
  EXPECT_EQ(protocol_->Handle(session, failed).code(), absl::StatusCode::kInvalidArgument);
  const Job stored = Get(failing->id());
  EXPECT_EQ(stored.state(), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(stored.error(),
            "out of memory (the worker's report of it was refused: failed.steps: must be in [0, "
            "200] (the job's spec.max_steps), got 201)");
}

// A sweep's report shows how far a running trial has trained (its record says so only when the
// attempt ends): its newest point's step.
TEST_F(CoordinatorTest, ASweepsRunningTrialShowsItsNewestStep) {
  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = Request("grid").spec();
  sweep.mutable_base()->clear_loss();
  sweep.add_losses()->mutable_cross_entropy();
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> submitted = api_->SubmitSweep(sweep, kAdmin);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage points;
  points.mutable_metrics()->set_job_id(submitted->jobs(0).id());
  points.mutable_metrics()->set_attempt(1);
  for (const int step : {20, 40}) {
    polytrain::v1::MetricPoint* point = points.mutable_metrics()->add_points();
    point->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
    point->set_step(step);
  }
  ASSERT_TRUE(protocol_->Handle(session, points).ok());
  polytrain::v1::GetSweepRequest get;
  get.set_id(submitted->sweep_id());
  const absl::StatusOr<polytrain::v1::Sweep> report = api_->GetSweep(get, kAdmin);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->trials_size(), 1);
  EXPECT_EQ(report->trials(0).steps(), 40);
  EXPECT_EQ(report->total_steps(), 40);
}

}  // namespace
}  // namespace polytrain
