// Coordinator.DownloadCheckpoint of a job with no stored checkpoint: NOT_FOUND, saying why as
// far as the coordinator knows it (not started, not yet, ended before it started, or ended with
// none: its worker's log says why); and a job's best checkpoint by spec.checkpoint.keep_best_by,
// scored by the evaluation at its step.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

class StoredCheckpointTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    CoordinatorTest::SetUp();
    root_ = ::testing::TempDir() + "/stored_checkpoint_" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    Scheduler::Options options;
    options.lease_seconds = 10;  // Later() is past it
    options.lease_thread = false;
    Open(options, {}, CoordinatorCore::Artifacts{root_});
  }
  void TearDown() override {
    CoordinatorTest::TearDown();
    std::filesystem::remove_all(root_);
  }

  // The message of a download of `job`'s checkpoint, which must be refused as NOT_FOUND.
  std::string Refusal(const Job& job) {
    polytrain::v1::DownloadCheckpointRequest request;
    request.set_id(job.id());
    std::vector<std::string> passed_over;
    const absl::StatusOr<IntactArtifact> file =
        api_->StoredCheckpoint(request, Caller::Admin(""), &passed_over);
    EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound) << file.status();
    return std::string(file.status().message());
  }

  // Sends the attempt's evaluation points: {step, value of `metric`} each.
  void Evaluations(int64_t session, const Job& job, const std::string& metric,
                   const std::vector<std::pair<int64_t, double>>& values) {
    polytrain::v1::WorkerMessage message;
    message.mutable_metrics()->set_job_id(job.id());
    message.mutable_metrics()->set_attempt(1);
    for (const auto& [step, value] : values) {
      AddTrainPoint(message.mutable_metrics(), step);
      polytrain::v1::MetricPoint* eval = message.mutable_metrics()->add_points();
      eval->set_kind(polytrain::v1::MetricPoint::KIND_EVAL);
      eval->set_step(step);
      (*eval->mutable_values())[metric] = value;
    }
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }

  // Stores `attempt`'s checkpoint of `step` holding `content` as an upload does; returns the
  // job's best checkpoint then.
  absl::StatusOr<std::string> StoreAs(const Job& job, int32_t attempt, int64_t step,
                                      const std::string& content) {
    auto upload = *core_->artifact_store()->Begin(job.id(), absl::StrFormat("ckpt-%012d.pt", step));
    EXPECT_TRUE(upload->Append(content).ok());
    EXPECT_TRUE(upload->Verify(static_cast<int64_t>(content.size()), ExtendCrc32(0, content)).ok());
    return protocol_->StoreArtifact(job.id(), attempt, upload->relative(),
                                    [&upload] { return upload->Publish().status(); });
  }
  // Attempt 1's checkpoint of `step`, its content naming the step.
  std::string Store(const Job& job, int64_t step) {
    absl::StatusOr<std::string> best = StoreAs(job, 1, step, absl::StrCat("step ", step));
    EXPECT_TRUE(best.ok()) << best.status();
    return best.value_or("");
  }

  // The content of the checkpoint a download (of the best, with `best`) serves, or its error.
  absl::StatusOr<std::string> Download(const Job& job, bool best) {
    polytrain::v1::DownloadCheckpointRequest request;
    request.set_id(job.id());
    request.set_best(best);
    std::vector<std::string> passed_over;
    absl::StatusOr<IntactArtifact> file =
        api_->StoredCheckpoint(request, Caller::Admin(""), &passed_over);
    if (!file.ok()) return file.status();
    std::ifstream in(file->path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Attempt 1 reports its start, resuming from `step`.
  void ResumeFrom(int64_t session, const Job& job, int64_t step) {
    polytrain::v1::WorkerMessage message;
    message.mutable_started()->set_job_id(job.id());
    message.mutable_started()->set_attempt(1);
    message.mutable_started()->set_resumed_from_step(step);
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }

  Job SubmitKeepingBestBy(const std::string& metric) {
    polytrain::v1::SubmitJobRequest request = Request("best");
    request.mutable_spec()->mutable_checkpoint()->set_keep_best_by(metric);
    absl::StatusOr<Job> job = api_->SubmitJob(request, Caller::Admin(""));
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }

  std::string root_;
};

TEST_F(StoredCheckpointTest, AJobWithNoneSaysWhy) {
  const Job queued = Submit("queued");
  EXPECT_EQ(Refusal(queued),
            "id: job " + queued.id() + " has no stored checkpoint (it has not started)");
  CancelAsAdmin(queued.id());
  EXPECT_EQ(Refusal(queued),
            "id: job " + queued.id() + " has no stored checkpoint (it ended before it started)");

  const Job ran = Submit("ran");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  ASSERT_EQ(State(ran.id()), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Refusal(ran),
            "id: job " + ran.id() + " has no stored checkpoint (it has not stored one yet)");
  Finish(session, ran, {{"eval_accuracy", 0.5}}, 20);
  EXPECT_EQ(Refusal(ran), "id: job " + ran.id() +
                              " has no stored checkpoint (none was stored for it: its worker's log "
                              "says why)");
}

TEST_F(StoredCheckpointTest, TheBestIsTheEarliestOfTheHighestAccuraciesAtCheckpointSteps) {
  const Job job = SubmitKeepingBestBy("eval_accuracy");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  Evaluations(session, job, "eval_accuracy", {{10, 0.6}, {20, 0.8}, {30, 0.8}, {40, 0.7}});
  const std::string twenty = job.id() + "/ckpt-000000000020.pt";
  EXPECT_EQ(Store(job, 10), job.id() + "/ckpt-000000000010.pt");
  EXPECT_EQ(Store(job, 20), twenty);
  EXPECT_EQ(Store(job, 25), twenty);  // no evaluation at step 25: not scored
  EXPECT_EQ(Store(job, 30), twenty);  // as good, later
  EXPECT_EQ(Store(job, 40), twenty);  // worse
  const polytrain::v1::BestCheckpoint best = Get(job.id()).best_checkpoint();
  EXPECT_EQ(best.path(), twenty);
  EXPECT_EQ(best.step(), 20);
  EXPECT_EQ(best.metric(), "eval_accuracy");
  EXPECT_EQ(best.value(), 0.8);
  EXPECT_EQ(Get(job.id()).checkpoint(), job.id() + "/ckpt-000000000040.pt");
  EXPECT_EQ(Download(job, /*best=*/true).value_or("?"), "step 20");
  EXPECT_EQ(Download(job, /*best=*/false).value_or("?"), "step 40");
}

TEST_F(StoredCheckpointTest, ALossNllOrEceIsBestLowestAndANanIsNeverBest) {
  const Job job = SubmitKeepingBestBy("eval_loss");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  Evaluations(session, job, "eval_loss", {{10, std::nan("")}, {20, 0.5}, {30, 0.3}, {40, 0.4}});
  EXPECT_EQ(Store(job, 10), "");
  EXPECT_EQ(Store(job, 20), job.id() + "/ckpt-000000000020.pt");
  EXPECT_EQ(Store(job, 30), job.id() + "/ckpt-000000000030.pt");
  EXPECT_EQ(Store(job, 40), job.id() + "/ckpt-000000000030.pt");
  EXPECT_EQ(Get(job.id()).best_checkpoint().value(), 0.3);
}

TEST_F(StoredCheckpointTest, AnEvaluationThatComesAfterItsCheckpointScoresIt) {
  // A final upload can go ahead of points held while the coordinator was away.
  const Job job = SubmitKeepingBestBy("eval_accuracy");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  Evaluations(session, job, "eval_accuracy", {{10, 0.5}});
  EXPECT_EQ(Store(job, 10), job.id() + "/ckpt-000000000010.pt");
  EXPECT_EQ(Store(job, 20), job.id() + "/ckpt-000000000010.pt");  // not scored yet
  Evaluations(session, job, "eval_accuracy", {{20, 0.75}});
  EXPECT_EQ(Get(job.id()).best_checkpoint().path(), job.id() + "/ckpt-000000000020.pt");
  EXPECT_EQ(Get(job.id()).best_checkpoint().value(), 0.75);
  EXPECT_EQ(Download(job, /*best=*/true).value_or("?"), "step 20");
}

TEST_F(StoredCheckpointTest, ADownloadOfTheBestSaysWhyThereIsNone) {
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel, /*slots=*/2);
  const Job plain = Submit("plain");
  // Before any checkpoint, as after: the best is what is asked for.
  EXPECT_EQ(Download(plain, /*best=*/true).status().message(),
            "best: job " + plain.id() +
                " keeps no best checkpoint (its spec.checkpoint.keep_best_by names no metric)");
  Store(plain, 10);
  EXPECT_EQ(Download(plain, /*best=*/true).status().message(),
            "best: job " + plain.id() +
                " keeps no best checkpoint (its spec.checkpoint.keep_best_by names no metric)");
  const Job unscored = SubmitKeepingBestBy("eval_nll");
  Evaluations(session, unscored, "eval_nll", {{10, 0.5}});
  EXPECT_EQ(Store(unscored, 5), "");
  EXPECT_EQ(Download(unscored, /*best=*/true).status().message(),
            "best: job " + unscored.id() +
                " has no checkpoint scored by eval_nll yet (none stored was taken at a step that "
                "evaluated, or the best was dropped when an attempt resumed from an earlier step)");
  // Damaged on disk: refused, never another served in its place.
  EXPECT_EQ(Store(unscored, 10), unscored.id() + "/ckpt-000000000010.pt");
  std::ofstream(root_ + "/" + unscored.id() + "/ckpt-000000000010.pt") << "step 11";
  const absl::Status damaged = Download(unscored, /*best=*/true).status();
  EXPECT_EQ(damaged.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(damaged.message(),
                               "best: job " + unscored.id() +
                                   "'s best checkpoint (step 10, eval_nll 0.5) is damaged or gone"))
      << damaged;
}

