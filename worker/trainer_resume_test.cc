// Checkpoints and resumption: a run resumed from its checkpoint (mid-epoch, at an epoch's end,
// with BatchNorm, augmentation, a drain's release or a search trial's rungs) ends exactly where
// an uninterrupted one does; damaged or foreign checkpoints are passed over or refused.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::v1::JobSpec;
using polytrain::v1::MetricPoint;
using testing_util::ExpectResumeIsExact;
using testing_util::ExpectSameWeights;
using testing_util::kSyntheticMlpSpec;
using testing_util::ModelState;
using testing_util::Spec;
using testing_util::TempDir;
using testing_util::Train;
using testing_util::VectorSink;

TEST(TrainerTest, ResumeEqualsUninterruptedMlpWithDropoutAndMomentum) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.mutable_checkpoint()->set_every_steps(7);
  ExpectResumeIsExact(spec, 56);  // mid-epoch 1, on a checkpoint
}

TEST(TrainerTest, ResumeEqualsUninterruptedResNetWithBatchNormAndAdam) {
  const JobSpec spec = Spec(R"(
    name: "resnet"
    model { resnet { stage_channels: [4, 8] } }
    dataset { fashion_mnist {} train_limit: 256 test_limit: 128 }
    loss { poly_focal { gamma: 2 epsilons: [1] } label_smoothing: 0.1 }
    optimizer { adamw {} learning_rate: 0.003 weight_decay: 0.01 }
    epochs: 2
    batch_size: 32
    seed: 5
    checkpoint { every_epochs: 1 }
  )");
  ExpectResumeIsExact(spec, 8);  // the end of epoch 0
}

TEST(TrainerTest, ResumeEqualsUninterruptedWithAugmentationAndNormalization) {
  const JobSpec spec = Spec(R"(
    name: "augmented"
    model { cnn { channels: [4] hidden: 16 } }
    dataset {
      fashion_mnist {}
      train_limit: 256
      test_limit: 64
      augment { random_crop_padding: 2 horizontal_flip: true }
      normalize { mean: [0.1] std: [1.5] }
    }
    loss { poly1 { epsilon: 1 } }
    optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
    epochs: 2
    batch_size: 32
    seed: 9
    checkpoint { every_steps: 5 }
  )");
  ExpectResumeIsExact(spec, 10);  // mid-epoch 1
}

TEST(TrainerTest, CheckpointsKeepTheLastN) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.mutable_checkpoint()->set_every_steps(10);
  spec.mutable_checkpoint()->set_keep_last(3);
  TrainerOptions options;
  options.checkpoint_dir = TempDir("keep");
  absl::StatusOr<TrainingSummary> summary = Train(spec, options);
  ASSERT_TRUE(summary.ok());
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(options.checkpoint_dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"ckpt-000000000130.pt", "ckpt-000000000130.pt.crc32",
                                      "ckpt-000000000140.pt", "ckpt-000000000140.pt.crc32",
                                      "ckpt-000000000141.pt", "ckpt-000000000141.pt.crc32"}));
  fs::remove_all(options.checkpoint_dir);
}

std::set<std::string> CheckpointNames(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".pt") names.insert(entry.path().filename().string());
  }
  return names;
}

