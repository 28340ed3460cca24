// Checkpoints nobody asked to keep (a service worker without --checkpoint_dir) are best effort:
// one that cannot be written is told, and the run goes on; asked-for ones fail the run.
#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace polytrain