TEST_F(StoredCheckpointTest, AnAttemptResumingBeforeTheBestsStepUnsetsIt) {
  const Job job = SubmitKeepingBestBy("eval_accuracy");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  Evaluations(session, job, "eval_accuracy", {{10, 0.9}, {20, 0.5}});
  Store(job, 10);
  Store(job, 20);
  ResumeFrom(session, job, 10);  // its evaluation stays
  EXPECT_EQ(Get(job.id()).best_checkpoint().step(), 10);
  ResumeFrom(session, job, 5);  // its evaluation went with the steps past 5
  EXPECT_FALSE(Get(job.id()).has_best_checkpoint());
}

TEST_F(StoredCheckpointTest, AResumeDroppingTheBestScoresTheCheckpointItResumesFrom) {
  const Job job = SubmitKeepingBestBy("eval_accuracy");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  Evaluations(session, job, "eval_accuracy", {{10, 0.9}, {20, 0.5}});
  Store(job, 10);
  Evaluations(session, job, "eval_accuracy", {{30, 0.95}});
  Store(job, 30);  // the best; then the checkpoint of 30 is lost, and 20 is resumed from
  Store(job, 20);  // (an attempt that started over stores an older name: it is the newest)
  ResumeFrom(session, job, 20);
  const polytrain::v1::BestCheckpoint best = Get(job.id()).best_checkpoint();
  EXPECT_EQ(best.step(), 20);
  EXPECT_EQ(best.value(), 0.5);
}