// keep_best_by in a standalone run: the best by the evaluations at checkpoint steps (recomputed
// here from the run's points) is kept beside the keep_last newest.
TEST(TrainerTest, AStandaloneRunKeepsItsBestCheckpointBesideTheNewest) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.mutable_eval()->set_every_steps(10);
  spec.mutable_checkpoint()->set_every_steps(10);
  spec.mutable_checkpoint()->set_keep_last(2);
  spec.mutable_checkpoint()->set_keep_best_by("eval_ece");  // lower is better; not monotonic
  TrainerOptions options;
  options.checkpoint_dir = TempDir("best");
  options.keep_best_checkpoint = true;
  VectorSink sink;
  options.sink = &sink;
  absl::StatusOr<TrainingSummary> summary = Train(spec, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  int64_t best_step = -1;
  double best_value = 0;
  for (const MetricPoint& point : sink.points) {
    // Evaluations also come at each epoch's end (47, 94): steps with no checkpoint.
    if (point.kind() != MetricPoint::KIND_EVAL || (point.step() % 10 && point.step() != 141)) {
      continue;
    }
    const double value = point.values().at("eval_ece");
    if (best_step < 0 || value < best_value) best_step = point.step(), best_value = value;
  }
  EXPECT_EQ(summary->best_checkpoint.step(), best_step);
  EXPECT_EQ(summary->best_checkpoint.value(), best_value);
  EXPECT_EQ(summary->best_checkpoint.path(),
            options.checkpoint_dir + absl::StrFormat("/ckpt-%012d.pt", best_step));
  std::set<std::string> expected = {"ckpt-000000000140.pt", "ckpt-000000000141.pt",
                                    absl::StrFormat("ckpt-%012d.pt", best_step)};
  EXPECT_EQ(CheckpointNames(options.checkpoint_dir), expected);
  fs::remove_all(options.checkpoint_dir);
}

// With a learning rate too small to change a weight, every evaluation is equal: the first
// checkpoint stays the best across a resume (recorded in the directory), and is never pruned.
TEST(TrainerTest, AResumedStandaloneRunGoesOnWithTheBestOfTheRunBefore) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.mutable_optimizer()->set_learning_rate(1e-30);
  spec.mutable_eval()->set_every_steps(10);
  spec.mutable_checkpoint()->set_every_steps(10);
  spec.mutable_checkpoint()->set_keep_last(2);
  spec.mutable_checkpoint()->set_keep_best_by("eval_accuracy");
  TrainerOptions first;
  first.checkpoint_dir = TempDir("best-resumed");
  first.keep_best_checkpoint = true;
  first.stop_after_steps = 50;
  ASSERT_TRUE(Train(spec, first).ok());
  TrainerOptions second = first;
  second.stop_after_steps = 0;
  second.resume = true;
  absl::StatusOr<TrainingSummary> summary = Train(spec, second);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->resumed);
  EXPECT_EQ(summary->best_checkpoint.step(), 10);
  EXPECT_EQ(CheckpointNames(first.checkpoint_dir),
            (std::set<std::string>{"ckpt-000000000010.pt", "ckpt-000000000140.pt",
                                   "ckpt-000000000141.pt"}));
  fs::remove_all(first.checkpoint_dir);
}

// A damaged newest checkpoint (a flipped byte) is passed over: the run resumes from the one
// before it and still ends exactly where an uninterrupted run ends.
TEST(TrainerTest, ADamagedCheckpointIsPassedOverForThePreviousIntactOne) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.mutable_checkpoint()->set_every_steps(10);
  ModelState uninterrupted;
  ASSERT_TRUE(Train(spec, TrainerOptions(), &uninterrupted).ok());

  TrainerOptions first;
  first.checkpoint_dir = TempDir("damaged");
  first.stop_after_steps = 30;
  ASSERT_TRUE(Train(spec, first).ok());
  const fs::path newest = fs::path(first.checkpoint_dir) / "ckpt-000000000030.pt";
  {
    std::fstream file(newest, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(fs::file_size(newest) / 2));
    const char byte = static_cast<char>(file.get());
    file.seekp(static_cast<std::streamoff>(fs::file_size(newest) / 2));
    file.put(static_cast<char>(byte ^ 0x10));
  }

  TrainerOptions second;
  second.checkpoint_dir = first.checkpoint_dir;
  second.resume = true;
  VectorSink sink;
  second.sink = &sink;
  int64_t started_at = -1;
  size_t points_before_start = 0;
  second.on_start = [&](int64_t step) {
    started_at = step;
    points_before_start = sink.points.size();
  };
  ModelState resumed;
  absl::StatusOr<TrainingSummary> summary = Train(spec, second, &resumed);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->resumed_from_step, 20);
  EXPECT_EQ(started_at, 20);
  EXPECT_EQ(points_before_start, 0u);
  ASSERT_EQ(summary->passed_over_checkpoints.size(), 1u);
  EXPECT_NE(summary->passed_over_checkpoints[0].find("ckpt-000000000030.pt: "), std::string::npos)
      << summary->passed_over_checkpoints[0];
  EXPECT_TRUE(fs::exists(newest.string() + ".corrupt"));
  ExpectSameWeights(uninterrupted, resumed);
  fs::remove_all(first.checkpoint_dir);
}

