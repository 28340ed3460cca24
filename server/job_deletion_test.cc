// Coordinator.DeleteJob: an ended job goes for good (record, labels, metric history), a job not
// ended is refused, and only its owner (or an admin) may delete it.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

TEST_F(CoordinatorTest, AnEndedJobIsDeletedWithItsHistoryAndOnlyByItsOwner) {
  const Caller alice = Caller::Client("alice"), bob = Caller::Client("bob");
  const Job job = Submit("to-delete", 0, polytrain::v1::DEVICE_CPU, 0, alice);
  polytrain::v1::DeleteJobRequest request;
  request.set_id(job.id());
  // Queued, then running: refused, and untouched.
  absl::StatusOr<polytrain::v1::DeleteJobResponse> refused = api_->DeleteJob(request, alice);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(),
            "id: job " + job.id() + " is queued; cancel it first, or wait for its end");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  ASSERT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(api_->DeleteJob(request, alice).status().code(), absl::StatusCode::kFailedPrecondition);
  polytrain::v1::WorkerMessage points;
  points.mutable_metrics()->set_job_id(job.id());
  points.mutable_metrics()->set_attempt(1);
  for (int64_t step : {10, 20, 30}) AddTrainPoint(points.mutable_metrics(), step);
  ASSERT_TRUE(protocol_->Handle(session, points).ok());
  Finish(session, job, {{"eval_accuracy", 0.5}}, 30);
  ASSERT_EQ(State(job.id()), polytrain::v1::JOB_STATE_SUCCEEDED);

  // Another client may not; a bad id is named.
  EXPECT_EQ(api_->DeleteJob(request, bob).status().code(), absl::StatusCode::kPermissionDenied);
  polytrain::v1::DeleteJobRequest bad;
  bad.set_id("a b");
  EXPECT_EQ(api_->DeleteJob(bad, alice).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(api_->DeleteJob(bad, alice).status().message().rfind("id: ", 0), 0u);

  absl::StatusOr<polytrain::v1::DeleteJobResponse> deleted = api_->DeleteJob(request, alice);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted().id(), job.id());
  EXPECT_EQ(deleted->deleted().state(), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(deleted->metric_points(), 3);
  EXPECT_EQ(deleted->checkpoint_files(), 0);  // this core has no artifact store

  // Gone: its record, its history, its place in lists; deleting it again is NOT_FOUND.
  polytrain::v1::GetJobRequest get;
  get.set_id(job.id());
  EXPECT_EQ(api_->GetJob(get, alice).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(api_->DeleteJob(request, alice).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(api_->ListJobs(polytrain::v1::ListJobsRequest(), alice)->jobs_size(), 0);
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> history =
      core_->store().GetMetrics(job.id());
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());
}

TEST_F(CoordinatorTest, AWatchWhoseJobIsDeletedMidHistoryEndsNotFoundNotShort) {
  const Job job = Submit("watched");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  polytrain::v1::WorkerMessage points;
  points.mutable_metrics()->set_job_id(job.id());
  points.mutable_metrics()->set_attempt(1);
  for (int64_t step : {10, 20, 30}) AddTrainPoint(points.mutable_metrics(), step);
  ASSERT_TRUE(protocol_->Handle(session, points).ok());
  Finish(session, job, {}, 30);
  const MetricKey through{30, polytrain::v1::MetricPoint::KIND_TRAIN};
  const MetricKey second{20, polytrain::v1::MetricPoint::KIND_TRAIN};
  // Pages of two: the whole history is two pages, the last one short but at `through`.
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> page =
      api_->WatchHistory(job.id(), std::nullopt, through, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  page = api_->WatchHistory(job.id(), second, through, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->size(), 1u);
  // Deleted between two pages: the next page says so, rather than ending the history early.
  polytrain::v1::DeleteJobRequest request;
  request.set_id(job.id());
  ASSERT_TRUE(api_->DeleteJob(request, kAdmin).ok());
  page = api_->WatchHistory(job.id(), second, through, 2);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(page.status().message(), "id: job " + job.id() + " was deleted while it was watched");
}

TEST_F(CoordinatorTest, DeletingAJobRemovesItsStoredCheckpointsAndNoOtherJobs) {
  const std::filesystem::path root =
      ::testing::TempDir() + "/job_deletion_artifacts_" + std::to_string(getpid());
  std::filesystem::remove_all(root);
  Scheduler::Options options;
  options.lease_thread = false;
  Open(options, {}, CoordinatorCore::Artifacts{root.string()});
  ASSERT_NE(core_->artifact_store(), nullptr);
  const Job deleted_job = Submit("deleted"), kept_job = Submit("kept");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel, /*slots=*/2);
  for (const Job& job : {deleted_job, kept_job}) {
    for (const char* name : {"ckpt-000000000010.pt", "ckpt-000000000020.pt"}) {
      absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> upload =
          core_->artifact_store()->Begin(job.id(), name);
      ASSERT_TRUE(upload.ok()) << upload.status();
      ASSERT_TRUE((*upload)->Append("weights").ok());
      ASSERT_TRUE((*upload)->CommitAsWritten().ok());
    }
    Finish(session, job, {{"eval_accuracy", 0.5}}, 20);
  }
  ASSERT_TRUE(std::filesystem::exists(root / deleted_job.id()));

  polytrain::v1::DeleteJobRequest request;
  request.set_id(deleted_job.id());
  absl::StatusOr<polytrain::v1::DeleteJobResponse> deleted =
      api_->DeleteJob(request, Caller::Admin(""));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->checkpoint_files(), 2);
  EXPECT_FALSE(std::filesystem::exists(root / deleted_job.id()));
  EXPECT_TRUE(core_->artifact_store()->FindIntact(kept_job.id() + "/ckpt-000000000020.pt").ok());
  core_.reset();
  std::filesystem::remove_all(root);
}