// Review MED-2: an upload's file went in place before its attempt was checked again, so one of
// an attempt given up on replaced the next attempt's file of the same name, then was removed.
TEST_F(StoredCheckpointTest, AnUploadOfAnAttemptGivenUpOnReplacesNothing) {
  const Job job = Submit("stale", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/3);
  RecordingChannel first, second;
  Connect("w1", &first);
  ASSERT_TRUE(StoreAs(job, 1, 5, "attempt 1").ok());
  scheduler_->ExpireLeases(Later());  // attempt 1 is given up on, attempt 2 runs
  Connect("w2", &second);
  ASSERT_EQ(Get(job.id()).attempts(), 2);
  ASSERT_TRUE(StoreAs(job, 2, 5, "attempt 2").ok());

  const absl::Status stale = StoreAs(job, 1, 5, "attempt 1, late").status();
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition) << stale;
  EXPECT_EQ(Download(job, /*best=*/false).value_or("?"), "attempt 2");
  EXPECT_EQ(Get(job.id()).checkpoint(), job.id() + "/ckpt-000000000005.pt");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root_)) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name.find(".upload-") == std::string::npos &&
                name.find(".tmp-") == std::string::npos)
        << "left behind: " << entry.path();
  }
}

}  // namespace
}  // namespace polytrain