TEST(TrainerTest, AnIntactFileThatIsNotThisModelsCheckpointIsRefused) {
  TrainerOptions options;
  options.checkpoint_dir = TempDir("foreign");
  options.resume = true;
  fs::create_directories(options.checkpoint_dir);
  const std::string path = options.checkpoint_dir + "/ckpt-000000000010.pt";
  std::ofstream(path) << "not a checkpoint";
  ASSERT_TRUE(RecordCheckpointChecksum(path, *ComputeFileChecksum(path)).ok());
  absl::StatusOr<TrainingSummary> summary = Train(Spec(kSyntheticMlpSpec), options);
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(summary.status().message().find("not a checkpoint of this job's model"),
            std::string::npos);
  fs::remove_all(options.checkpoint_dir);
}

TEST(TrainerTest, ACheckpointOfAnotherRunOfTheSameModelIsRefusedNamingTheField) {
  TrainerOptions options;
  options.checkpoint_dir = TempDir("another-run");
  JobSpec first = Spec(kSyntheticMlpSpec);
  first.set_epochs(1);
  ASSERT_TRUE(Train(first, options).ok());
  options.resume = true;
  // The same model, another loss: its weights would pass for this run's.
  JobSpec other = first;
  other.mutable_loss()->mutable_cross_entropy();
  absl::StatusOr<TrainingSummary> refused = Train(other, options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find(
                ": a checkpoint of another run: its spec.loss differs from this one's"),
            std::string::npos)
      << refused.status();
  other = first;
  other.set_seed(first.seed() + 1);
  EXPECT_NE(Train(other, options).status().message().find("its spec.seed differs"),
            std::string::npos);
  other = first;
  other.set_drop_last(true);  // another count of steps per epoch
  EXPECT_NE(Train(other, options).status().message().find("its spec.drop_last differs"),
            std::string::npos);
  // What may change: the name, and more epochs to train on.
  other = first;
  other.set_name("renamed");
  other.set_epochs(2);
  absl::StatusOr<TrainingSummary> continued = Train(other, options);
  ASSERT_TRUE(continued.ok()) << continued.status();
  EXPECT_GT(continued->resumed_from_step, 0);
  fs::remove_all(options.checkpoint_dir);
}

// Keeps every point, and asks for a release (as a draining worker does) at a given train point.
class ReleasingSink : public VectorSink {
 public:
  ReleasingSink(std::atomic<bool>* release, int64_t at_step)
      : release_(release), at_step_(at_step) {}
  void Emit(const MetricPoint& point) override {
    VectorSink::Emit(point);
    if (point.kind() == MetricPoint::KIND_TRAIN && point.step() == at_step_) *release_ = true;
  }

 private:
  std::atomic<bool>* release_;
  int64_t at_step_;
};

