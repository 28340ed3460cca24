// Checkpoints nobody asked to keep (a service worker without --checkpoint_dir) are best effort:
// one that cannot be written is told, and the run goes on; asked-for ones fail the run.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

TEST(BestEffortCheckpointTest, AnUnwritableCheckpointFailsTheRunOnlyWhenAskedFor) {
  const std::string dir = testing_util::TempDir("best_effort");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/a-file") << "not a directory";
  const polytrain::v1::JobSpec spec = testing_util::Spec(
      "name: 'ck' model { mlp { hidden: [8] } } dataset { synthetic { classes: 3 features: 4 "
      "train_samples: 60 test_samples: 30 } } loss { cross_entropy {} } optimizer { sgd {} "
      "learning_rate: 0.1 } epochs: 1 batch_size: 20 seed: 2");
  TrainerOptions options;
  options.checkpoint_dir = dir + "/a-file/ckpt";
  const absl::StatusOr<TrainingSummary> asked = testing_util::Train(spec, options);
  EXPECT_FALSE(asked.ok());
  options.checkpoints_best_effort = true;
  const absl::StatusOr<TrainingSummary> best_effort = testing_util::Train(spec, options);
  ASSERT_TRUE(best_effort.ok()) << best_effort.status();
  EXPECT_EQ(best_effort->steps, 3);
  EXPECT_EQ(best_effort->checkpoint_failures.size(), 1u);  // the last, its only checkpoint
  EXPECT_EQ(best_effort->last_checkpoint, "");
  std::filesystem::remove_all(dir);
}

// A full disk under the checkpoint directory is an error the run reports, not the end of the
// worker process (probe CG: LibTorch's file writer threw from a destructor, and the worker with
// every job on it aborted). The temporary file is linked to /dev/full, whose writes fail with
// ENOSPC, as a full disk's do.
TEST(BestEffortCheckpointTest, AFullDiskFailsTheCheckpointNotTheProcess) {
  const std::string dir = testing_util::TempDir("full_disk");
  std::filesystem::create_directories(dir);
  const std::string temp = dir + "/ckpt-000000000003.pt.tmp";
  const polytrain::v1::JobSpec spec = testing_util::Spec(
      "name: 'ck' model { mlp { hidden: [8] } } dataset { synthetic { classes: 3 features: 4 "
      "train_samples: 60 test_samples: 30 } } loss { cross_entropy {} } optimizer { sgd {} "
      "learning_rate: 0.1 } epochs: 1 batch_size: 20 seed: 2");
  TrainerOptions options;
  options.checkpoint_dir = dir;
  std::filesystem::create_symlink("/dev/full", temp);
  const absl::StatusOr<TrainingSummary> asked = testing_util::Train(spec, options);
  EXPECT_EQ(asked.status(),
            absl::ResourceExhaustedError(absl::StrCat(
                "saving checkpoint ", dir,
                "/ckpt-000000000003.pt: the disk of the checkpoint directory is full (No space "
                "left on device)")));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(temp)));  // removed
  EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt-000000000003.pt"));

  std::filesystem::create_symlink("/dev/full", temp);
  options.checkpoints_best_effort = true;
  const absl::StatusOr<TrainingSummary> best_effort = testing_util::Train(spec, options);
  ASSERT_TRUE(best_effort.ok()) << best_effort.status();
  EXPECT_EQ(best_effort->steps, 3);
  ASSERT_EQ(best_effort->checkpoint_failures.size(), 1u);
  EXPECT_NE(
      best_effort->checkpoint_failures[0].find("the disk of the checkpoint directory is full"),
      std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace polytrain