// Two DeleteJobs of one job at once (a DeleteSweep or retention beside one takes the same path,
// DeleteEndedJob): one is answered with every file it removed, the other NOT_FOUND (probe DI:
// the files' removal was split between them, and the one answered OK counted only its share).
TEST_F(CoordinatorTest, TwoDeletesOfOneJobAtOnceCountItsFilesOnce) {
  const std::filesystem::path root =
      ::testing::TempDir() + "/job_deletion_race_" + std::to_string(getpid());
  std::filesystem::remove_all(root);
  Scheduler::Options options;
  options.lease_thread = false;
  Open(options, {}, CoordinatorCore::Artifacts{root.string()});
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel);
  for (int round = 0; round < 20; ++round) {
    const Job job = Submit("raced");
    for (int step = 1; step <= 3; ++step) {
      absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> upload =
          core_->artifact_store()->Begin(job.id(),
                                         "ckpt-00000000000" + std::to_string(step) + ".pt");
      ASSERT_TRUE(upload.ok()) << upload.status();
      ASSERT_TRUE((*upload)->Append(std::string(4096, 'w')).ok());
      ASSERT_TRUE((*upload)->CommitAsWritten().ok());
    }
    Finish(session, job, {{"eval_accuracy", 0.5}}, 3);
    polytrain::v1::DeleteJobRequest request;
    request.set_id(job.id());
    std::atomic<bool> go{false};
    absl::StatusOr<polytrain::v1::DeleteJobResponse> answers[2];
    std::vector<std::thread> callers;
    for (auto& answer : answers) {
      callers.emplace_back([&] {
        while (!go.load()) {
        }
        answer = api_->DeleteJob(request, kAdmin);
      });
    }
    go = true;
    for (std::thread& caller : callers) caller.join();
    const int ok = answers[0].ok() ? 0 : 1;
    ASSERT_TRUE(answers[ok].ok()) << answers[ok].status();
    EXPECT_EQ(answers[ok]->checkpoint_files(), 3) << "round " << round;
    EXPECT_EQ(answers[1 - ok].status().code(), absl::StatusCode::kNotFound) << "round " << round;
    EXPECT_FALSE(std::filesystem::exists(root / job.id()));
  }
  core_.reset();
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace polytrain
