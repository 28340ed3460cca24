// Coordinator.DownloadCheckpoint of a job with no stored checkpoint: NOT_FOUND, saying why as
// far as the coordinator knows it (not started, not yet, ended before it started, or ended with
// none: its worker's log says why).
#include <filesystem>
#include <string>

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

}  // namespace
}  // namespace polytrain