TEST(TrainerTest, AReleaseCheckpointsWhereItsLoggingWindowEndsAndTheResumeIsExact) {
  const JobSpec spec = Spec(kSyntheticMlpSpec);  // logs every 5 steps; no periodic checkpoints
  VectorSink reference_sink;
  TrainerOptions plain;
  plain.sink = &reference_sink;
  ModelState uninterrupted;
  ASSERT_TRUE(Train(spec, plain, &uninterrupted).ok());

  std::atomic<bool> release{false};
  ReleasingSink sink(&release, 10);
  const std::string dir = TempDir("released");
  TrainerOptions first;
  first.checkpoint_dir = dir;
  first.release = &release;
  first.sink = &sink;
  absl::StatusOr<TrainingSummary> released = Train(spec, first);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_TRUE(released->released);
  EXPECT_EQ(released->steps, 10);
  EXPECT_NE(released->last_checkpoint.find("ckpt-000000000010.pt"), std::string::npos)
      << released->last_checkpoint;

  release = false;
  TrainerOptions second = first;
  second.resume = true;
  ModelState resumed_state;
  absl::StatusOr<TrainingSummary> resumed = Train(spec, second, &resumed_state);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_FALSE(resumed->released);
  EXPECT_EQ(resumed->resumed_from_step, 10);
  ExpectSameWeights(uninterrupted, resumed_state);
  // Both attempts' points together are the uninterrupted run's: no window was cut in two.
  ASSERT_EQ(sink.points.size(), reference_sink.points.size());
  for (size_t i = 0; i < sink.points.size(); ++i) {
    EXPECT_EQ(sink.points[i].step(), reference_sink.points[i].step()) << "point " << i;
    for (const char* key : {"loss", "accuracy", "eval_loss"}) {
      const auto& actual = sink.points[i].values();
      const auto& expected = reference_sink.points[i].values();
      ASSERT_EQ(actual.count(key), expected.count(key)) << key << " at point " << i;
      if (actual.count(key) != 0) {
        EXPECT_EQ(actual.at(key), expected.at(key)) << key;
      }
    }
  }
  std::filesystem::remove_all(dir);

  // Released before its first step: nothing trained, so nothing to checkpoint.
  release = true;
  const std::string untouched = TempDir("released_at_once");
  TrainerOptions at_once;
  at_once.checkpoint_dir = untouched;
  at_once.release = &release;
  released = Train(spec, at_once);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_TRUE(released->released);
  EXPECT_EQ(released->steps, 0);
  EXPECT_TRUE(released->last_checkpoint.empty());
  std::filesystem::remove_all(untouched);

  // A run that writes no checkpoints stops at once, as on a cancel.
  TrainerOptions nowhere;
  nowhere.release = &release;
  absl::StatusOr<TrainingSummary> stopped = Train(spec, nowhere);
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(stopped.status().message(), "released at step 0");
}

// A search trial pauses at its rung with an evaluation and a checkpoint there, and a promotion
// resumes from that checkpoint: rung by rung, the same weights and accuracy as one run.
TEST(TrainerTest, ASearchTrialPausesAtItsRungsAndResumesExactly) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.set_epochs(3);
  ModelState uninterrupted;
  absl::StatusOr<TrainingSummary> reference = Train(spec, TrainerOptions(), &uninterrupted);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const int64_t steps_per_epoch = reference->steps / 3;

  const std::string dir = TempDir("trial");
  TrainerOptions rung0;
  rung0.checkpoint_dir = dir;
  rung0.pause_at_epoch = 1;
  absl::StatusOr<TrainingSummary> paused = Train(spec, rung0);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_TRUE(paused->paused);
  EXPECT_EQ(paused->steps, steps_per_epoch);
  EXPECT_EQ(paused->final_metrics.count("eval_accuracy"), 1u);  // the rung's evaluation
  EXPECT_NE(paused->last_checkpoint.find(absl::StrFormat("ckpt-%012d.pt", steps_per_epoch)),
            std::string::npos)
      << paused->last_checkpoint;

  TrainerOptions rung1 = rung0;
  rung1.resume = true;
  rung1.pause_at_epoch = 0;
  rung1.pause_at_step = steps_per_epoch + 3;  // a rung in steps, mid-epoch
  paused = Train(spec, rung1);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_TRUE(paused->paused);
  EXPECT_EQ(paused->resumed_from_step, steps_per_epoch);
  EXPECT_EQ(paused->steps, steps_per_epoch + 3);

  TrainerOptions last = rung1;
  last.pause_at_step = reference->steps;  // at the end: no pause
  ModelState resumed;
  absl::StatusOr<TrainingSummary> finished = Train(spec, last, &resumed);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_FALSE(finished->paused);
  EXPECT_EQ(finished->steps, reference->steps);
  ExpectSameWeights(uninterrupted, resumed);
  EXPECT_EQ(finished->final_metrics.at("eval_accuracy"),
            reference->final_metrics.at("eval_accuracy"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace polytrain
